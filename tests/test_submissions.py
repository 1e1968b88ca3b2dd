"""Timesheet submissions over HTTP, on both databases: an employee's week
is submitted (and its logs locked), approved, rejected (unlocked) or
reopened; who may do each; nobody reviews their own week but a lone admin;
the week follows the company's first weekday and the employee's zone; every
transition is in the history, with its notifications and outbox events;
concurrent submits of one week make one submission. On PostgreSQL, a
submit waits for a write of the employee in flight and counts it, and a
write that waited for a submit is refused."""

import asyncio
import json
from typing import Any

import httpx
import pytest

from app.auth.principal import SYSTEM
from app.core.database import make_sessionmaker
from app.submissions.schemas import SubmissionIn
from app.submissions.service import submit_week
from app.webhooks.schemas import EXAMPLE_URL, WebhookCreate
from tests.factories import log, put, seed
from tests.test_write_locks import write_held_open

SUBMISSIONS = "/timesheets/submissions/"
WEEK = "2024-10-21"  # a Monday; the week runs to Sunday 2024-10-27
# Employee 10's logs of the week (company 1 counts in UTC in these tests): 2 h and 1.5 h.
WEEK_LOGS = [
    log(250, 10, "2024-10-22T09:00:00Z", "2024-10-22T11:00:00Z", description="Login form"),
    log(251, 10, "2024-10-23T09:00:00Z", "2024-10-23T10:30:00Z", description="Review"),
]
WEEK_SECONDS = 7200 + 5400


def bearer(backend: Any, employee_id: int, company_id: int = 1) -> dict[str, str]:
    return {"Authorization": f"Bearer {backend.token(employee_id, company_id)}"}


async def setup(client: httpx.AsyncClient, *, logs: bool = True, **seed_options: Any) -> None:
    """The usual seed (admins 1 and 2, employees 10 and 11, inactive 12; company 2 with admin 20 and
    employee 21), team leader 13 of company 1, and employee 10's logs of the week."""
    await seed(client, **seed_options)
    await put(client, "/employees/13/", {"companyId": 1, "name": "Tia Lead", "isTeamLeader": True})
    if logs:
        for body in WEEK_LOGS:
            assert (await client.post("/tasklog/create/", json=body)).status_code == 200


async def submit(client: httpx.AsyncClient, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return await client.post(SUBMISSIONS, json=body, **kwargs)


async def submitted(client: httpx.AsyncClient, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = await submit(client, body, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def act(client: httpx.AsyncClient, submission_id: int, action: str, **kwargs: Any) -> httpx.Response:
    return await client.post(f"{SUBMISSIONS}{submission_id}/{action}/", **kwargs)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    return body


def assert_week_locked(response: httpx.Response, submission_id: int) -> None:
    body = assert_error(response, 409, "PERIOD_LOCKED")
    assert (body["submissionId"], body["weekStart"]) == (submission_id, WEEK)


async def log_rows(backend: Any) -> list[tuple[int, str]]:
    return [(r.id, r.description) for r in await backend.rows("SELECT id, description FROM task_logs ORDER BY id")]


async def history(client: httpx.AsyncClient, submission_id: int) -> list[tuple[str, str, str, str | None, int]]:
    response = await client.get(f"{SUBMISSIONS}{submission_id}/")
    assert response.status_code == 200, response.text
    return [
        (h["action"], h["status"], h["by"], h["comment"], h["totalSeconds"]) for h in response.json()["data"]["history"]
    ]


# ---------------------------------------------------------------- submit, lock, reject, unlock


async def test_a_submitted_week_locks_its_logs_until_it_is_rejected(client, backend):
    await setup(client)
    ids = [r[0] for r in await log_rows(backend)]
    data = await submitted(client, {"weekStart": WEEK}, headers=bearer(backend, 10))
    submission_id = data["submissionId"]
    assert data == {
        "submissionId": submission_id,
        "companyId": 1,
        "userId": 10,
        "weekStart": WEEK,
        "weekEnd": "2024-10-27",
        "status": "SUBMITTED",
        "totalSeconds": WEEK_SECONDS,
        "approvedSeconds": None,
        "submittedAt": data["submittedAt"],
        "submittedBy": "employee:10",
        "reviewedAt": None,
        "reviewedBy": None,
        "comment": None,
    }
    assert data["submittedAt"].endswith("Z")
    before = await log_rows(backend)

    # Create, edit, move out, delete: refused, by the employee and by an admin alike.
    inside = log(252, 10, "2024-10-27T20:00:00Z", "2024-10-27T21:00:00Z")
    assert_week_locked(await client.post("/tasklog/create/", json=inside), submission_id)
    assert_week_locked(await client.post("/tasklog/create/", json=inside, headers=bearer(backend, 10)), submission_id)
    assert_week_locked(await client.patch(f"/tasklogs/{ids[0]}/", json={"description": "changed"}), submission_id)
    moved = {"startTime": "2024-10-29T09:00:00Z", "endTime": "2024-10-29T10:00:00Z"}
    assert_week_locked(await client.patch(f"/tasklogs/{ids[0]}/", json=moved), submission_id)
    assert_week_locked(await client.delete(f"/api/tasklogs/delete/{ids[1]}/"), submission_id)
    # Bulk: the item in the week is an item error, and nothing of the batch is saved.
    bulk = await client.post(
        "/tasklogs/bulk/create/10/", json=[log(252, 10, "2024-10-28T09:00:00Z", "2024-10-28T10:00:00Z"), inside]
    )
    assert bulk.status_code == 422, bulk.text
    assert [(e["field"], e["code"]) for e in bulk.json()["errors"]] == [("[1].startTime", "PERIOD_LOCKED")]
    assert await log_rows(backend) == before
    # Another employee's week, and the employee's next week, are open.
    assert (
        await client.post("/tasklog/create/", json=log(252, 11, inside["startTime"], inside["endTime"]))
    ).status_code == 200
    assert (
        await client.post("/tasklog/create/", json=log(252, 10, "2024-10-28T00:00:00Z", "2024-10-28T01:00:00Z"))
    ).status_code == 200

    # Reject unlocks: the employee fixes the week and submits it again, on the same submission.
    rejected = await act(
        client, submission_id, "reject", json={"comment": "Friday is missing"}, headers=bearer(backend, 1)
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["data"] | {"reviewedAt": None} == data | {
        "status": "REJECTED",
        "reviewedBy": "employee:1",
        "comment": "Friday is missing",
    }
    assert rejected.json()["data"]["reviewedAt"].endswith("Z")
    assert (await client.post("/tasklog/create/", json=inside, headers=bearer(backend, 10))).status_code == 200
    assert (await client.delete(f"/api/tasklogs/delete/{ids[1]}/")).status_code == 200
    again = await submitted(client, {"week_start": WEEK}, headers=bearer(backend, 10))
    assert again["submissionId"] == submission_id
    assert (again["status"], again["totalSeconds"], again["comment"], again["reviewedBy"]) == (
        "SUBMITTED",
        7200 + 3600,
        None,
        None,
    )
    assert_week_locked(await client.delete(f"/api/tasklogs/delete/{ids[0]}/"), submission_id)
    assert await history(client, submission_id) == [
        ("SUBMITTED", "SUBMITTED", "employee:10", None, WEEK_SECONDS),
        ("REJECTED", "REJECTED", "employee:1", "Friday is missing", WEEK_SECONDS),
        ("SUBMITTED", "SUBMITTED", "employee:10", None, 7200 + 3600),
    ]
    assert await backend.scalar("SELECT count(*) FROM timesheet_submissions") == 1


async def test_the_week_is_the_employees_local_week(client, backend):
    # Employee 11 counts in Asia/Kolkata (UTC+5:30): their week of the 21st runs from 20 October 18:30 UTC
    # to 27 October 18:30 UTC.
    await setup(client, logs=False)
    await put(client, "/employees/11/", {"companyId": 1, "name": "Ravi Kumar", "timezone": "Asia/Kolkata"})
    first = log(250, 11, "2024-10-20T19:00:00Z", "2024-10-20T20:00:00Z")  # Monday 00:30 in Kolkata
    after = log(250, 11, "2024-10-27T18:45:00Z", "2024-10-27T19:45:00Z")  # the next Monday 00:15
    for body in (first, after):
        assert (await client.post("/tasklog/create/", json=body)).status_code == 200
    data = await submitted(client, {"userId": 11, "weekStart": WEEK})
    assert data["totalSeconds"] == 3600
    before = log(250, 11, "2024-10-20T18:00:00Z", "2024-10-20T18:15:00Z")  # Sunday 23:30 in Kolkata
    assert (await client.post("/tasklog/create/", json=before)).status_code == 200
    assert_week_locked(
        await client.post("/tasklog/create/", json=log(251, 11, "2024-10-27T18:00:00Z", "2024-10-27T18:15:00Z")),
        data["submissionId"],
    )
    stored = await backend.rows("SELECT starts_at, ends_at FROM timesheet_submissions")
    assert [(str(s)[:16], str(e)[:16]) for s, e in stored] == [("2024-10-20 18:30", "2024-10-27 18:30")]


async def test_the_week_starts_on_the_companys_first_weekday(client, backend):
    await setup(client)
    await put(client, "/companies/1/", {"name": "Acme", "timezone": "UTC", "weekStart": "sunday"})
    body = assert_error(await submit(client, {"userId": 10, "weekStart": WEEK}), 422, "INVALID_WEEK_START")
    assert "Sunday" in body["message"] and "2024-10-20" in body["message"]
    assert body["errors"] == [{"field": "weekStart", "message": body["message"], "code": "INVALID_WEEK_START"}]
    data = await submitted(client, {"userId": 10, "weekStart": "2024-10-20"})
    assert (data["weekStart"], data["weekEnd"], data["totalSeconds"]) == ("2024-10-20", "2024-10-26", WEEK_SECONDS)
    # Company 2 keeps Monday.
    assert_error(await submit(client, {"userId": 21, "weekStart": "2024-10-20"}), 422, "INVALID_WEEK_START")
    assert (await submit(client, {"userId": 21, "weekStart": WEEK})).status_code == 200


async def test_a_week_that_has_not_begun_cannot_be_submitted(client, backend):
    await setup(client, logs=False)
    body = assert_error(await submit(client, {"userId": 10, "weekStart": "2100-01-04"}), 422, "FUTURE_WEEK")
    assert body["errors"][0]["field"] == "weekStart"
    assert_error(await submit(client, {"userId": 10, "weekStart": "21-10-2024"}), 422, "VALIDATION_ERROR")
    assert_error(await submit(client, {"weekStart": WEEK}), 422, "REQUIRED")  # a key names the employee
    assert await backend.scalar("SELECT count(*) FROM timesheet_submissions") == 0


async def test_a_submitted_or_approved_week_is_not_submitted_twice(client, backend):
    await setup(client)
    data = await submitted(client, {"userId": 10, "weekStart": WEEK})
    body = assert_error(await submit(client, {"userId": 10, "weekStart": WEEK}), 409, "ALREADY_SUBMITTED")
    assert (body["submissionId"], body["currentStatus"]) == (data["submissionId"], "SUBMITTED")
    assert (await act(client, data["submissionId"], "approve")).status_code == 200
    body = assert_error(
        await submit(client, {"weekStart": WEEK}, headers=bearer(backend, 10)), 409, "ALREADY_SUBMITTED"
    )
    assert (body["submissionId"], body["currentStatus"]) == (data["submissionId"], "APPROVED")
    assert await backend.scalar("SELECT count(*) FROM submission_events") == 2


async def test_a_review_comment_is_clean_text_of_at_most_2000_characters(client, backend):
    await setup(client, logs=False)
    submission_id = (await submitted(client, {"userId": 10, "weekStart": WEEK}))["submissionId"]
    for comment in ("x" * 2001, "bell\x07"):
        body = assert_error(
            await act(client, submission_id, "reject", json={"comment": comment}), 422, "VALIDATION_ERROR"
        )
        assert body["errors"][0]["field"] == "comment"
    answer = await act(client, submission_id, "reject", json={"comment": "  Tuesday\nis missing  "})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["comment"] == "Tuesday\nis missing"
    # Without a body at all.
    await submitted(client, {"userId": 10, "weekStart": WEEK})
    assert (await act(client, submission_id, "approve")).status_code == 200


# ---------------------------------------------------------------- roles


async def test_who_may_submit_whose_week(client, backend):
    await setup(client)
    # A team leader or an admin for an employee of their company; a platform key for anyone.
    assert (await submitted(client, {"userId": 10, "weekStart": WEEK}, headers=bearer(backend, 13)))[
        "submittedBy"
    ] == "employee:13"
    assert (await submitted(client, {"userId": 11, "weekStart": WEEK}, headers=bearer(backend, 1)))["userId"] == 11
    assert (await submitted(client, {"userId": 21, "weekStart": WEEK}))["companyId"] == 2
    company_key = {"X-API-Key": await backend.api_key("company 1", company_id=1)}
    assert (await submitted(client, {"userId": 10, "weekStart": "2024-10-14"}, headers=company_key))[
        "submittedBy"
    ].startswith("apikey:")
    # An employee only their own; another company's employee does not exist for the caller.
    assert_error(
        await submit(client, {"userId": 11, "weekStart": "2024-10-14"}, headers=bearer(backend, 10)), 403, "FORBIDDEN"
    )
    assert_error(
        await submit(client, {"userId": 10, "weekStart": "2024-10-07"}, headers=bearer(backend, 20, 2)),
        404,
        "USER_NOT_FOUND",
    )
    assert_error(
        await submit(client, {"userId": 21, "weekStart": "2024-10-07"}, headers=company_key), 404, "USER_NOT_FOUND"
    )
    assert_error(await submit(client, {"userId": 999, "weekStart": WEEK}), 404, "USER_NOT_FOUND")
    assert await backend.scalar("SELECT count(*) FROM timesheet_submissions") == 4


async def test_who_may_approve_reject_and_reopen(client, backend):
    await setup(client)
    submission_id = (await submitted(client, {"weekStart": WEEK}, headers=bearer(backend, 10)))["submissionId"]
    # A colleague does not see it; another company's admin neither; the employee may not review it.
    assert_error(await act(client, submission_id, "approve", headers=bearer(backend, 11)), 404, "SUBMISSION_NOT_FOUND")
    assert_error(
        await act(client, submission_id, "approve", headers=bearer(backend, 20, 2)), 404, "SUBMISSION_NOT_FOUND"
    )
    assert_error(await act(client, submission_id, "reject", headers=bearer(backend, 10)), 403, "FORBIDDEN")
    assert_error(await act(client, 999, "approve"), 404, "SUBMISSION_NOT_FOUND")

    # A team leader approves; the approved total is the week's.
    approved = await act(client, submission_id, "approve", json={"comment": "Thanks"}, headers=bearer(backend, 13))
    assert approved.status_code == 200, approved.text
    data = approved.json()["data"]
    assert (data["status"], data["approvedSeconds"], data["reviewedBy"], data["comment"]) == (
        "APPROVED",
        WEEK_SECONDS,
        "employee:13",
        "Thanks",
    )
    # Only from SUBMITTED.
    for action in ("approve", "reject"):
        body = assert_error(
            await act(client, submission_id, action, headers=bearer(backend, 1)), 409, "INVALID_TRANSITION"
        )
        assert (body["submissionId"], body["currentStatus"]) == (submission_id, "APPROVED")
    # The approved week stays locked.
    ids = [r[0] for r in await log_rows(backend)]
    assert_week_locked(await client.delete(f"/api/tasklogs/delete/{ids[0]}/"), submission_id)

    # Reopen: admins and keys only, not team leaders; the approved total is kept.
    assert_error(await act(client, submission_id, "reopen", headers=bearer(backend, 13)), 403, "FORBIDDEN")
    assert_error(await act(client, submission_id, "reopen", headers=bearer(backend, 10)), 403, "FORBIDDEN")
    assert_error(
        await act(client, submission_id, "reopen", headers=bearer(backend, 20, 2)), 404, "SUBMISSION_NOT_FOUND"
    )
    reopened = await act(client, submission_id, "reopen", json={"comment": "Split by task"}, headers=bearer(backend, 1))
    assert reopened.status_code == 200, reopened.text
    data = reopened.json()["data"]
    assert (data["status"], data["approvedSeconds"], data["reviewedBy"], data["comment"]) == (
        "REJECTED",
        WEEK_SECONDS,
        "employee:1",
        "Split by task",
    )
    body = assert_error(await act(client, submission_id, "reopen"), 409, "INVALID_TRANSITION")
    assert body["currentStatus"] == "REJECTED"
    assert (await client.delete(f"/api/tasklogs/delete/{ids[0]}/")).status_code == 200
    assert await history(client, submission_id) == [
        ("SUBMITTED", "SUBMITTED", "employee:10", None, WEEK_SECONDS),
        ("APPROVED", "APPROVED", "employee:13", "Thanks", WEEK_SECONDS),
        ("REOPENED", "REJECTED", "employee:1", "Split by task", WEEK_SECONDS),
    ]
    # Submitted again after the reopen (without the deleted log), then rejected by a platform key.
    again = await submitted(client, {"userId": 10, "weekStart": WEEK})
    assert (again["totalSeconds"], again["approvedSeconds"]) == (5400, WEEK_SECONDS)
    rejected = await act(client, submission_id, "reject")
    assert rejected.status_code == 200 and rejected.json()["data"]["reviewedBy"].startswith("apikey:")


async def test_nobody_reviews_their_own_week_except_a_lone_admin(client, backend):
    await setup(client, logs=False)
    own = (await submitted(client, {"weekStart": WEEK}, headers=bearer(backend, 1)))["submissionId"]
    lead = (await submitted(client, {"weekStart": WEEK}, headers=bearer(backend, 13)))["submissionId"]
    # Admin 2 is active: admin 1 may not approve their own week, and the leader never theirs.
    assert_error(await act(client, own, "approve", headers=bearer(backend, 1)), 403, "FORBIDDEN")
    assert_error(await act(client, own, "reject", headers=bearer(backend, 1)), 403, "FORBIDDEN")
    assert_error(await act(client, lead, "approve", headers=bearer(backend, 13)), 403, "FORBIDDEN")
    # Another team leader may review an admin's week.
    await put(client, "/employees/14/", {"companyId": 1, "name": "Uma Lead", "isTeamLeader": True})
    assert (await act(client, lead, "approve", headers=bearer(backend, 14))).status_code == 200
    # With admin 2 inactive, admin 1 is the only admin: they may approve and reopen their own week.
    await put(client, "/employees/2/", {"companyId": 1, "name": "Bo Admin", "isAdmin": True, "isActive": False})
    approved = await act(client, own, "approve", headers=bearer(backend, 1))
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["reviewedBy"] == "employee:1"
    assert (await act(client, own, "reopen", headers=bearer(backend, 1))).status_code == 200
    # The lone-admin rule is the admin's only: a team leader still may not review their own week.
    await put(client, "/employees/13/", {"companyId": 1, "name": "Tia Lead", "isTeamLeader": True})
    assert_error(await act(client, lead, "reopen", headers=bearer(backend, 13)), 403, "FORBIDDEN")
    # Company 2's only admin, 20, reviews their own week too.
    theirs = (await submitted(client, {"weekStart": WEEK}, headers=bearer(backend, 20, 2)))["submissionId"]
    assert (await act(client, theirs, "reject", headers=bearer(backend, 20, 2))).status_code == 200


# ---------------------------------------------------------------- reading


async def test_who_sees_which_submissions(client, backend):
    await setup(client, logs=False)
    first = await submitted(client, {"userId": 10, "weekStart": "2024-10-14"})
    second = await submitted(client, {"userId": 10, "weekStart": WEEK})
    third = await submitted(client, {"userId": 11, "weekStart": WEEK})
    theirs = await submitted(client, {"userId": 21, "weekStart": WEEK})
    assert (await act(client, first["submissionId"], "approve")).status_code == 200

    async def listed(query: dict[str, Any] | None = None, **kwargs: Any) -> list[int]:
        response = await client.get(SUBMISSIONS, params=query or {}, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["pagination"] == {"page": 1, "pageSize": 50, "total": len(body["data"])}
        return [s["submissionId"] for s in body["data"]]

    ours = [third["submissionId"], second["submissionId"], first["submissionId"]]  # latest week first
    assert await listed() == [theirs["submissionId"], *ours]  # a platform key: every company
    assert await listed({"companyId": 2}) == [theirs["submissionId"]]
    for reader in (1, 13):
        assert await listed(headers=bearer(backend, reader)) == ours
    assert await listed(headers=bearer(backend, 10)) == [second["submissionId"], first["submissionId"]]
    assert await listed(headers=bearer(backend, 20, 2)) == [theirs["submissionId"]]
    # Filters.
    assert await listed({"status": "APPROVED"}, headers=bearer(backend, 1)) == [first["submissionId"]]
    assert await listed({"employeeId": 11}, headers=bearer(backend, 1)) == [third["submissionId"]]
    assert await listed({"userId": 10, "from": WEEK}, headers=bearer(backend, 1)) == [second["submissionId"]]
    assert await listed({"to": "2024-10-20"}, headers=bearer(backend, 1)) == [first["submissionId"]]
    # Out of reach: nothing, not an error.
    assert await listed({"employeeId": 11}, headers=bearer(backend, 10)) == []
    assert await listed({"companyId": 2}, headers=bearer(backend, 1)) == []
    assert await listed({"employeeId": 21}, headers=bearer(backend, 1)) == []
    # Pages, in either spelling.
    for size in ("pageSize", "page_size"):
        response = await client.get(SUBMISSIONS, params={size: 2, "page": 2}, headers=bearer(backend, 1))
        assert [s["submissionId"] for s in response.json()["data"]] == [first["submissionId"]]
        assert response.json()["pagination"] == {"page": 2, "pageSize": 2, "total": 3}
    assert_error(await client.get(SUBMISSIONS, params={"status": "OPEN"}), 422, "VALIDATION_ERROR")
    assert_error(await client.get(SUBMISSIONS, params={"from": WEEK, "to": "2024-10-01"}), 422, "VALIDATION_ERROR")

    # One submission: its owner and the company's reviewers; 404 for the rest.
    path = f"{SUBMISSIONS}{second['submissionId']}/"
    for reader in (10, 13, 1):
        response = await client.get(path, headers=bearer(backend, reader))
        assert response.status_code == 200, response.text
        assert response.json()["data"]["history"][0]["action"] == "SUBMITTED"
    for reader, company in ((11, 1), (20, 2), (21, 2)):
        assert_error(await client.get(path, headers=bearer(backend, reader, company)), 404, "SUBMISSION_NOT_FOUND")


# ---------------------------------------------------------------- notifications and events


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def test_reviewers_and_the_employee_are_notified_and_events_are_recorded(client, backend):
    await setup(client)
    # An inactive team leader is not told.
    await put(client, "/employees/15/", {"companyId": 1, "name": "Old Lead", "isTeamLeader": True, "isActive": False})
    submission_id = (await submitted(client, {"weekStart": WEEK}, headers=bearer(backend, 10)))["submissionId"]
    rows = await backend.rows("SELECT recipient_id, type, category, payload FROM notifications ORDER BY recipient_id")
    assert [(r.recipient_id, r.type, r.category) for r in rows] == [
        (1, "TIMESHEET_SUBMITTED", "timesheet"),
        (2, "TIMESHEET_SUBMITTED", "timesheet"),
        (13, "TIMESHEET_SUBMITTED", "timesheet"),
    ]
    assert _json(rows[0].payload) | {} == {
        "submissionId": submission_id,
        "userId": 10,
        "weekStart": WEEK,
        "weekEnd": "2024-10-27",
        "status": "SUBMITTED",
        "totalSeconds": WEEK_SECONDS,
    }
    # Employee 10 reads theirs through the notifications endpoint.
    assert (await act(client, submission_id, "approve", headers=bearer(backend, 13))).status_code == 200
    assert (
        await act(client, submission_id, "reopen", json={"comment": "Again"}, headers=bearer(backend, 1))
    ).status_code == 200
    await submitted(client, {"weekStart": WEEK}, headers=bearer(backend, 10))
    assert (
        await act(client, submission_id, "reject", json={"comment": "No"}, headers=bearer(backend, 2))
    ).status_code == 200
    mine = await client.get("/notifications/recipient/10/", headers=bearer(backend, 10))
    assert mine.status_code == 200, mine.text
    assert [n["type"] for n in mine.json()["data"]] == [
        "TIMESHEET_REJECTED",
        "TIMESHEET_REOPENED",
        "TIMESHEET_APPROVED",
    ]
    assert "No" in mine.json()["data"][0]["message"]
    assert await backend.scalar("SELECT count(*) FROM notifications WHERE type = 'TIMESHEET_SUBMITTED'") == 6

    events = await backend.rows(
        "SELECT type, company_id, data FROM outbox_events WHERE type LIKE 'timesheet.%' ORDER BY id"
    )
    assert [(e.type, e.company_id, _json(e.data)["status"]) for e in events] == [
        ("timesheet.submitted", 1, "SUBMITTED"),
        ("timesheet.approved", 1, "APPROVED"),
        ("timesheet.reopened", 1, "REJECTED"),
        ("timesheet.submitted", 1, "SUBMITTED"),
        ("timesheet.rejected", 1, "REJECTED"),
    ]
    approved = _json(events[1].data)
    assert (approved["submissionId"], approved["approvedSeconds"], approved["reviewedBy"]) == (
        submission_id,
        WEEK_SECONDS,
        "employee:13",
    )
    assert approved["reviewedAt"].endswith("Z")
    actions = await backend.rows("SELECT action, status, acted_by FROM submission_events ORDER BY id")
    assert [tuple(a) for a in actions] == [
        ("SUBMITTED", "SUBMITTED", "employee:10"),
        ("APPROVED", "APPROVED", "employee:13"),
        ("REOPENED", "REJECTED", "employee:1"),
        ("SUBMITTED", "SUBMITTED", "employee:10"),
        ("REJECTED", "REJECTED", "employee:2"),
    ]


def test_webhooks_may_subscribe_to_the_timesheet_events():
    types = ["timesheet.submitted", "timesheet.approved", "timesheet.rejected", "timesheet.reopened"]
    assert WebhookCreate.model_validate({"url": EXAMPLE_URL, "events": types}).events == types


# ---------------------------------------------------------------- concurrency


async def test_concurrent_submits_of_one_week_make_one_submission(client, backend):
    await setup(client)
    answers = await asyncio.gather(
        *(submit(client, {"weekStart": WEEK}, headers=bearer(backend, 10)) for _ in range(8))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 7, [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 200).json()["data"]
    for answer in answers:
        if answer.status_code == 409:
            body = answer.json()
            assert (body["error_code"], body["submissionId"]) == ("ALREADY_SUBMITTED", winner["submissionId"])
    assert await backend.scalar("SELECT count(*) FROM timesheet_submissions") == 1
    assert await backend.scalar("SELECT count(*) FROM submission_events") == 1
    assert await backend.scalar("SELECT count(*) FROM outbox_events WHERE type = 'timesheet.submitted'") == 1


@pytest.mark.usefixtures("postgres_only")
async def test_a_submit_waits_for_a_write_in_flight_and_counts_it(client, backend):
    await setup(client)
    async with write_held_open(backend, log(252, 10, "2024-10-24T09:00:00Z", "2024-10-24T10:00:00Z")):
        submitting = asyncio.create_task(submit(client, {"userId": 10, "weekStart": WEEK}))
        await backend.until_one_waits_on_a_lock()
        assert not submitting.done()
    answer = await submitting
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["totalSeconds"] == WEEK_SECONDS + 3600


@pytest.mark.usefixtures("postgres_only")
async def test_a_write_that_waited_for_a_submit_is_refused(client, backend):
    await setup(client)
    sessionmaker = make_sessionmaker(backend.engine)
    async with sessionmaker() as session, session.begin():
        data = await submit_week(session, backend.settings(), SubmissionIn(user_id=10, week_start=WEEK), actor=SYSTEM)
        write = asyncio.create_task(
            client.post("/tasklog/create/", json=log(252, 10, "2024-10-24T09:00:00Z", "2024-10-24T10:00:00Z"))
        )
        await backend.until_one_waits_on_a_lock()
        assert not write.done()
    assert_week_locked(await write, data["submissionId"])
    assert await backend.scalar("SELECT count(*) FROM task_logs") == len(WEEK_LOGS)


# ---------------------------------------------------------------- the whole workflow, as payroll meets it


async def test_payroll_counts_what_was_approved_through_the_whole_workflow(client, backend):
    """Only the API: submit, reject, fix, submit again, approve; the grid and approvedOnly follow each step,
    and a reopened week that changed shows its approved total beside its current one."""
    await setup(client)
    employee, lead = bearer(backend, 10), bearer(backend, 13)
    week = {"employeeId": 10, "weekStart": WEEK}
    month = {"employeeId": 10, "startDate": "2024-10-01", "endDate": "2024-10-31", "approvedOnly": "true"}

    async def grid() -> dict[str, Any]:
        response = await client.get("/timesheets/week/", params=week)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def approved_total() -> int:
        response = await client.get("/timesheets/", params=month)
        assert response.status_code == 200, response.text
        return response.json()["data"]["total"]["totalSeconds"]

    assert (await grid())["status"] == "OPEN" and await approved_total() == 0
    sid = (await submitted(client, {"weekStart": WEEK}, headers=employee))["submissionId"]
    assert ((await grid())["status"], await approved_total()) == ("SUBMITTED", 0)

    assert (await act(client, sid, "reject", json={"comment": "Friday is missing"}, headers=lead)).status_code == 200
    friday = log(250, 10, "2024-10-25T09:00:00Z", "2024-10-25T10:00:00Z", description="Friday")
    assert (await client.post("/tasklog/create/", json=friday, headers=employee)).status_code == 200
    assert (await submitted(client, {"weekStart": WEEK}, headers=employee))["submissionId"] == sid
    approved = await act(client, sid, "approve", json={}, headers=lead)
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["approvedSeconds"] == WEEK_SECONDS + 3600

    data = await grid()
    assert (data["status"], data["submissionId"], data["approvedSeconds"]) == ("APPROVED", sid, WEEK_SECONDS + 3600)
    assert await approved_total() == WEEK_SECONDS + 3600
    # Another employee's time, and employee 10's time outside the week, are not approved.
    assert (
        await client.post("/tasklog/create/", json=log(250, 10, "2024-10-29T09:00:00Z", "2024-10-29T10:00:00Z"))
    ).status_code == 200
    assert await approved_total() == WEEK_SECONDS + 3600

    # Reopened (admin), the week changes; payroll stops counting it, the grid shows both numbers.
    assert (await act(client, sid, "reopen", json={"comment": "Split Friday"})).status_code == 200
    logs = await backend.rows("SELECT id FROM task_logs WHERE description = 'Friday'")
    assert (await client.delete(f"/api/tasklogs/delete/{logs[0].id}/")).status_code == 200
    data = await grid()
    assert (data["status"], data["approvedSeconds"], data["total"]["totalSeconds"]) == (
        "REJECTED",
        WEEK_SECONDS + 3600,
        WEEK_SECONDS,
    )
    assert await approved_total() == 0
