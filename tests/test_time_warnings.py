"""Dyzo's time warnings over HTTP, on both databases: opened by the writes
that create their condition, resolved by the system when an edit or delete
removes it, reopened when it returns; an ignored warning stays ignored while
its condition holds; local days in the employee's zone; access per role."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import event

from app.main import create_app
from tests.conftest import app_and_client
from tests.factories import log, seed

LIST = "/api/company/{company}/time-warnings/"
ACTION = "/api/time-warning/action/"


def auth(backend: Any, employee_id: int, company_id: int = 1) -> dict[str, str]:
    return {"Authorization": f"Bearer {backend.token(employee_id, company_id)}"}


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> int:
    response = await client.post("/tasklog/create/", json=body)
    assert response.status_code == 200, response.text
    return int(response.json()["data"]["taskLogId"])


async def warnings(client: httpx.AsyncClient, company: int = 1, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(LIST.format(company=company), params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def act(client: httpx.AsyncClient, ids: list[int], action: str, **kwargs: Any) -> httpx.Response:
    return await client.post(ACTION, json={"warningIds": ids, "action": action, **kwargs.pop("body", {})}, **kwargs)


async def stored(backend: Any) -> list[tuple[Any, ...]]:
    rows = await backend.rows("SELECT type, user_id, subject, status, resolved_by FROM time_warnings ORDER BY id")
    return [tuple(r) for r in rows]


# Two logs of 7 hours on 2024-10-29 (UTC): 14 hours, over the default 12.
MORNING = log(start="2024-10-29T01:00:00Z", end="2024-10-29T08:00:00Z")
EVENING = log(start="2024-10-29T09:00:00Z", end="2024-10-29T16:00:00Z")


async def test_a_day_over_the_limit_opens_a_warning_and_a_delete_resolves_it(client, backend):
    await seed(client)
    first = await create(client, MORNING)
    assert await stored(backend) == []  # 7 hours: nothing to store
    second = await create(client, EVENING)
    (warning,) = await warnings(client)
    assert warning | {"warningId": 0, "createdAt": None, "updatedAt": None} == {
        "warningId": 0,
        "type": "OVER_LOGGED",
        "userId": 10,
        "date": "2024-10-29",
        "totalSeconds": 14 * 3600,
        "taskLogIds": [],
        "status": "open",
        "resolvedBy": None,
        "createdAt": None,
        "updatedAt": None,
        "actionBy": None,
        "note": None,
    }
    # Shortening a log keeps it over, with the new total.
    assert (await client.patch(f"/tasklogs/{first}/", json={"endTime": "2024-10-29T07:00:00Z"})).status_code == 200
    (still,) = await warnings(client)
    assert (still["warningId"], still["totalSeconds"]) == (warning["warningId"], 13 * 3600)

    assert (await client.delete(f"/api/tasklogs/delete/{second}/")).status_code == 200
    assert await warnings(client) == []
    (resolved,) = await warnings(client, status="resolved")
    assert (resolved["warningId"], resolved["resolvedBy"]) == (warning["warningId"], "system")

    # The condition returns: the same warning reopens.
    assert (await client.post(f"/tasklogs/{second}/restore/")).status_code == 200
    (reopened,) = await warnings(client)
    assert (reopened["warningId"], reopened["status"], reopened["resolvedBy"]) == (warning["warningId"], "open", None)
    assert await stored(backend) == [("OVER_LOGGED", 10, "2024-10-29", "open", None)]


async def test_overlapping_logs_give_one_warning_per_pair_until_moved_apart(client, backend):
    await seed(client)
    a = await create(client, log(start="2024-10-29T09:00:00Z", end="2024-10-29T11:00:00Z"))
    b = await create(client, log(task_id=251, start="2024-10-29T10:00:00Z", end="2024-10-29T12:00:00Z"))
    c = await create(client, log(task_id=252, start="2024-10-29T10:30:00Z", end="2024-10-29T10:45:00Z"))
    found = await warnings(client, type="OVERLAPPING_LOG")
    assert sorted(tuple(w["taskLogIds"]) for w in found) == [(a, b), (a, c), (b, c)]
    assert {w["date"] for w in found} == {"2024-10-29"}
    # c moves to the afternoon: its two pairs are resolved, (a, b) stays open.
    moved = await client.patch(
        f"/tasklogs/{c}/", json={"startTime": "2024-10-29T14:00:00Z", "endTime": "2024-10-29T15:00:00Z"}
    )
    assert moved.status_code == 200, moved.text
    assert [w["taskLogIds"] for w in await warnings(client)] == [[a, b]]
    resolved = await warnings(client, status="resolved")
    assert sorted(tuple(w["taskLogIds"]) for w in resolved) == [(a, c), (b, c)]
    assert {w["resolvedBy"] for w in resolved} == {"system"}
    # Deleting b resolves (a, b).
    assert (await client.delete(f"/api/tasklogs/delete/{b}/")).status_code == 200
    assert await warnings(client) == []
    assert len(await warnings(client, status="resolved")) == 3


async def test_an_ignored_warning_stays_ignored_while_its_condition_holds(client, backend):
    await seed(client)
    await create(client, MORNING)
    evening = await create(client, EVENING)
    (warning,) = await warnings(client)
    ignored = await act(client, [warning["warningId"]], "ignore", body={"note": "Release day"})
    assert ignored.status_code == 200, ignored.text
    (answer,) = ignored.json()["data"]
    assert (answer["status"], answer["note"], answer["actionBy"]) == ("ignored", "Release day", "apikey:1")
    # More time the same day: still over, still ignored.
    await create(client, log(task_id=251, start="2024-10-29T17:00:00Z", end="2024-10-29T18:00:00Z"))
    assert await warnings(client) == []
    (kept,) = await warnings(client, status="ignored")
    assert (kept["warningId"], kept["totalSeconds"]) == (warning["warningId"], 15 * 3600)
    # Back under the limit: resolved by the system; over again: open.
    assert (await client.delete(f"/api/tasklogs/delete/{evening}/")).status_code == 200
    (resolved,) = await warnings(client, status="resolved")
    assert resolved["resolvedBy"] == "system"
    await create(client, EVENING)
    assert [w["warningId"] for w in await warnings(client)] == [warning["warningId"]]
    # An admin's own resolve holds while the condition does.
    assert (await act(client, [warning["warningId"]], "resolve")).json()["data"][0]["resolvedBy"] == "apikey:1"
    await create(client, log(task_id=252, start="2024-10-29T19:00:00Z", end="2024-10-29T19:30:00Z"))
    assert await warnings(client) == []
    assert (await act(client, [warning["warningId"]], "reopen")).json()["data"][0]["status"] == "open"


async def test_local_days_are_the_employees_across_local_midnight(client, backend):
    # Kolkata is UTC+5:30: its 2024-10-30 runs from 2024-10-29T18:30Z.
    await seed(client, timezone="Asia/Kolkata")
    # 11 hours from local midnight and 2 more later the same local day; in UTC
    # they split 5.5 h on the 29th and 7.5 h on the 30th, neither over.
    await create(client, log(start="2024-10-29T18:30:00Z", end="2024-10-30T05:30:00Z"))
    await create(client, log(task_id=251, start="2024-10-30T06:00:00Z", end="2024-10-30T08:00:00Z"))
    (over,) = await warnings(client)
    assert (over["type"], over["date"], over["totalSeconds"]) == ("OVER_LOGGED", "2024-10-30", 13 * 3600)
    # An overlap that begins after local midnight is on the local 30th, though
    # one log starts on the 29th (local 23:00).
    a = await create(client, log(user_id=11, start="2024-10-29T17:30:00Z", end="2024-10-29T19:00:00Z"))
    b = await create(client, log(user_id=11, task_id=251, start="2024-10-29T18:45:00Z", end="2024-10-29T19:30:00Z"))
    (pair,) = await warnings(client, type="OVERLAPPING_LOG")
    assert (pair["taskLogIds"], pair["date"], pair["userId"]) == ([a, b], "2024-10-30", 11)
    # Moving the later log before local midnight moves the overlap's day too.
    await client.patch(f"/tasklogs/{b}/", json={"startTime": "2024-10-29T18:00:00Z"})
    (pair,) = await warnings(client, type="OVERLAPPING_LOG")
    assert pair["date"] == "2024-10-29"


async def test_who_sees_and_acts_on_which_warnings(client, backend):
    await seed(client)
    await create(client, MORNING)
    await create(client, EVENING)
    await create(client, log(user_id=11, start="2024-10-29T01:00:00Z", end="2024-10-29T14:00:00Z"))
    await create(client, log(task_id=900, user_id=21, start="2024-10-29T01:00:00Z", end="2024-10-29T14:00:00Z"))
    asha, ravi, admin, other_admin = auth(backend, 10), auth(backend, 11), auth(backend, 1), auth(backend, 20, 2)
    by_user = {w["userId"]: w["warningId"] for w in await warnings(client)}
    theirs = (await warnings(client, company=2))[0]["warningId"]

    assert [w["userId"] for w in (await client.get(LIST.format(company=1), headers=asha)).json()["data"]] == [10]
    asked_for_other = await client.get(LIST.format(company=1), params={"employeeId": 11}, headers=asha)
    assert asked_for_other.json()["data"] == []
    assert sorted(w["userId"] for w in (await client.get(LIST.format(company=1), headers=admin)).json()["data"]) == [
        10,
        11,
    ]
    assert (await client.get(LIST.format(company=1), headers=other_admin)).status_code == 404
    await backend.execute("UPDATE employees SET is_team_leader = true WHERE id = 11")
    assert len((await client.get(LIST.format(company=1), headers=ravi)).json()["data"]) == 2

    # Employees resolve their own, nothing else.
    assert (await act(client, [by_user[10]], "ignore", headers=asha)).status_code == 403
    assert (await act(client, [by_user[11]], "resolve", headers=asha)).status_code == 403
    assert (await act(client, [by_user[10]], "resolve", headers=asha)).status_code == 200

    # An unknown id, or another company's, is a 422 naming it; nothing changes.
    before = await stored(backend)
    refused = await act(client, [by_user[11], theirs, 999999], "ignore", headers=admin)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["warningIds[1]", "warningIds[2]"]
    assert {e["code"] for e in refused.json()["errors"]} == {"WARNING_NOT_FOUND"}
    assert await stored(backend) == before
    # The answer is the warning as the action stored it, to the second of its updatedAt.
    ignored = (await act(client, [by_user[11]], "ignore", headers=admin, body={"note": "Agreed"})).json()["data"]
    assert [(w["status"], w["note"], w["actionBy"]) for w in ignored] == [("ignored", "Agreed", "employee:1")]
    assert ignored == await warnings(client, status="ignored", employeeId=11)
    assert (await act(client, [theirs], "ignore", headers=other_admin)).status_code == 200


async def test_under_logged_working_days_are_computed_when_listed(backend):
    await backend.clean()
    async with app_and_client(backend, min_daily_hours=4) as (_, client):
        await seed(client)
        await create(client, log(start="2024-10-29T08:00:00Z", end="2024-10-29T13:00:00Z"))  # Tue, 5 h
        await create(client, log(start="2024-10-30T08:00:00Z", end="2024-10-30T09:00:00Z"))  # Wed, 1 h
        week = {"type": "UNDER_LOGGED", "employeeId": 10, "start_date": "2024-10-28", "end_date": "2024-11-03"}
        found = await warnings(client, **week)
        assert [(w["date"], w["totalSeconds"]) for w in found] == [
            ("2024-11-01", 0),
            ("2024-10-31", 0),
            ("2024-10-30", 3600),
            ("2024-10-28", 0),
        ]
        assert {(w["warningId"], w["status"]) for w in found} == {(None, "open")}
        assert await warnings(client, **week, status="ignored") == []
        assert await stored(backend) == []


async def test_a_create_that_opens_no_warning_runs_no_warning_statement(backend):
    """The write path's cost: warnings are worked out from what the write
    computes anyway, so a create with nothing to warn about adds no round trip."""
    await backend.clean()
    app = create_app(backend.settings())
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if "time_warnings" in sql:
            statements.append(sql.split()[0].upper())

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", seen)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"X-API-Key": await backend.api_key("platform")},
    )
    try:
        await seed(client)
        await create(client, MORNING)
        assert statements == []
        evening = await create(client, EVENING)
        assert statements == ["INSERT"]
        statements.clear()
        assert (await client.delete(f"/api/tasklogs/delete/{evening}/")).status_code == 200
        assert statements == ["UPDATE"]
    finally:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


async def test_timer_stops_and_bulk_uploads_keep_warnings_too(client, backend):
    await seed(client)
    earlier = await create(client, log(start="2024-10-29T09:00:00Z", end="2024-10-29T10:00:00Z"))
    started = await client.post(
        "/timers/start/", json={"taskId": 251, "userId": 10, "startTime": "2024-10-29T09:30:00Z"}
    )
    assert started.status_code == 200, started.text
    stopped = await client.post("/timers/stop/10/", json={"endTime": "2024-10-29T11:00:00Z"})
    assert stopped.status_code == 200, stopped.text
    timed = stopped.json()["data"]["taskLogId"]
    assert [w["taskLogIds"] for w in await warnings(client, type="OVERLAPPING_LOG")] == [[earlier, timed]]

    day = [log(user_id=11, start=f"2024-10-30T{h:02d}:00:00Z", end=f"2024-10-30T{h + 1:02d}:00:00Z") for h in range(13)]
    uploaded = await client.post("/tasklogs/bulk/create/11/", json=day)
    assert uploaded.status_code == 200, uploaded.text
    (over,) = await warnings(client, type="OVER_LOGGED")
    assert (over["userId"], over["date"], over["totalSeconds"]) == (11, "2024-10-30", 13 * 3600)


async def test_concurrent_writes_to_one_over_logged_day_keep_one_warning(client, backend):
    await seed(client)
    await create(client, log(start="2024-10-29T00:00:00Z", end="2024-10-29T12:00:00Z"))
    bodies = [
        log(task_id=251, start=f"2024-10-29T{12 + i}:00:00Z", end=f"2024-10-29T{12 + i}:30:00Z") for i in range(10)
    ]
    responses = await asyncio.gather(*(client.post("/tasklog/create/", json=b) for b in bodies))
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    (over,) = await warnings(client)
    assert await backend.scalar("SELECT count(*) FROM time_warnings") == 1
    # One employee's writes take turns (their employee row is locked), so the
    # last to commit saw every other: the stored total is the day's.
    assert over["totalSeconds"] == 17 * 3600
    totals = sorted(r.json()["dailyTotals"][0]["totalSeconds"] for r in responses)
    assert totals == [12 * 3600 + 1800 * (i + 1) for i in range(10)]


async def test_two_long_logs_written_at_once_find_their_long_day(client, backend):
    # 7 + 7 hours: neither alone is over the 12-hour day, together they are.
    await seed(client)
    bodies = [
        log(task_id=250, start="2024-10-29T00:00:00Z", end="2024-10-29T07:00:00Z"),
        log(task_id=251, start="2024-10-29T08:00:00Z", end="2024-10-29T15:00:00Z"),
    ]
    responses = await asyncio.gather(*(client.post("/tasklog/create/", json=b) for b in bodies))
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    (over,) = await warnings(client)
    assert (over["type"], over["userId"], over["totalSeconds"]) == ("OVER_LOGGED", 10, 14 * 3600)
