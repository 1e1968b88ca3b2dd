"""The reports' side of submitted and approved weeks, on both databases:
the weekly grid's `status`, `submissionId` and `approvedSeconds`; the
company's first weekday as the default week; `approvedOnly=true` counting
only logs that start in an approved week of their own employee (that
employee's local week, so Asia/Kolkata's Monday 02:00 is in the week
although it is still Sunday in UTC).

Submissions are written as rows, as the submissions API would leave them
(starts_at/ends_at: the week's local bounds in UTC), after the logs: a
submitted or approved week refuses new logs."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from app.core.timeutil import local_day, zone
from app.models import TimesheetSubmission
from app.timesheets.schemas import TimesheetAnswer, WeekGridAnswer
from tests.factories import log, put, seed

KOLKATA = "Asia/Kolkata"


async def add(client, *logs: dict[str, Any], user: int = 10) -> None:
    response = await client.post(f"/tasklogs/bulk/create/{user}/", json=list(logs))
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]["created"]) == len(logs)


async def submission(
    backend: Any,
    user_id: int,
    week_start: str,
    status: str,
    total_seconds: int,
    approved_seconds: int | None = None,
    timezone: str = "UTC",
) -> int:
    """A submission row of the employee's week from `week_start`, bounded
    as the submissions API bounds it: the local week in `timezone`, in UTC."""
    first = date.fromisoformat(week_start)
    last = first + timedelta(days=6)
    tz = zone(timezone)
    values = {
        "company_id": 1,
        "user_id": user_id,
        "week_start": first,
        "week_end": last,
        "starts_at": local_day(first, tz).start,
        "ends_at": local_day(last, tz).end,
        "status": status,
        "total_seconds": total_seconds,
        "approved_seconds": approved_seconds,
        "submitted_at": datetime(2024, 12, 2, 9, 0, tzinfo=UTC),
        "submitted_by": f"employee:{user_id}",
    }
    async with backend.engine.begin() as conn:
        inserted = await conn.execute(insert(TimesheetSubmission).values(**values).returning(TimesheetSubmission.id))
        return int(inserted.scalar_one())


async def reopen(backend: Any, submission_id: int) -> None:
    """What an admin's reopen leaves: REJECTED, the approved total kept."""
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(TimesheetSubmission).where(TimesheetSubmission.id == submission_id).values(status="REJECTED")
        )


async def grid(client, **params: Any) -> dict[str, Any]:
    response = await client.get("/timesheets/week/", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    WeekGridAnswer.model_validate(body)
    return body["data"]


async def report(client, path: str = "/timesheets/", **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    TimesheetAnswer.model_validate(body)
    return body


def status_of(data: dict[str, Any]) -> tuple[str, int | None, int | None]:
    return data["status"], data["submissionId"], data["approvedSeconds"]


# ---------------------------------------------------------------- the grid's status


async def test_a_week_without_a_submission_is_open(client):
    await seed(client)
    await add(client, log(250, 10, "2024-10-28T09:00:00Z", "2024-10-28T10:30:00Z"))

    data = await grid(client, employeeId=10, weekStart="2024-10-28")

    assert status_of(data) == ("OPEN", None, None)
    assert data["total"]["totalSeconds"] == 5400


@pytest.mark.parametrize(
    ("status", "approved_seconds"),
    [("SUBMITTED", None), ("APPROVED", 5400), ("REJECTED", None)],
)
async def test_the_grid_shows_its_weeks_submission(client, backend, status, approved_seconds):
    await seed(client)
    await add(client, log(250, 10, "2024-10-28T09:00:00Z", "2024-10-28T10:30:00Z"))
    sid = await submission(backend, 10, "2024-10-28", status, 5400, approved_seconds)

    data = await grid(client, employeeId=10, weekStart="2024-10-28")

    assert status_of(data) == (status, sid, approved_seconds)
    assert data["total"]["totalSeconds"] == 5400
    # The week is the employee's: a colleague's grid and the next week are open.
    assert status_of(await grid(client, employeeId=11, weekStart="2024-10-28")) == ("OPEN", None, None)
    assert status_of(await grid(client, employeeId=10, weekStart="2024-11-04")) == ("OPEN", None, None)


async def test_a_week_changed_after_its_approval_shows_both_totals(client, backend):
    await seed(client)
    await add(client, log(250, 10, "2024-10-28T09:00:00Z", "2024-10-28T10:30:00Z"))  # 1:30
    sid = await submission(backend, 10, "2024-10-28", "APPROVED", 5400, 5400)
    # Approved: the week is locked.
    refused = await client.post("/tasklog/create/", json=log(251, 10, "2024-10-30T09:00:00Z", "2024-10-30T10:00:00Z"))
    assert refused.status_code == 409 and refused.json()["error_code"] == "PERIOD_LOCKED"

    await reopen(backend, sid)
    await add(client, log(251, 10, "2024-10-30T09:00:00Z", "2024-10-30T10:00:00Z"))  # 1:00 more

    data = await grid(client, employeeId=10, weekStart="2024-10-28")
    assert status_of(data) == ("REJECTED", sid, 5400)
    assert data["total"] == {"totalSeconds": 9000, "totalHours": 2.5, "totalTime": "2:30"}


async def test_a_grid_not_starting_on_the_submitted_weeks_first_day_is_open(client, backend):
    await seed(client)
    await submission(backend, 10, "2024-10-28", "APPROVED", 0, 0)

    # Any weekday is accepted as a grid's first day; the status is that of
    # the week starting on that very day.
    data = await grid(client, employeeId=10, weekStart="2024-10-29")
    assert (data["weekStart"], data["weekEnd"]) == ("2024-10-29", "2024-11-04")
    assert status_of(data) == ("OPEN", None, None)


# ---------------------------------------------------------------- the company's weeks


async def test_a_sunday_company_s_default_grid_starts_on_this_weeks_sunday(client, backend):
    await seed(client)
    company = await put(client, "/companies/1/", {"name": "Acme", "weekStart": "sunday"})
    assert company["weekStart"] == "sunday"

    response = await client.get("/timesheets/week/", headers={"Authorization": f"Bearer {backend.token(10)}"})

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    first = date.fromisoformat(data["weekStart"])
    today = datetime.now(UTC).date()  # the employee's zone is UTC
    assert first.weekday() == 6 and data["dayTotals"][0]["weekday"] == "sunday"
    # This week's Sunday (a week later only if the clock passed a midnight meanwhile).
    assert 0 <= (today - first).days <= 7
    assert status_of(data) == ("OPEN", None, None)


async def test_a_sunday_company_s_week_status_and_week_grouping(client, backend):
    await seed(client)
    await put(client, "/companies/1/", {"name": "Acme", "weekStart": "sunday"})
    await add(
        client,
        log(250, 10, "2024-10-27T09:00:00Z", "2024-10-27T10:00:00Z"),  # Sunday: week of the 27th
        log(250, 10, "2024-11-02T09:00:00Z", "2024-11-02T11:00:00Z"),  # Saturday: same week
        log(250, 10, "2024-11-03T09:00:00Z", "2024-11-03T09:30:00Z"),  # Sunday: next week
    )
    sid = await submission(backend, 10, "2024-10-27", "SUBMITTED", 10800)

    assert status_of(await grid(client, employeeId=10, weekStart="2024-10-27")) == ("SUBMITTED", sid, None)

    # groupBy=week without weekStart: the company's Sunday weeks.
    body = await report(client, employeeId=10, startDate="2024-10-27", endDate="2024-11-09", groupBy="week")
    assert [(r["weekStart"], r["totalSeconds"]) for r in body["data"]["rows"]] == [
        ("2024-10-27", 10800),
        ("2024-11-03", 1800),
    ]
    assert body["filters"]["weekStart"] == "sunday"
    # weekStart still overrides it.
    body = await report(
        client, employeeId=10, startDate="2024-10-28", endDate="2024-11-03", groupBy="week", weekStart="monday"
    )
    assert [(r["weekStart"], r["totalSeconds"]) for r in body["data"]["rows"]] == [("2024-10-28", 9000)]
    assert body["filters"]["weekStart"] == "monday"


# ---------------------------------------------------------------- approvedOnly


@pytest.fixture
async def weeks(client, backend):
    """Employee 10 (UTC), every week of November's first half in another
    state; employee 11 (Asia/Kolkata) with an approved week whose first log
    is on local Monday 02:00, still Sunday in UTC."""
    await seed(client)
    await put(client, "/employees/11/", {"companyId": 1, "name": "Ravi Kumar", "timezone": KOLKATA})
    await add(
        client,
        log(250, 10, "2024-10-28T09:00:00Z", "2024-10-28T10:30:00Z"),  # week 10-28, approved: 1:30
        log(260, 10, "2024-11-03T23:00:00Z", "2024-11-04T01:00:00Z"),  # starts in it, ends in the next: 2:00
        log(250, 10, "2024-11-05T09:00:00Z", "2024-11-05T11:00:00Z"),  # week 11-04, submitted
        log(250, 10, "2024-11-12T09:00:00Z", "2024-11-12T10:00:00Z"),  # week 11-11, rejected
        log(250, 10, "2024-11-19T09:00:00Z", "2024-11-19T10:00:00Z"),  # week 11-18, open
    )
    await add(
        client,
        # Sunday 23:00 in Kolkata (17:30Z): the week before, not submitted.
        log(250, 11, "2024-10-27T17:30:00Z", "2024-10-27T18:00:00Z"),
        # Monday 02:00 in Kolkata, 20:30Z on Sunday: in the approved week.
        log(250, 11, "2024-10-27T20:30:00Z", "2024-10-27T21:30:00Z"),
        # Monday 00:00 in Kolkata: the first instant of the approved week of 11-04.
        log(250, 11, "2024-11-03T18:30:00Z", "2024-11-03T19:00:00Z"),
        log(251, 11, "2024-11-05T04:30:00Z", "2024-11-05T06:00:00Z"),  # week 11-04, approved: 1:30
        # Monday 00:00 in Kolkata again: the week of 11-11, not submitted.
        log(251, 11, "2024-11-10T18:30:00Z", "2024-11-10T19:00:00Z"),
        user=11,
    )
    await submission(backend, 10, "2024-10-28", "APPROVED", 9000, 9000)
    await submission(backend, 10, "2024-11-04", "SUBMITTED", 10800)
    await submission(backend, 10, "2024-11-11", "REJECTED", 3600)
    await submission(backend, 11, "2024-10-28", "APPROVED", 3600, 3600, timezone=KOLKATA)
    await submission(backend, 11, "2024-11-04", "APPROVED", 7200, 7200, timezone=KOLKATA)
    return client


async def test_approved_only_counts_the_logs_of_approved_weeks(weeks):
    period = {"startDate": "2024-10-28", "endDate": "2024-11-24"}

    body = await report(weeks, employeeId=10, groupBy="week", approvedOnly="true", **period)

    # The log across Sunday midnight starts in the approved week: both of its days count.
    assert [(r["weekStart"], r["totalSeconds"]) for r in body["data"]["rows"]] == [
        ("2024-10-28", 5400 + 3600),
        ("2024-11-04", 3600),
        ("2024-11-11", 0),
        ("2024-11-18", 0),
    ]
    assert body["data"]["total"]["totalSeconds"] == 12600
    assert body["filters"]["approvedOnly"] is True


async def test_approved_only_follows_the_employees_own_week_and_zone(weeks):
    body = await report(
        weeks, employeeId=11, startDate="2024-10-27", endDate="2024-11-10", groupBy="day", approvedOnly=True
    )

    days = {r["date"]: r["totalSeconds"] for r in body["data"]["rows"] if r["totalSeconds"]}
    # Kolkata's days: Monday 02:00 is counted, the Sunday 23:00 before it is
    # not; a week's first instant is in it.
    assert body["filters"]["timezone"] == KOLKATA
    assert days == {"2024-10-28": 3600, "2024-11-04": 1800, "2024-11-05": 5400}


async def test_approved_only_on_the_company_and_project_reports(weeks):
    company = await report(
        weeks,
        "/api/company/1/working-hours/",
        start_date="2024-10-27",
        end_date="2024-11-24",
        approvedOnly="true",
    )
    assert {r["employeeId"]: r["totalSeconds"] for r in company["data"]["rows"]} == {10: 12600, 11: 10800}
    assert company["filters"]["approvedOnly"] is True

    project = await report(
        weeks,
        "/api/project/7/employees-time-spent/",
        start_date="2024-10-27",
        end_date="2024-11-24",
        approvedOnly="true",
    )
    # Project 7 only: employee 10's log on task 260 (project 8) is not in it.
    assert {r["employeeId"]: r["totalSeconds"] for r in project["data"]["rows"]} == {10: 5400, 11: 10800}


async def test_approved_only_exports(weeks):
    response = await weeks.get(
        "/timesheets/",
        params={
            "employeeId": 10,
            "startDate": "2024-10-28",
            "endDate": "2024-11-24",
            "approvedOnly": "true",
            "groupBy": "week",
            "format": "csv",
        },
    )
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
    assert rows[1:] == [
        ["2024-10-28", "2.50", "2:30"],
        ["2024-11-04", "1.00", "1:00"],
        ["2024-11-11", "0.00", "0:00"],
        ["2024-11-18", "0.00", "0:00"],
    ]

    month = await weeks.get("/api/company/1/user/10/export-csv-report/2024-11/", params={"approvedOnly": "true"})
    assert month.status_code == 200, month.text
    lines = list(csv.reader(io.StringIO(month.content.decode(), newline="")))
    # November's only approved time: the first hour of the log across 3-4 November is October's week's.
    assert [(line[0], line[3]) for line in lines[1:]] == [("2024-11-03", "1.00"), ("2024-11-04", "1.00")]


@pytest.mark.parametrize("value", [None, "false"])
async def test_without_approved_only_every_log_counts(weeks, value):
    params = {"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-11-24", "groupBy": "week"}
    if value is not None:
        params["approvedOnly"] = value

    body = await report(weeks, **params)

    assert [r["totalSeconds"] for r in body["data"]["rows"]] == [9000, 7200 + 3600, 3600, 3600]
    assert body["data"]["total"]["totalSeconds"] == 27000
    assert body["filters"]["approvedOnly"] is False


@pytest.mark.parametrize(
    "path",
    ["/timesheets/?employeeId=10&startDate=2024-10-28&endDate=2024-11-03", "/api/company/1/working-hours/?"],
)
async def test_a_bad_approved_only_is_422(client, path):
    await seed(client)
    response = await client.get(f"{path}&approvedOnly=maybe")

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error_code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in body["errors"]] == ["approvedOnly"]
