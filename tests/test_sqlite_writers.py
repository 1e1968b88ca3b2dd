"""SQLite, the embedded default: a process's writers queue first come, first
served for the single write lock, and reads never wait for a writer."""

import asyncio
from collections.abc import AsyncIterator
from typing import NamedTuple

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from app.core.database import WriterQueue
from app.core.settings import Settings
from tests.conftest import Backend, app_and_client
from tests.factories import log, seed


class Served(NamedTuple):
    app: FastAPI
    client: httpx.AsyncClient


async def _serve(backend: Backend, *, busy_timeout_ms: int) -> AsyncIterator[Served]:
    await backend.clean()
    async with app_and_client(backend, sqlite_busy_timeout_ms=busy_timeout_ms) as (app, client):
        yield Served(app, client)


@pytest.fixture
async def impatient(sqlite_backend: Backend) -> AsyncIterator[Served]:
    """The app on SQLite with no busy timeout at all: a transaction that
    found the write lock taken would fail at once instead of polling."""
    async for served in _serve(sqlite_backend, busy_timeout_ms=0):
        yield served


async def test_concurrent_creates_queue_for_the_write_lock_and_all_succeed(impatient, sqlite_backend):
    await seed(impatient.client)
    bodies = [log(start=f"2024-10-{day:02d}T09:00:00Z", end=f"2024-10-{day:02d}T10:00:00Z") for day in range(1, 31)]
    answers = await asyncio.gather(*(impatient.client.post("/tasklog/create/", json=body) for body in bodies))
    assert [a.status_code for a in answers] == [200] * 30, [a.text for a in answers if a.status_code != 200]
    assert len({a.json()["data"]["taskLogId"] for a in answers}) == 30
    assert await sqlite_backend.scalar("SELECT count(*) FROM task_logs") == 30


async def test_writers_take_their_turns_in_the_order_they_came():
    queue = WriterQueue(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    order: list[int] = []

    async def writer(n: int) -> None:
        async with queue.turn():
            # Later writers would finish sooner if they did not wait their turn.
            for _ in range(20 - n):
                await asyncio.sleep(0)
            order.append(n)

    first = asyncio.create_task(writer(0))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(writer(n)) for n in range(1, 20)]
    await asyncio.gather(first, *waiting)
    assert order == list(range(20))


async def test_a_read_answers_while_a_writer_holds_the_write_lock(impatient, sqlite_backend):
    await seed(impatient.client)
    created = await impatient.client.post("/tasklog/create/", json=log())
    log_id = created.json()["data"]["taskLogId"]
    # Another process's writer holds SQLite's write lock (BEGIN IMMEDIATE and a write, not committed),
    # and this process has a write transaction of its own under way.
    async with sqlite_backend.engine.connect() as other_writer, impatient.app.state.writer_queue.turn():
        await other_writer.execute(
            text("UPDATE task_logs SET description = 'being edited' WHERE id = :id"), {"id": log_id}
        )
        read = await asyncio.wait_for(impatient.client.get(f"/tasklogs/{log_id}/"), timeout=10)
        await other_writer.rollback()
    assert read.status_code == 200, read.text
    assert read.json()["data"]["description"] != "being edited"  # the committed state


# ---------------------------------------------------------------- query plans


class Statement(NamedTuple):
    sql: str
    parameters: tuple[object, ...]


async def _plans(backend: Backend, statements: list[Statement]) -> dict[str, list[str]]:
    """SQLite's plan of each statement (EXPLAIN QUERY PLAN's lines), by statement."""
    plans = {}
    async with backend.engine.connect() as conn:
        for statement in statements:
            if statement.sql.split(None, 1)[0].upper() in {"BEGIN", "COMMIT", "ROLLBACK"}:
                continue
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement.sql}", statement.parameters)
            plans[statement.sql] = [row[3] for row in rows]
    return plans


@pytest.fixture
async def served(sqlite_backend: Backend) -> AsyncIterator[Served]:
    """The app on SQLite with its default busy timeout."""
    async for app in _serve(sqlite_backend, busy_timeout_ms=Settings().sqlite_busy_timeout_ms):
        yield app


async def test_no_statement_of_a_write_or_a_search_scans_a_table(served, sqlite_backend):
    """Every statement that a create, a bulk create, an edit, a delete and the
    searches run finds its rows by an index: SQLite cannot use an index for a
    condition SQLAlchemy writes as `(x IN (...)) = 1`, and then read every
    employee on each write, and every log on a search by project."""
    client = served.client
    await seed(client)
    statements: list[Statement] = []

    def capture(conn, cursor, sql, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not executemany:
            statements.append(Statement(sql, tuple(parameters)))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        first = log(start="2024-10-01T09:00:00Z", end="2024-10-01T10:00:00Z")
        created = await client.post("/tasklog/create/", json=first)
        assert created.status_code == 200, created.text
        log_id = created.json()["data"]["taskLogId"]
        batch = [log(start=f"2024-10-{d:02d}T09:00:00Z", end=f"2024-10-{d:02d}T10:00:00Z") for d in (2, 3)]
        assert (await client.post("/tasklogs/bulk/create/10/", json=batch)).status_code == 200
        edited = await client.put(f"/tasklogs/{log_id}/", json={"description": "edited"})
        assert edited.status_code == 200, edited.text
        assert (await client.delete(f"/api/tasklogs/delete/{log_id}/")).status_code == 200
        window = {"from": "2024-10-01", "to": "2024-11-01"}
        for filters in ({"employeeId": 10}, {"projectId": 7}, {"taskId": 250}):
            found = await client.get("/tasklogs/", params={**filters, **window})
            assert found.status_code == 200 and found.json()["data"], found.text
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    tables = {row[0] for row in await sqlite_backend.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    plans = await _plans(sqlite_backend, statements)
    scans = {
        sql: [line for line in plan if line.startswith("SCAN ") and line.split()[1] in tables]
        for sql, plan in plans.items()
    }
    assert {sql: lines for sql, lines in scans.items() if lines} == {}
