"""The Alembic migrations: up from empty, down to base and up again, on a
fresh SQLite file and a fresh PostgreSQL database; the migrated schema
matches the models; and the database itself enforces the duplicate and
end-after-start rules."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from app.cli import alembic_config
from app.core.database import create_engine
from app.core.settings import Settings
from app.models import Base
from tests.conftest import IN_CI, PG_ADMIN_URL, _pg_reachable
from tests.factories import log, seed

APP_TABLES = {"companies", "employees", "projects", "tasks", "task_logs", "notifications"}


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database of our own with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    problem = await _pg_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    name = f"tasklogs_migr_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def on_connection(url: str, work: Any) -> Any:
    """Run `work(sync_connection)` on the database and commit, as `migrate_to_head` does."""
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            result = await conn.run_sync(work)
            await conn.commit()
        return result
    finally:
        await engine.dispose()


async def migrate(url: str, direction: str, target: str) -> None:
    cfg = alembic_config()

    def run(sync_conn: Any) -> None:
        cfg.attributes["connection"] = sync_conn
        getattr(command, direction)(cfg, target)

    await on_connection(url, run)


async def tables(url: str) -> set[str]:
    return set(await on_connection(url, lambda c: inspect(c).get_table_names()))


async def schema_differences(url: str) -> list[Any]:
    def compare(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True, "compare_server_default": False})
        return compare_metadata(context, Base.metadata)

    return await on_connection(url, compare)


async def current_revision(url: str) -> str | None:
    return await on_connection(url, lambda c: MigrationContext.configure(c).get_current_revision())


async def test_upgrade_from_empty_to_head_creates_every_table(empty_database):
    assert await tables(empty_database) & APP_TABLES == set()
    await migrate(empty_database, "upgrade", "head")
    assert await tables(empty_database) >= APP_TABLES
    assert await current_revision(empty_database) is not None


async def test_downgrade_to_base_and_upgrade_again(empty_database):
    await migrate(empty_database, "upgrade", "head")
    head = await current_revision(empty_database)
    await migrate(empty_database, "downgrade", "base")
    assert await tables(empty_database) & APP_TABLES == set()
    assert await current_revision(empty_database) is None
    await migrate(empty_database, "upgrade", "head")
    assert await tables(empty_database) >= APP_TABLES
    assert await current_revision(empty_database) == head
    assert await schema_differences(empty_database) == []


async def test_migrated_schema_matches_the_models(empty_database):
    await migrate(empty_database, "upgrade", "head")
    assert await schema_differences(empty_database) == []


async def test_upgrade_to_head_twice_changes_nothing(empty_database):
    await migrate(empty_database, "upgrade", "head")
    await migrate(empty_database, "upgrade", "head")
    assert await schema_differences(empty_database) == []


async def test_keys_made_before_0008_keep_working_without_expiry_or_own_limit(empty_database):
    await migrate(empty_database, "upgrade", "0007")

    def add_key(c: Any) -> None:
        c.execute(text("INSERT INTO api_keys (name, key_hash, prefix) VALUES ('old', :h, 'tlk_old')"), {"h": "0" * 64})

    await on_connection(empty_database, add_key)
    await migrate(empty_database, "upgrade", "head")
    columns = "expires_at, last_used_at, rate_limit_per_minute"

    def read_key(c: Any) -> Any:
        return c.execute(text(f"SELECT {columns} FROM api_keys WHERE name = 'old'")).one()

    assert tuple(await on_connection(empty_database, read_key)) == (None, None, None)
    await migrate(empty_database, "downgrade", "0007")
    assert (await on_connection(empty_database, lambda c: c.execute(text("SELECT name FROM api_keys")).all())) == [
        ("old",)
    ]


# A company with one logged hour, its history, a webhook and a queued
# delivery of the log's event, in the schema of migration 0011: the tables
# that later migrations copy on SQLite (companies in 0012, outbox_events in
# 0013) and the rows that refer to them.
ROWS_AT_0011 = [
    "INSERT INTO companies (id, name) VALUES (1, 'Acme')",
    "INSERT INTO employees (id, company_id, name) VALUES (10, 1, 'Ada')",
    "INSERT INTO projects (id, company_id, name) VALUES (20, 1, 'Apollo')",
    "INSERT INTO tasks (id, project_id, name) VALUES (30, 20, 'Design')",
    "INSERT INTO task_logs (id, task_id, user_id, start_time, end_time) "
    "VALUES (40, 30, 10, '2024-10-01 09:00:00', '2024-10-01 10:00:00')",
    "INSERT INTO task_log_changes (seq, task_log_id, company_id, action, version, actor) "
    "VALUES (50, 40, 1, 'create', 1, 'employee:10')",
    "INSERT INTO webhooks (id, company_id, url, events, secret) "
    "VALUES (60, 1, 'https://example.com/h', '[\"*\"]', 's')",
    "INSERT INTO outbox_events (id, type, company_id, task_log_id, change_seq) "
    "VALUES (70, 'tasklog.created', 1, 40, 50)",
    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, next_attempt_at) "
    "VALUES (80, 60, 70, '2024-10-01 10:00:01')",
]
TABLES_AT_0011 = ["companies", "employees", "projects", "tasks", "task_logs", "task_log_changes"]
TABLES_AT_0011 += ["webhooks", "outbox_events", "webhook_deliveries"]


async def row_counts(url: str) -> dict[str, int]:
    return await on_connection(
        url, lambda c: {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES_AT_0011}
    )


async def test_upgrading_a_database_that_holds_data_keeps_every_row(empty_database):
    """SQLite alters a table by copying it and dropping the original; with
    foreign keys on, the drop would delete or refuse the rows that refer to
    it. Upgrading a database of 0011 with data failed at 0012 on SQLite
    ("FOREIGN KEY constraint failed") until migrations ran with them off."""
    await migrate(empty_database, "upgrade", "0011")
    await on_connection(empty_database, lambda c: [c.execute(text(sql)) for sql in ROWS_AT_0011])
    assert await row_counts(empty_database) == dict.fromkeys(TABLES_AT_0011, 1)

    await migrate(empty_database, "upgrade", "head")
    assert await row_counts(empty_database) == dict.fromkeys(TABLES_AT_0011, 1)
    assert await schema_differences(empty_database) == []

    await migrate(empty_database, "downgrade", "0011")
    assert await row_counts(empty_database) == dict.fromkeys(TABLES_AT_0011, 1)


async def test_sqlite_migrations_leave_foreign_keys_on(empty_database):
    """The app's connections enforce foreign keys; a migration switches them
    off only while it runs."""
    if not empty_database.startswith("sqlite"):
        pytest.skip("PostgreSQL always enforces foreign keys")
    cfg = alembic_config()

    def upgrade_and_read_the_pragma(sync_conn: Any) -> Any:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")
        return sync_conn.execute(text("PRAGMA foreign_keys")).scalar()

    assert await on_connection(empty_database, upgrade_and_read_the_pragma) == 1


async def test_an_outbox_event_needs_no_history_row_from_0013(empty_database):
    """0013 dropped the outbox's foreign key into the history; what a write
    sends is still checked by the other constraints."""
    await migrate(empty_database, "upgrade", "0012")
    await on_connection(empty_database, lambda c: [c.execute(text(sql)) for sql in ROWS_AT_0011])
    orphan = (
        "INSERT INTO outbox_events (type, company_id, task_log_id, change_seq) VALUES ('tasklog.created', 1, 40, 999)"
    )
    with pytest.raises(IntegrityError):
        await on_connection(empty_database, lambda c: c.execute(text(orphan)))

    await migrate(empty_database, "upgrade", "0013")
    await on_connection(empty_database, lambda c: c.execute(text(orphan)))
    no_data = "INSERT INTO outbox_events (type, company_id) VALUES ('tasklog.created', 1)"
    with pytest.raises(IntegrityError):  # an event has its data or its change, still
        await on_connection(empty_database, lambda c: c.execute(text(no_data)))


async def test_ids_of_pruned_outbox_events_are_not_given_again_after_0013(empty_database):
    """SQLite's copy of the table keeps AUTOINCREMENT's highest id given."""
    await migrate(empty_database, "upgrade", "0012")
    event = "INSERT INTO outbox_events (type, company_id, data) VALUES ('webhook.test', 1, '{}')"
    await on_connection(empty_database, lambda c: [c.execute(text(event)) for _ in range(3)])
    highest = await on_connection(
        empty_database, lambda c: c.execute(text("SELECT max(id) FROM outbox_events")).scalar()
    )
    await on_connection(empty_database, lambda c: c.execute(text(f"DELETE FROM outbox_events WHERE id = {highest}")))

    await migrate(empty_database, "upgrade", "0013")
    await on_connection(empty_database, lambda c: c.execute(text(event)))
    newest = await on_connection(
        empty_database, lambda c: c.execute(text("SELECT max(id) FROM outbox_events")).scalar()
    )
    assert newest > highest


# ---------------------------------------------------------------- constraints


async def raw_insert(backend: Any, sql: str, **params: Any) -> None:
    """Plain SQL on a connection configured as the app's (SQLite: foreign keys on)."""
    engine = create_engine(backend.settings())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params)
    finally:
        await engine.dispose()


async def stored_log(client: Any) -> int:
    await seed(client)
    response = await client.post("/tasklog/create/", json=log())
    assert response.status_code == 200, response.text
    return response.json()["data"]["taskLogId"]


async def test_database_rejects_a_raw_duplicate_of_task_user_and_start(client, backend):
    log_id = await stored_log(client)
    with pytest.raises(IntegrityError):
        await raw_insert(
            backend,
            "INSERT INTO task_logs (task_id, user_id, start_time, end_time, description, manual_add) "
            "SELECT task_id, user_id, start_time, end_time, 'copy', manual_add FROM task_logs WHERE id = :id",
            id=log_id,
        )
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


@pytest.mark.parametrize(
    "times", ["end_time, start_time", "end_time, end_time"], ids=["end-before-start", "end-equals-start"]
)
async def test_database_rejects_a_raw_log_not_ending_after_it_starts(client, backend, times):
    log_id = await stored_log(client)
    with pytest.raises(IntegrityError):
        await raw_insert(
            backend,
            "INSERT INTO task_logs (task_id, user_id, start_time, end_time, description, manual_add) "
            f"SELECT task_id, user_id, {times}, '', manual_add FROM task_logs WHERE id = :id",
            id=log_id,
        )
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


async def test_database_accepts_a_raw_log_with_a_new_key(client, backend):
    """The two tests above fail for the constraint, not for the statement."""
    log_id = await stored_log(client)
    await raw_insert(
        backend,
        "INSERT INTO task_logs (task_id, user_id, start_time, end_time, description, manual_add) "
        "SELECT 251, user_id, start_time, end_time, 'copy', manual_add FROM task_logs WHERE id = :id",
        id=log_id,
    )
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 2


async def test_database_rejects_a_log_of_an_unknown_task(client, backend):
    log_id = await stored_log(client)
    with pytest.raises(IntegrityError):
        await raw_insert(
            backend,
            "INSERT INTO task_logs (task_id, user_id, start_time, end_time, description, manual_add) "
            "SELECT 99999, user_id, start_time, end_time, '', manual_add FROM task_logs WHERE id = :id",
            id=log_id,
        )
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1
