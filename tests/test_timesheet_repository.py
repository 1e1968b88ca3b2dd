"""The timesheet repository on its own, on SQLite and PostgreSQL: a log's
share of each local day (across midnight, on daylight-saving days, at the
edges of a range) and sums by task, project and employee. Rows are written
through the API; the sums are read straight from the repository. Every
expectation is worked out by hand in the comments."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.core.database import make_sessionmaker
from app.core.timeutil import local_day
from app.timesheets.repository import (
    LogShare,
    PostgresTimesheetRepository,
    Scope,
    SqliteTimesheetRepository,
    TimeSum,
    Window,
    timesheet_repository,
)
from tests.factories import log, seed

MAX_LOG = timedelta(hours=24)


def local_days(first: date, last: date, zone: str) -> list[Window]:
    tz = ZoneInfo(zone)
    days = [local_day(first + timedelta(days=i), tz) for i in range((last - first).days + 1)]
    return [Window(d.day, d.start, d.end) for d in days]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def add(client: Any, *logs: dict[str, Any], user: int = 10) -> list[int]:
    response = await client.post(f"/tasklogs/bulk/create/{user}/", json=list(logs))
    assert response.status_code == 200, response.text
    return [created["taskLogId"] for created in response.json()["data"]["created"]]


async def sums(backend: Any, scope: Scope, windows: list[Window], dimensions: tuple[str, ...]) -> list[TimeSum]:
    async with make_sessionmaker(backend.engine)() as session:
        rows = await timesheet_repository(session).sums(scope, windows, dimensions, MAX_LOG)
    return sorted(rows, key=lambda r: (r.day or date.min, r.task_id or 0, r.project_id or 0, r.employee_id or 0))


async def shares(backend: Any, scope: Scope, windows: list[Window]) -> list[LogShare]:
    async with make_sessionmaker(backend.engine)() as session:
        return await timesheet_repository(session).log_shares(scope, windows, MAX_LOG)


async def test_the_repository_is_the_one_of_the_sessions_database(backend):
    async with make_sessionmaker(backend.engine)() as session:
        repository = timesheet_repository(session)
    expected = SqliteTimesheetRepository if backend.name == "sqlite" else PostgresTimesheetRepository
    assert type(repository) is expected


async def test_a_log_across_local_midnight_counts_its_share_on_each_day(client, backend):
    await seed(client, timezone="Europe/Berlin")
    # 22:00-02:00 in Berlin (CET, +01:00) is 21:00Z-01:00Z: 2 h on the 5th, 2 h on the 6th.
    [log_id] = await add(client, log(250, 10, "2024-11-05T21:00:00Z", "2024-11-06T01:00:00Z", description="Night"))
    await add(client, log(250, 11, "2024-11-05T21:00:00Z", "2024-11-06T01:00:00Z"), user=11)  # not employee 10's
    scope = Scope(employee_id=10)

    both_days = await sums(backend, scope, local_days(date(2024, 11, 5), date(2024, 11, 6), "Europe/Berlin"), ("day",))
    second_day = await sums(backend, scope, local_days(date(2024, 11, 6), date(2024, 11, 6), "Europe/Berlin"), ("day",))
    # In UTC the whole log is on the 5th (21:00-24:00) and the 6th (00:00-01:00): 3 h and 1 h.
    in_utc = await sums(backend, scope, local_days(date(2024, 11, 5), date(2024, 11, 6), "UTC"), ("day",))
    lines = await shares(backend, scope, local_days(date(2024, 11, 5), date(2024, 11, 6), "Europe/Berlin"))

    assert both_days == [TimeSum(7200, day=date(2024, 11, 5)), TimeSum(7200, day=date(2024, 11, 6))]
    assert second_day == [TimeSum(7200, day=date(2024, 11, 6))]  # only the part inside the range
    assert in_utc == [TimeSum(10800, day=date(2024, 11, 5)), TimeSum(3600, day=date(2024, 11, 6))]
    whole = {
        "task_log_id": log_id,
        "task_id": 250,
        "task_name": "Task 250",
        "project_id": 7,
        "project_name": "Website",
        "employee_id": 10,
        "employee_name": "Asha Rao",
        "start_time": utc("2024-11-05T21:00:00"),
        "end_time": utc("2024-11-06T01:00:00"),
        "description": "Night",
        "manual_add": False,
        "seconds": 7200,
    }
    assert lines == [LogShare(day=date(2024, 11, 5), **whole), LogShare(day=date(2024, 11, 6), **whole)]


async def test_daylight_saving_days_have_23_and_25_hours(client, backend):
    await seed(client, timezone="Europe/Berlin")
    await add(
        client,
        # 2024-03-31 00:00 CET (23:00Z on the 30th) to 2024-04-01 00:00 CEST (22:00Z): the whole 23 h day.
        log(250, 10, "2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z"),
        # 2024-10-27 00:00 CEST (22:00Z on the 26th) to 2024-10-28 00:00 CET (23:00Z): 25 h, in two logs.
        log(250, 10, "2024-10-26T22:00:00Z", "2024-10-27T10:00:00Z"),
        log(251, 10, "2024-10-27T10:00:00Z", "2024-10-27T23:00:00Z"),
    )
    spring = local_days(date(2024, 3, 30), date(2024, 4, 1), "Europe/Berlin")
    autumn = local_days(date(2024, 10, 26), date(2024, 10, 28), "Europe/Berlin")

    assert [w.end - w.start for w in spring] == [timedelta(hours=24), timedelta(hours=23), timedelta(hours=24)]
    assert [w.end - w.start for w in autumn] == [timedelta(hours=24), timedelta(hours=25), timedelta(hours=24)]
    assert await sums(backend, Scope(employee_id=10), spring, ("day",)) == [TimeSum(82800, day=date(2024, 3, 31))]
    assert await sums(backend, Scope(employee_id=10), autumn, ("day",)) == [TimeSum(90000, day=date(2024, 10, 27))]
    assert await sums(backend, Scope(employee_id=10), autumn, ("day", "task")) == [
        TimeSum(43200, day=date(2024, 10, 27), task_id=250, task_name="Task 250", project_id=7, project_name="Website"),
        TimeSum(46800, day=date(2024, 10, 27), task_id=251, task_name="Task 251", project_id=7, project_name="Website"),
    ]


async def test_a_company_or_project_report_sums_its_employees_and_tasks_only(client, backend):
    await seed(client)
    await add(
        client,
        log(250, 10, "2024-11-04T09:00:00Z", "2024-11-04T10:00:00Z"),  # project 7: 1 h
        log(260, 10, "2024-11-04T10:00:00Z", "2024-11-04T12:00:00Z"),
    )  # project 8: 2 h
    await add(client, log(250, 11, "2024-11-04T09:00:00Z", "2024-11-04T12:00:00Z"), user=11)  # project 7: 3 h
    await add(client, log(900, 21, "2024-11-04T09:00:00Z", "2024-11-04T17:00:00Z"), user=21)  # company 2
    week = local_days(date(2024, 11, 4), date(2024, 11, 10), "UTC")
    # Without a period dimension one window for the whole range does (as the service sends it).
    whole = [Window(week[0].day, week[0].start, week[-1].end)]

    by_task_and_employee = await sums(backend, Scope(company_id=1), whole, ("task", "employee"))
    by_project = await sums(backend, Scope(company_id=1), whole, ("project",))
    project_by_employee = await sums(backend, Scope(project_id=7), week, ("employee",))

    assert by_task_and_employee == [
        TimeSum(
            3600,
            task_id=250,
            task_name="Task 250",
            project_id=7,
            project_name="Website",
            employee_id=10,
            employee_name="Asha Rao",
        ),
        TimeSum(
            10800,
            task_id=250,
            task_name="Task 250",
            project_id=7,
            project_name="Website",
            employee_id=11,
            employee_name="Ravi Kumar",
        ),
        TimeSum(
            7200,
            task_id=260,
            task_name="Task 260",
            project_id=8,
            project_name="Internal",
            employee_id=10,
            employee_name="Asha Rao",
        ),
    ]
    assert by_project == [
        TimeSum(14400, project_id=7, project_name="Website"),
        TimeSum(7200, project_id=8, project_name="Internal"),
    ]
    assert project_by_employee == [
        TimeSum(3600, employee_id=10, employee_name="Asha Rao"),
        TimeSum(10800, employee_id=11, employee_name="Ravi Kumar"),
    ]


async def test_a_log_touching_the_range_only_at_its_edge_has_no_sum(client, backend):
    await seed(client)
    # Ends exactly when the 5th begins, starts exactly when the 6th begins: no time on the 5th.
    await add(
        client,
        log(250, 10, "2024-11-04T22:00:00Z", "2024-11-05T00:00:00Z"),
        log(251, 10, "2024-11-06T00:00:00Z", "2024-11-06T01:00:00Z"),
    )
    day = local_days(date(2024, 11, 5), date(2024, 11, 5), "UTC")

    assert await sums(backend, Scope(employee_id=10), day, ("day",)) == []
    assert await shares(backend, Scope(employee_id=10), day) == []
