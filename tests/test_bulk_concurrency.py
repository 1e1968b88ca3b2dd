"""Bulk uploads under load: concurrent overlapping uploads on PostgreSQL never
store a duplicate and alert once per crossing; a batch's statement count does
not grow with its size."""

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from app.main import create_app
from tests.factories import iso, log, put, seed

BULK = "/tasklogs/bulk/create/10/"


async def post_all(client, batches: list[list[dict[str, Any]]]) -> list[Any]:
    """Send every batch at once; wait for all of them even if some fail, so no
    request outlives the test. A failed request shows as its exception."""
    return await asyncio.gather(*(client.post(BULK, json=batch) for batch in batches), return_exceptions=True)


def statuses(responses: list[Any]) -> list[Any]:
    return [r.status_code if isinstance(r, httpx.Response) else repr(r)[:200] for r in responses]


def slot(i: int, first: datetime = datetime(2024, 9, 1, tzinfo=UTC), minutes: int = 60) -> dict[str, Any]:
    """The i-th one-hour log of employee 10, on task 250, 251 or 252 (all project 7)."""
    start = first + timedelta(hours=i)
    return log(250 + i % 3, 10, iso(start), iso(start + timedelta(minutes=minutes)))


# ---------------------------------------------------------------- concurrency (PostgreSQL)


def overlapping_batches() -> list[list[dict[str, Any]]]:
    """20 batches of 10 one-hour slots, batch k = slots k..k+9 (shuffled): together
    29 distinct slots, 29 hours; slots on task 250 are 0, 3, ..., 27 (10 hours)."""
    batches = []
    for k in range(20):
        items = [slot(i) for i in range(k, k + 10)]
        random.Random(k).shuffle(items)
        batches.append(items)
    return batches


async def assert_each_slot_stored_once(backend, bodies: list[dict[str, Any]]) -> None:
    assert sum(len(b["data"]["created"]) for b in bodies) == 29
    assert all(len(b["data"]["created"]) + len(b["data"]["skipped"]) == 10 for b in bodies)
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 29
    assert (
        await backend.scalar("SELECT count(*) FROM (SELECT DISTINCT task_id, user_id, start_time FROM task_logs) AS k")
        == 29
    )
    # Every skipped item points to the stored log with its task.
    stored = {r.id: r.task_id for r in await backend.rows("SELECT id, task_id FROM task_logs")}
    for body in bodies:
        for skipped in body["data"]["skipped"]:
            assert stored[skipped["existingTaskLogId"]] == skipped["taskId"]


async def test_concurrent_overlapping_uploads_store_each_log_once_and_alert_once(client, backend, postgres_only):
    # Project 7 gets 20 h: no batch alone (10 h) crosses it, their union (29 h) does, once.
    await seed(client, project_hours=20)

    responses = await post_all(client, overlapping_batches())

    assert statuses(responses) == [200] * 20
    bodies = [r.json() for r in responses]
    await assert_each_slot_stored_once(backend, bodies)
    alerts = await backend.rows("SELECT recipient_id, type, payload FROM notifications ORDER BY recipient_id")
    assert [(a.recipient_id, a.type) for a in alerts] == [
        (1, "PROJECT_ALLOCATION_EXCEEDED"),
        (2, "PROJECT_ALLOCATION_EXCEEDED"),
    ]
    notifying = [b for b in bodies if any(e["notifiedAdminIds"] for e in b["allocation"])]
    assert len(notifying) == 1
    assert notifying[0]["allocation"][0]["notifiedAdminIds"] == [1, 2]
    assert notifying[0]["allocation"][0]["exceeded"] is True
    # The alert names logs of the upload that crossed the line.
    crossing_ids = {c["taskLogId"] for c in notifying[0]["data"]["created"]}
    assert set(alerts[0].payload["taskLogIds"]) <= crossing_ids
    assert alerts[0].payload["taskLogIds"]

    project = (await client.get("/projects/7/")).json()["data"]
    assert (project["loggedHours"], project["allocationExceeded"]) == (29.0, True)


async def test_concurrent_uploads_crossing_a_task_allocation_alert_once(client, backend, postgres_only):
    # As above, and task 250 gets 5 h: its 10 h in the union cross it once too.
    await seed(client, project_hours=20)
    await put(client, "/tasks/250/", {"projectId": 7, "name": "Task 250", "allocatedHours": 5})

    responses = await post_all(client, overlapping_batches())

    assert statuses(responses) == [200] * 20
    bodies = [r.json() for r in responses]
    await assert_each_slot_stored_once(backend, bodies)
    alerts = await backend.rows("SELECT recipient_id, type FROM notifications ORDER BY recipient_id, type")
    assert [(a.recipient_id, a.type) for a in alerts] == [
        (1, "PROJECT_ALLOCATION_EXCEEDED"),
        (1, "TASK_ALLOCATION_EXCEEDED"),
        (2, "PROJECT_ALLOCATION_EXCEEDED"),
        (2, "TASK_ALLOCATION_EXCEEDED"),
    ]
    notifying = [e for b in bodies for e in b["allocation"] if e["notifiedAdminIds"]]
    assert sorted((e.get("taskId", 0), e["notifiedAdminIds"]) for e in notifying) == [(0, [1, 2]), (250, [1, 2])]


async def test_concurrent_identical_uploads_create_the_batch_once(client, backend, postgres_only):
    await seed(client, project_hours=5)
    batch = [slot(i) for i in range(8)]  # 8 h: crosses 5 h once

    responses = await post_all(client, [batch] * 20)

    assert statuses(responses) == [200] * 20
    bodies = [r.json() for r in responses]
    assert sum(len(b["data"]["created"]) for b in bodies) == 8
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 8
    # Every skipped item names the stored log it repeats, also when that log
    # was committed by a concurrent upload after this one's statement began.
    stored = {row.id for row in await backend.rows("SELECT id FROM task_logs")}
    assert {s["existingTaskLogId"] for b in bodies for s in b["data"]["skipped"]} == stored
    assert sum(len(b["data"]["skipped"]) for b in bodies) == 19 * 8
    assert sorted(r.recipient_id for r in await backend.rows("SELECT recipient_id FROM notifications")) == [1, 2]


# ---------------------------------------------------------------- statement count


@pytest.fixture
async def counted(client, backend) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    """A second app on the (already cleaned) database whose SQL statements are recorded. It checks the
    API key on every request (no trust window), so that every request counts the same statements."""
    app = create_app(backend.settings(api_key_cache_seconds=0))
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", record)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"X-API-Key": client.headers["X-API-Key"]},
    )
    # The key's first use this minute records its lastUsedAt in a transaction of its own: done before
    # counting, so that every measured request is counted alike.
    await http.get("/companies/1/")
    await app.state.key_usage.drain()
    try:
        yield http, statements
    finally:
        await http.aclose()
        await lifespan.__aexit__(None, None, None)


async def statements_for(counted, items: list[dict[str, Any]]) -> int:
    http, statements = counted
    statements.clear()
    response = await http.post(BULK, json=items)
    assert response.status_code == 200, response.text
    return len(statements)


def hourly(n: int, first: datetime) -> list[dict[str, Any]]:
    return [slot(i, first, minutes=30) for i in range(n)]


async def test_a_1000_item_batch_runs_as_many_statements_as_a_10_item_batch(client, counted):
    await seed(client, project_hours=1_000_000)

    small = await statements_for(counted, hourly(10, datetime(2024, 1, 1, tzinfo=UTC)))
    large = await statements_for(counted, hourly(1000, datetime(2024, 3, 1, tzinfo=UTC)))

    assert large == small
    assert large <= 16


async def test_a_resent_1000_item_batch_runs_as_many_statements_as_a_resent_10_item_batch(client, counted):
    await seed(client, project_hours=1_000_000)
    small_batch = hourly(10, datetime(2024, 1, 1, tzinfo=UTC))
    large_batch = hourly(1000, datetime(2024, 3, 1, tzinfo=UTC))
    await statements_for(counted, small_batch)
    await statements_for(counted, large_batch)

    small = await statements_for(counted, small_batch)
    large = await statements_for(counted, large_batch)

    assert large == small
    assert large <= 16


async def test_a_1000_item_batch_that_crosses_the_allocation_runs_few_statements(client, counted):
    # 1000 half hours = 500 h; project 7 has 100 h, so this write alerts two admins.
    await seed(client, project_hours=100)

    count = await statements_for(counted, hourly(1000, datetime(2024, 3, 1, tzinfo=UTC)))

    assert (await client.get("/notifications/unread-count/1/")).json()["data"]["unreadCount"] == 1
    # + 5 for the crossing: lock the task, sum, set the flag, find the admins, write the alerts.
    assert count <= 20
