"""`read_rows`, the hot reads' way to the database: on PostgreSQL a GET
request's session runs them on the driver connection; in a transaction they
must still run inside it and see its own writes."""

from sqlalchemy import bindparam, select

from app.core.database import make_read_sessionmaker, make_sessionmaker, read_rows
from app.models import Company

BY_ID = select(Company.id, Company.name, Company.timezone).where(Company.id == bindparam("company_id"))


async def test_a_read_in_a_get_requests_session_answers_the_rows(backend):
    await backend.clean()
    await backend.execute("INSERT INTO companies (id, name, timezone) VALUES (1, 'Acme', 'Europe/Berlin')")
    reader = make_read_sessionmaker(backend.engine, backend.settings())
    async with reader() as session:
        assert [tuple(r) for r in await read_rows(session, BY_ID, {"company_id": 1})] == [
            (1, "Acme", "Europe/Berlin")]
        assert list(await read_rows(session, BY_ID, {"company_id": 2})) == []


async def test_a_read_in_a_write_transaction_sees_that_transactions_own_rows(backend):
    await backend.clean()
    writer = make_sessionmaker(backend.engine)
    async with writer() as session, session.begin():
        session.add(Company(id=3, name="Not committed yet", timezone="UTC"))
        await session.flush()
        assert [tuple(r) for r in await read_rows(session, BY_ID, {"company_id": 3})] == [
            (3, "Not committed yet", "UTC")]
        await session.rollback()
    assert await backend.scalar("SELECT count(*) FROM companies") == 0
