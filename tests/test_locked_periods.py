"""Locked periods over HTTP, on both databases: a company's lock date
refuses every write of a log starting on or before it (create, bulk items,
edit, moves across the boundary, delete, restore, timers), judged by the
employee's local day; moving the date back or to null allows them again;
who may move it, and the company's history of its moves. On PostgreSQL,
a move waits for writes in flight, and a write that waited for a move sees
the new date."""

import asyncio
import json
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.auth.principal import SYSTEM
from app.core.database import make_sessionmaker
from app.locks.service import set_lock_date
from tests.factories import hours_from_now, log, put, seed
from tests.test_write_locks import write_held_open

LOCK = "/companies/1/lock/"
BULK = "/tasklogs/bulk/create/10/"


def bearer(backend: Any, employee_id: int, company_id: int = 1) -> dict[str, str]:
    return {"Authorization": f"Bearer {backend.token(employee_id, company_id)}"}


async def lock(client: httpx.AsyncClient, through: str | None, **kwargs: Any) -> dict[str, Any]:
    response = await client.put(LOCK, json={"lockedThrough": through}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/tasklog/create/", json=body)


async def created_id(client: httpx.AsyncClient, body: dict[str, Any]) -> int:
    response = await create(client, body)
    assert response.status_code == 200, response.text
    return int(response.json()["data"]["taskLogId"])


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


def assert_locked(response: httpx.Response, through: str) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error_code"] == "PERIOD_LOCKED"
    assert through in body["message"] and body["lockedThrough"] == through


async def log_rows(backend: Any) -> list[tuple[int, str]]:
    async with backend.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, description FROM task_logs ORDER BY id"))
        return [(row.id, row.description) for row in rows]


async def test_every_write_inside_the_lock_is_refused_and_allowed_again_after_unlock(client, backend):
    await seed(client)
    inside = await created_id(client, log(start="2024-10-29T09:00:00Z", end="2024-10-29T10:00:00Z"))
    to_restore = await created_id(client, log(start="2024-10-30T09:00:00Z", end="2024-10-30T10:00:00Z"))
    assert (await client.delete(f"/api/tasklogs/delete/{to_restore}/")).status_code == 200
    outside = await created_id(client, log(start="2024-11-05T09:00:00Z", end="2024-11-05T10:00:00Z"))

    assert await lock(client, "2024-10-31") == {"companyId": 1, "lockedThrough": "2024-10-31"}
    assert (await client.get("/companies/1/")).json()["data"]["lockedThrough"] == "2024-10-31"
    before = await log_rows(backend)

    # Create, on the lock day itself and before it.
    assert_locked(await create(client, log(start="2024-10-31T09:00:00Z", end="2024-10-31T10:00:00Z")), "2024-10-31")
    assert_locked(await create(client, log(start="2024-10-01T09:00:00Z", end="2024-10-01T10:00:00Z")), "2024-10-31")
    # Bulk: the locked item is an item error, and nothing of the batch is saved.
    bulk = await client.post(
        BULK,
        json=[
            log(start="2024-11-06T09:00:00Z", end="2024-11-06T10:00:00Z"),
            log(start="2024-10-30T11:00:00Z", end="2024-10-30T12:00:00Z"),
        ],
    )
    assert bulk.status_code == 422, bulk.text
    assert [(e["field"], e["code"]) for e in bulk.json()["errors"]] == [("[1].startTime", "PERIOD_LOCKED")]
    # Edit, delete and restore of a locked log.
    assert_locked(await client.patch(f"/tasklogs/{inside}/", json={"description": "changed"}), "2024-10-31")
    assert_locked(await client.delete(f"/api/tasklogs/delete/{inside}/"), "2024-10-31")
    assert_locked(await client.post(f"/tasklogs/{to_restore}/restore/"), "2024-10-31")
    # Moves across the boundary, either way.
    assert_locked(
        await client.patch(
            f"/tasklogs/{outside}/", json={"startTime": "2024-10-31T09:00:00Z", "endTime": "2024-10-31T10:00:00Z"}
        ),
        "2024-10-31",
    )
    assert_locked(
        await client.patch(
            f"/tasklogs/{inside}/", json={"startTime": "2024-11-07T09:00:00Z", "endTime": "2024-11-07T10:00:00Z"}
        ),
        "2024-10-31",
    )
    assert await log_rows(backend) == before
    # A log after the lock day is untouched by it.
    assert (await client.patch(f"/tasklogs/{outside}/", json={"description": "fine"})).status_code == 200

    # Back to the 28th: the 29th and later are open again; the 1st stays locked.
    await lock(client, "2024-10-28")
    assert (await client.patch(f"/tasklogs/{inside}/", json={"description": "changed"})).status_code == 200
    assert (await client.post(f"/tasklogs/{to_restore}/restore/")).status_code == 200
    assert_locked(await create(client, log(start="2024-10-01T09:00:00Z", end="2024-10-01T10:00:00Z")), "2024-10-28")

    # null unlocks everything.
    await lock(client, None)
    assert (await client.get("/companies/1/")).json()["data"]["lockedThrough"] is None
    assert (await create(client, log(start="2024-10-01T09:00:00Z", end="2024-10-01T10:00:00Z"))).status_code == 200
    assert (await client.delete(f"/api/tasklogs/delete/{inside}/")).status_code == 200
    assert (
        await client.post(BULK, json=[log(start="2024-10-30T11:00:00Z", end="2024-10-30T12:00:00Z")])
    ).status_code == 200


async def test_the_lock_day_is_the_employees_local_day(client, backend):
    # Employee 10 counts in the company's Asia/Kolkata (UTC+5:30), employee 11 in America/New_York (UTC-4 then).
    await seed(client, timezone="Asia/Kolkata")
    await put(client, "/employees/11/", {"companyId": 1, "name": "Ravi Kumar", "timezone": "America/New_York"})
    await lock(client, "2024-10-31")

    # Kolkata, 1 November 01:00 local is still 31 October in UTC: open.
    assert (
        await create(client, log(user_id=10, start="2024-10-31T19:30:00Z", end="2024-10-31T20:30:00Z"))
    ).status_code == 200
    # Kolkata, 31 October 23:00 local: locked.
    assert_locked(
        await create(client, log(user_id=10, start="2024-10-31T17:30:00Z", end="2024-10-31T18:00:00Z")), "2024-10-31"
    )
    # New York, 31 October 21:00 local is already 1 November in UTC: locked.
    assert_locked(
        await create(client, log(user_id=11, start="2024-11-01T01:00:00Z", end="2024-11-01T02:00:00Z")), "2024-10-31"
    )
    # New York, 1 November 00:30 local: open.
    assert (
        await create(client, log(user_id=11, start="2024-11-01T04:30:00Z", end="2024-11-01T05:00:00Z"))
    ).status_code == 200
    # A local time without offset is the employee's wall time: 31 October 23:00 in Kolkata.
    assert_locked(
        await create(client, log(user_id=10, start="2024-10-31T23:00:00", end="2024-10-31T23:30:00")), "2024-10-31"
    )


async def test_timers_cannot_stop_or_start_inside_the_lock(client, backend):
    await seed(client)
    started = await client.post("/timers/start/", json={"taskId": 250, "userId": 10, "startTime": hours_from_now(-2)})
    assert started.status_code == 200, started.text
    today = hours_from_now(0)[:10]
    await lock(client, today)

    stop = await client.post("/timers/stop/10/", json={})
    assert_locked(stop, today)
    assert await backend.scalar("SELECT count(*) FROM running_timers") == 1
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0
    # A new timer cannot start inside the lock either (it could never stop).
    assert_locked(
        await client.post("/timers/start/", json={"taskId": 250, "userId": 11, "startTime": hours_from_now(-1)}),
        today,
    )

    await lock(client, None)
    stopped = await client.post("/timers/stop/10/", json={})
    assert stopped.status_code == 200, stopped.text
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


async def test_only_admins_and_keys_move_the_lock_and_every_move_is_recorded(client, backend):
    await seed(client)
    await put(client, "/employees/13/", {"companyId": 1, "name": "Tia Lead", "isTeamLeader": True})
    for employee in (10, 13):
        refused = await client.put(LOCK, json={"lockedThrough": "2024-10-31"}, headers=bearer(backend, employee))
        assert refused.status_code == 403, refused.text
    # Another company's admin does not see company 1 at all.
    other = await client.put(LOCK, json={"lockedThrough": "2024-10-31"}, headers=bearer(backend, 20, 2))
    assert other.status_code == 404
    assert (await client.get("/companies/1/")).json()["data"]["lockedThrough"] is None

    await lock(client, "2024-10-31", headers=bearer(backend, 1))
    await lock(client, "2024-10-31", headers=bearer(backend, 1))  # no move: nothing to record
    company_key = await backend.api_key("company", company_id=1)
    await lock(client, "2024-09-30", headers={"X-API-Key": company_key})
    await lock(client, None)

    for bad in ({"lockedThrough": "2024-13-01"}, {"lockedThrough": "2024-10-31T00:00:00Z"}, {}, {"lockedThrough": 5}):
        answer = await client.put(LOCK, json=bad)
        assert answer.status_code == 422, (bad, answer.text)
    assert (await client.put("/companies/99/lock/", json={"lockedThrough": None})).status_code == 404

    history = await client.get("/companies/1/history/", headers=bearer(backend, 13))
    assert history.status_code == 200, history.text
    moves = [(c["action"], c["before"], c["after"], c["changedBy"]) for c in history.json()["data"]]
    assert moves == [
        ("lock", {"lockedThrough": None}, {"lockedThrough": "2024-10-31"}, "employee:1"),
        ("lock", {"lockedThrough": "2024-10-31"}, {"lockedThrough": "2024-09-30"}, moves[1][3]),
        ("lock", {"lockedThrough": "2024-09-30"}, {"lockedThrough": None}, moves[2][3]),
    ]
    assert moves[1][3].startswith("apikey:") and moves[2][3].startswith("apikey:")
    assert history.json()["pagination"] == {"page": 1, "pageSize": 50, "total": 3}
    # Each move is an event for other services (payroll learns what is final).
    async with backend.engine.connect() as conn:
        events = (await conn.execute(text("SELECT type, data FROM outbox_events ORDER BY id"))).all()
    assert [(e.type, _json(e.data)["lockedThrough"], _json(e.data)["previousLockedThrough"]) for e in events] == [
        ("lock.moved", "2024-10-31", None),
        ("lock.moved", "2024-09-30", "2024-10-31"),
        ("lock.moved", None, "2024-09-30"),
    ]
    assert (await client.get("/companies/1/history/", headers=bearer(backend, 10))).status_code == 403
    assert (await client.get("/companies/1/history/", headers=bearer(backend, 20, 2))).status_code == 404


# ---------------------------------------------------------------- against writes in flight (PostgreSQL)


@pytest.mark.usefixtures("postgres_only")
async def test_a_lock_move_waits_for_a_write_in_flight(client, backend):
    await seed(client)
    async with write_held_open(backend, log(start="2024-10-29T09:00:00Z", end="2024-10-29T10:00:00Z")):
        move = asyncio.create_task(client.put(LOCK, json={"lockedThrough": "2024-10-31"}))
        await backend.until_one_waits_on_a_lock()
        assert not move.done()
    answer = await move
    assert answer.status_code == 200, answer.text
    # The write committed before the lock: its log stands, and is locked now.
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1
    log_id = await backend.scalar("SELECT id FROM task_logs")
    assert_locked(await client.delete(f"/api/tasklogs/delete/{log_id}/"), "2024-10-31")


@pytest.mark.usefixtures("postgres_only")
async def test_a_write_that_waited_for_a_lock_move_sees_the_new_date(client, backend):
    await seed(client)
    sessionmaker = make_sessionmaker(backend.engine)
    async with sessionmaker() as session, session.begin():
        await set_lock_date(session, 1, date(2024, 10, 31), actor=SYSTEM)
        write = asyncio.create_task(create(client, log(start="2024-10-29T09:00:00Z", end="2024-10-29T10:00:00Z")))
        await backend.until_one_waits_on_a_lock()
        assert not write.done()
    assert_locked(await write, "2024-10-31")
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0
