"""app/core/sqlite_driver.py: SQLite's statements in fewer trips to the
connection's thread, with everything SQLAlchemy reads of a cursor intact
(rows, counts, last row ids, errors), on an engine built the way the service
builds it."""

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import create_engine
from app.core.settings import Settings
from app.core.sqlite_driver import DRIVER

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String, nullable=False, unique=True),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def test_the_service_runs_sqlite_urls_on_the_fewer_trips_dialect(engine):
    assert engine.dialect.name == "sqlite"
    assert engine.dialect.driver == DRIVER


async def test_rows_come_back_whole_and_in_order(engine):
    async with engine.begin() as conn:
        await conn.execute(insert(notes), [{"title": t} for t in ("a", "b", "c")])
        everything = (await conn.execute(select(notes.c.id, notes.c.title).order_by(notes.c.id))).all()
        nothing = (await conn.execute(select(notes.c.id).where(notes.c.title == "z"))).all()
        some = await conn.execute(select(notes.c.title).order_by(notes.c.title))
        first_two = some.fetchmany(2)
        rest = some.fetchall()
    assert [(row.id, row.title) for row in everything] == [(1, "a"), (2, "b"), (3, "c")]
    assert nothing == []
    assert [row.title for row in first_two] == ["a", "b"]
    assert [row.title for row in rest] == ["c"]


async def test_counts_and_row_ids_are_those_sqlite_gives(engine):
    async with engine.begin() as conn:
        added = await conn.execute(insert(notes), [{"title": t} for t in ("a", "b", "c")])
        one = await conn.execute(insert(notes).values(title="d"))
        returned = await conn.execute(insert(notes).values(title="e").returning(notes.c.id, notes.c.title))
        changed = await conn.execute(
            update(notes).where(notes.c.title.in_(["a", "b"])).values(title=notes.c.title + "!")
        )
        untouched = await conn.execute(update(notes).where(notes.c.title == "z").values(title="y"))
        assert added.rowcount == 3
        assert one.lastrowid == 4
        assert [tuple(row) for row in returned] == [(5, "e")]
        assert changed.rowcount == 2
        assert untouched.rowcount == 0
        titles = (await conn.execute(select(notes.c.title).order_by(notes.c.id))).scalars().all()
    assert titles == ["a!", "b!", "c", "d", "e"]


async def test_a_constraint_violation_is_sqlalchemys_integrity_error_and_writes_nothing(engine):
    async with engine.begin() as conn:
        await conn.execute(insert(notes).values(title="a"))
    async with engine.connect() as conn:
        await conn.begin()
        await conn.execute(insert(notes).values(title="b"))
        with pytest.raises(IntegrityError, match=r"UNIQUE constraint failed: notes\.title"):
            await conn.execute(insert(notes).values(title="a"))
        await conn.rollback()
    async with engine.connect() as conn:
        assert (await conn.execute(select(notes.c.title))).scalars().all() == ["a"]


async def test_the_connection_keeps_its_settings_and_sqlalchemys_functions(engine):
    async with engine.connect() as conn:
        assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
        assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
        # REGEXP is a Python function SQLAlchemy's SQLite dialect registers on each connection.
        assert await conn.scalar(text("SELECT 'abc' REGEXP 'b'")) == 1


async def test_a_closed_connection_is_a_disconnect_and_is_replaced(engine):
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.close()
        with pytest.raises(OperationalError, match=r"no active connection|Connection closed") as raised:
            await conn.execute(text("SELECT 1"))
        assert raised.value.connection_invalidated
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1


def test_a_process_that_never_disposed_its_engine_still_exits(tmp_path: Path):
    """aiosqlite's threads are not daemons by default; SQLAlchemy's connect
    makes them so, and this dialect connects through it. Otherwise a command
    that failed before disposing its engine would hang at exit."""
    script = (
        "import asyncio\n"
        "from sqlalchemy import text\n"
        "from app.core.database import create_engine\n"
        "from app.core.settings import Settings\n"
        f"engine = create_engine(Settings(database_url='sqlite+aiosqlite:///{tmp_path / 'left.db'}'))\n"
        "async def main():\n"
        "    async with engine.connect() as conn:\n"
        "        print(await conn.scalar(text('SELECT 41 + 1')))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
