"""Running timers over HTTP, on both databases: one running timer per
employee (decided by the database, also under 20 concurrent starts), stop
through the task log create's own write path (duplicates, allocation alerts,
the cap), a refused stop that leaves the timer running, access per role, and
timers that outlive the process."""

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from app.core.database import make_sessionmaker
from app.reference.repository import ReferenceRepository
from tests.conftest import app_and_client
from tests.factories import hours_from_now, log, put, seed

STARTERS = 20


def auth(backend: Any, employee_id: int, company_id: int = 1) -> dict[str, str]:
    return {"Authorization": f"Bearer {backend.token(employee_id, company_id)}"}


async def start(client: httpx.AsyncClient, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = await client.post("/timers/start/", json=body, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def running_count(backend: Any) -> int:
    return int(await backend.scalar("SELECT count(*) FROM running_timers"))


async def log_count(backend: Any) -> int:
    return int(await backend.scalar("SELECT count(*) FROM task_logs"))


async def test_start_current_and_stop_create_the_log(client, backend):
    await seed(client)
    begun = hours_from_now(-2)
    timer = await start(client, {"taskId": 250, "userId": 10, "description": "Login page", "startTime": begun})
    assert timer | {"timerId": 0, "elapsedSeconds": 0} == {
        "timerId": 0,
        "taskId": 250,
        "projectId": 7,
        "userId": 10,
        "description": "Login page",
        "startTime": begun,
        "elapsedSeconds": 0,
        "running": True,
    }
    assert timer["elapsedSeconds"] >= 7200

    current = (await client.get("/timers/current/10/")).json()["data"]
    assert current["timerId"] == timer["timerId"] and current["running"] is True

    stopped = await client.post("/timers/stop/10/", json={"description": "Login page done"})
    assert stopped.status_code == 200, stopped.text
    body = stopped.json()
    assert body["message"] == "Timer stopped"
    created = body["data"]
    assert created["startTime"] == begun and created["manualAdd"] is False
    assert created["description"] == "Login page done"
    assert stopped.headers["ETag"] == '"1"'
    assert body["timer"]["timerId"] == timer["timerId"]
    assert body["timer"]["running"] is False
    assert body["timer"]["taskLogId"] == created["taskLogId"]
    assert body["timer"]["endTime"] == created["endTime"]
    # One total per local day the log touches: two when the last two hours span a midnight.
    assert {t["userId"] for t in body["dailyTotals"]} == {10}
    assert [a["projectId"] for a in body["allocation"]] == [7]
    assert await running_count(backend) == 0
    rows = await backend.rows("SELECT task_id, user_id, manual_add, created_by FROM task_logs")
    assert [tuple(r) for r in rows] == [(250, 10, False, rows[0][3])]
    history = await backend.rows("SELECT action FROM task_log_changes WHERE task_log_id = :id", id=created["taskLogId"])
    assert [r[0] for r in history] == ["create"]
    assert (await client.get("/timers/current/10/")).json()["data"] is None


async def test_a_second_start_is_a_conflict_naming_the_running_timer(client, backend):
    await seed(client)
    first = await start(client, {"taskId": 250, "userId": 10})
    response = await client.post("/timers/start/", json={"taskId": 251, "userId": 10})
    assert response.status_code == 409
    body = response.json()
    assert body["error_code"] == "TIMER_ALREADY_RUNNING"
    assert body["data"]["timerId"] == first["timerId"] and body["data"]["taskId"] == 250
    assert await running_count(backend) == 1
    # Another employee's timer runs beside it.
    await start(client, {"taskId": 250, "userId": 11})
    assert await running_count(backend) == 2


async def test_stop_running_stops_the_old_timer_at_the_new_start_and_starts_the_new(client, backend):
    await seed(client)
    old = await start(client, {"taskId": 250, "userId": 10, "startTime": hours_from_now(-3)})
    switch_at = hours_from_now(-1)
    response = await client.post(
        "/timers/start/", json={"taskId": 251, "userId": 10, "startTime": switch_at, "stopRunning": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"]["taskId"] == 251 and body["data"]["running"] is True
    stopped = body["stopped"]
    assert stopped["timer"]["timerId"] == old["timerId"] and stopped["timer"]["running"] is False
    assert stopped["taskLog"]["taskId"] == 250 and stopped["taskLog"]["endTime"] == switch_at
    assert {t["userId"] for t in stopped["dailyTotals"]} == {10}  # one per local day the log touches
    assert await running_count(backend) == 1
    assert await log_count(backend) == 1


async def test_twenty_concurrent_starts_give_one_timer(client, backend):
    await seed(client)
    responses = await asyncio.gather(
        *(client.post("/timers/start/", json={"taskId": 250, "userId": 10}) for _ in range(STARTERS))
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 409: STARTERS - 1}, [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()["data"]["timerId"]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error_code"] == "TIMER_ALREADY_RUNNING"
            assert response.json()["data"]["timerId"] == winner
    rows = await backend.rows("SELECT id, user_id FROM running_timers")
    assert [tuple(r) for r in rows] == [(winner, 10)]


async def test_stop_with_nothing_running_is_404(client, backend):
    await seed(client)
    response = await client.post("/timers/stop/10/", json={})
    assert response.status_code == 404
    assert response.json()["error_code"] == "NO_RUNNING_TIMER"
    assert await log_count(backend) == 0


async def test_a_duplicate_stop_is_refused_and_the_timer_keeps_running(client, backend):
    await seed(client)
    begun = hours_from_now(-2)
    existing = await client.post("/tasklog/create/", json=log(start=begun, end=hours_from_now(-1)))
    assert existing.status_code == 200
    timer = await start(client, {"taskId": 250, "userId": 10, "startTime": begun})
    response = await client.post("/timers/stop/10/", json={})
    assert response.status_code == 409
    assert response.json()["error_code"] == "DUPLICATE_TASK_LOG"
    assert response.json()["existingTaskLogId"] == existing.json()["data"]["taskLogId"]
    assert await log_count(backend) == 1
    assert (await client.get("/timers/current/10/")).json()["data"]["timerId"] == timer["timerId"]
    assert await running_count(backend) == 1
    # Moved to another task, it stops fine.
    moved = await client.patch(f"/timers/{timer['timerId']}/", json={"taskId": 251})
    assert moved.status_code == 200 and moved.json()["data"]["taskId"] == 251
    assert (await client.post("/timers/stop/10/", json={})).status_code == 200
    assert await log_count(backend) == 2 and await running_count(backend) == 0


async def test_a_stop_with_a_bad_time_is_refused_and_the_timer_keeps_running(client, backend):
    await seed(client)
    await start(client, {"taskId": 250, "userId": 10, "startTime": hours_from_now(-1)})
    for end, code in [(hours_from_now(-2), "VALIDATION_ERROR"), (hours_from_now(2), "FUTURE_TIME")]:
        response = await client.post("/timers/stop/10/", json={"endTime": end})
        assert response.status_code == 422, response.text
        assert response.json()["error_code"] == code
    assert await running_count(backend) == 1
    assert await log_count(backend) == 0
    assert await backend.scalar("SELECT count(*) FROM task_log_changes") == 0


async def test_a_stop_that_crosses_the_allocation_alerts_the_admins(client, backend):
    await seed(client, project_hours=1)
    await start(client, {"taskId": 250, "userId": 10, "startTime": hours_from_now(-2)})
    response = await client.post("/timers/stop/10/", json={})
    assert response.status_code == 200, response.text
    (project,) = response.json()["allocation"]
    assert project["projectId"] == 7 and project["exceeded"] is True
    assert project["notifiedAdminIds"] == [1, 2]
    rows = await backend.rows("SELECT recipient_id, type FROM notifications ORDER BY recipient_id")
    assert [tuple(r) for r in rows] == [(1, "PROJECT_ALLOCATION_EXCEEDED"), (2, "PROJECT_ALLOCATION_EXCEEDED")]


async def test_a_timer_longer_than_the_longest_log_is_capped(client, backend):
    await seed(client)
    begun = hours_from_now(-30)
    timer = await start(client, {"taskId": 250, "userId": 10, "startTime": begun})
    response = await client.post("/timers/stop/10/", json={})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"]["durationSeconds"] == 24 * 3600
    assert body["timer"]["elapsedSeconds"] == 24 * 3600
    capped = [w for w in body["warnings"] if w["code"] == "TIMER_CAPPED"]
    assert capped == [
        {"code": "TIMER_CAPPED", "timerId": timer["timerId"], "taskLogId": body["data"]["taskLogId"], "limitHours": 24}
    ]
    stored = (await client.get(f"/tasklogs/{body['data']['taskLogId']}/")).json()["data"]
    assert stored["durationSeconds"] == 24 * 3600 and stored["startTime"] == begun


async def test_edit_and_discard_a_running_timer(client, backend):
    await seed(client)
    timer = await start(client, {"taskId": 250, "userId": 10, "description": "first"})
    begun = hours_from_now(-1)
    edited = await client.patch(
        f"/timers/{timer['timerId']}/", json={"taskId": 260, "description": "second", "startTime": begun}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["data"] | {"elapsedSeconds": 0} == timer | {
        "taskId": 260,
        "projectId": 8,
        "description": "second",
        "startTime": begun,
        "elapsedSeconds": 0,
    }
    refused = await client.patch(f"/timers/{timer['timerId']}/", json={"taskId": 900})
    assert refused.status_code == 422 and refused.json()["error_code"] == "COMPANY_MISMATCH"
    future = await client.patch(f"/timers/{timer['timerId']}/", json={"startTime": hours_from_now(3)})
    assert future.status_code == 422 and future.json()["error_code"] == "FUTURE_TIME"
    discarded = await client.delete(f"/timers/{timer['timerId']}/")
    assert discarded.status_code == 200 and discarded.json()["data"]["running"] is False
    assert await running_count(backend) == 0 and await log_count(backend) == 0
    gone = await client.delete(f"/timers/{timer['timerId']}/")
    assert gone.status_code == 404 and gone.json()["error_code"] == "TIMER_NOT_FOUND"


async def test_bad_starts_are_refused_and_write_nothing(client, backend):
    await seed(client)
    cases = [
        ({"taskId": 9999, "userId": 10}, 422, "TASK_NOT_FOUND"),
        ({"taskId": 900, "userId": 10}, 422, "COMPANY_MISMATCH"),
        ({"taskId": 250, "userId": 12}, 422, "USER_INACTIVE"),
        ({"taskId": 250, "userId": 9999}, 422, "USER_NOT_FOUND"),
        ({"taskId": 250}, 422, "REQUIRED"),  # a key names the employee
        ({"taskId": 250, "userId": 10, "startTime": hours_from_now(2)}, 422, "FUTURE_TIME"),
        ({"taskId": 250, "userId": 10, "startTime": "2024-03-31T02:30:00"}, 422, "INVALID_LOCAL_TIME"),
    ]
    await put(client, "/employees/10/", {"companyId": 1, "name": "Asha Rao", "timezone": "Europe/Berlin"})
    for body, status, code in cases:
        response = await client.post("/timers/start/", json=body)
        assert (response.status_code, response.json()["error_code"]) == (status, code), (body, response.text)
    assert await running_count(backend) == 0


async def test_employees_and_team_leaders_control_only_their_own_timer(client, backend):
    await seed(client)
    await put(client, "/employees/11/", {"companyId": 1, "name": "Ravi Kumar", "isTeamLeader": True})
    asha, ravi = auth(backend, 10), auth(backend, 11)
    mine = await start(client, {"taskId": 250, "startTime": hours_from_now(-1)}, headers=asha)
    assert mine["userId"] == 10
    theirs = await start(client, {"taskId": 250}, headers=ravi)

    assert (await client.post("/timers/start/", json={"taskId": 250, "userId": 11}, headers=asha)).status_code == 403
    for method, path in [
        ("GET", "/timers/current/11/"),
        ("POST", "/timers/stop/11/"),
        ("PATCH", f"/timers/{theirs['timerId']}/"),
        ("DELETE", f"/timers/{theirs['timerId']}/"),
    ]:
        response = await client.request(method, path, headers=asha, json={} if method in ("POST", "PATCH") else None)
        assert response.status_code == 403, (method, path, response.text)
    # The team leader sees no one else's timer either.
    assert (await client.get("/timers/current/10/", headers=ravi)).status_code == 403
    listed = (await client.get("/timers/", headers=ravi)).json()
    assert [t["userId"] for t in listed["data"]] == [11] and listed["pagination"]["total"] == 1
    # Another company's employee does not exist for them.
    assert (await client.get("/timers/current/21/", headers=asha)).status_code == 404

    assert (await client.get("/timers/current/10/", headers=asha)).json()["data"]["timerId"] == mine["timerId"]
    assert (await client.post("/timers/stop/10/", json={}, headers=asha)).status_code == 200
    assert await running_count(backend) == 1


async def test_admins_and_keys_control_their_company_and_platform_keys_all(client, backend):
    await seed(client)
    admin, other_admin = auth(backend, 1), auth(backend, 20, 2)
    company_key = {"X-API-Key": await backend.api_key("acme", company_id=1)}
    ours = await start(client, {"taskId": 250, "userId": 10, "startTime": hours_from_now(-1)}, headers=admin)
    await start(client, {"taskId": 251, "userId": 11}, headers=company_key)
    theirs = await start(client, {"taskId": 900, "userId": 21}, headers=other_admin)

    assert [t["userId"] for t in (await client.get("/timers/", headers=admin)).json()["data"]] == [10, 11]
    assert [t["userId"] for t in (await client.get("/timers/", headers=company_key)).json()["data"]] == [10, 11]
    assert [t["userId"] for t in (await client.get("/timers/", headers=other_admin)).json()["data"]] == [21]
    every = (await client.get("/timers/")).json()
    assert sorted(t["userId"] for t in every["data"]) == [10, 11, 21] and every["pagination"]["total"] == 3
    assert [t["userId"] for t in (await client.get("/timers/?companyId=2")).json()["data"]] == [21]
    assert (await client.get("/timers/?companyId=2", headers=admin)).status_code == 404

    # Another company's timer is a 404 whichever way it is named.
    assert (await client.get("/timers/current/21/", headers=admin)).status_code == 404
    assert (await client.post("/timers/stop/21/", json={}, headers=admin)).status_code == 404
    assert (await client.patch(f"/timers/{theirs['timerId']}/", json={}, headers=admin)).status_code == 404
    assert (await client.delete(f"/timers/{theirs['timerId']}/", headers=company_key)).status_code == 404
    assert (await client.post("/timers/start/", json={"taskId": 250, "userId": 21}, headers=admin)).status_code == 422

    stopped = await client.post("/timers/stop/10/", json={}, headers=admin)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["timer"]["timerId"] == ours["timerId"]
    assert stopped.json()["data"]["createdBy"] == "employee:1"
    assert await running_count(backend) == 2


async def test_running_timers_survive_a_restart(client, backend):
    await seed(client)
    timer = await start(client, {"taskId": 250, "userId": 10, "startTime": hours_from_now(-1)})
    async with app_and_client(backend) as (_, fresh):
        current = (await fresh.get("/timers/current/10/")).json()["data"]
        assert current["timerId"] == timer["timerId"] and current["startTime"] == timer["startTime"]
        assert (await fresh.post("/timers/stop/10/", json={})).status_code == 200
    assert await running_count(backend) == 0 and await log_count(backend) == 1


async def test_concurrent_stops_create_one_log(client, backend):
    await seed(client)
    await start(client, {"taskId": 250, "userId": 10, "startTime": hours_from_now(-1)})
    responses = await asyncio.gather(*(client.post("/timers/stop/10/", json={}) for _ in range(5)))
    assert Counter(r.status_code for r in responses) == {200: 1, 404: 4}, [r.text for r in responses]
    assert {r.json()["error_code"] for r in responses if r.status_code == 404} == {"NO_RUNNING_TIMER"}
    assert await log_count(backend) == 1 and await running_count(backend) == 0


# ---------------------------------------------------------------- the order of locks (PostgreSQL)


@pytest.mark.usefixtures("postgres_only")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/timers/stop/10/", {}),
        ("PATCH", "/timers/{timer_id}/", {"taskId": 251}),
        ("DELETE", "/timers/{timer_id}/", None),
    ],
    ids=["stop", "edit", "discard"],
)
async def test_a_timers_write_waits_for_its_employee_before_it_locks_the_timer(client, backend, method, path, body):
    """Every write of an employee's time locks the employee's row first; a
    start with stopRunning then locks the timer. A stop, edit or discard that
    locked the timer first would deadlock with it (seen under load: one of
    the two rolled back, answered 503)."""
    await seed(client)
    timer = await start(client, {"taskId": 250, "userId": 10, "startTime": hours_from_now(-1)})
    sessionmaker = make_sessionmaker(backend.engine)
    async with sessionmaker() as session, session.begin():
        # What a concurrent write of employee 10's time holds until it commits.
        await ReferenceRepository(session).write_contexts(set(), {10})
        request = asyncio.create_task(client.request(method, path.format(timer_id=timer["timerId"]), json=body))
        await backend.until_one_waits_on_a_lock(request)
        # It waits on the employee, and has not taken the timer.
        assert not await backend.row_is_locked("running_timers", "user_id = 10")
    response = await asyncio.wait_for(request, 20)
    assert response.status_code == 200, response.text
