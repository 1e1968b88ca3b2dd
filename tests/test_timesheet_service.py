"""The timesheet service on its own, on SQLite and PostgreSQL: weeks and
months folded from day sums, the week's first day, and the report's zone
read from the employee's row on every report. Expectations by hand."""

from datetime import date
from typing import Any

from app.auth.principal import SYSTEM
from app.core.database import make_sessionmaker
from app.timesheets.service import Period, Report, TimesheetQuery, timesheet
from tests.factories import log, put, seed


def t(seconds: int) -> dict[str, Any]:
    return {
        "totalSeconds": seconds,
        "totalHours": round(seconds / 3600, 2),
        "totalTime": f"{seconds // 3600}:{seconds % 3600 // 60:02d}",
    }


async def add(client: Any, *logs: dict[str, Any], user: int = 10) -> None:
    response = await client.post(f"/tasklogs/bulk/create/{user}/", json=list(logs))
    assert response.status_code == 200, response.text


async def report(backend: Any, query: TimesheetQuery) -> Report:
    async with make_sessionmaker(backend.engine)() as session:
        return await timesheet(session, backend.settings(), query, actor=SYSTEM)


async def test_months_hold_their_part_of_each_week(client, backend):
    await seed(client)
    await add(
        client,
        log(250, 10, "2024-10-31T09:00:00Z", "2024-10-31T10:00:00Z"),  # Thu, week of Oct 28: 1 h
        log(250, 10, "2024-11-01T09:00:00Z", "2024-11-01T11:00:00Z"),  # Fri, same week, November: 2 h
        log(251, 10, "2024-11-05T09:00:00Z", "2024-11-05T12:00:00Z"),
    )  # Tue, week of Nov 4: 3 h
    query = TimesheetQuery(Period(date(2024, 10, 28), date(2024, 11, 10)), employee_id=10, group_by=("month", "week"))

    result = await report(backend, query)

    assert result.rows == [
        {"month": "2024-10", **t(3600), "children": [{"weekStart": "2024-10-28", **t(3600)}]},
        {
            "month": "2024-11",
            **t(18000),
            "children": [{"weekStart": "2024-10-28", **t(7200)}, {"weekStart": "2024-11-04", **t(10800)}],
        },
    ]
    assert result.total_seconds == 21600


async def test_weeks_start_on_the_day_asked_for(client, backend):
    await seed(client)
    await add(
        client,
        log(250, 10, "2024-11-02T09:00:00Z", "2024-11-02T10:00:00Z"),  # Sat: week of Sun Oct 27
        log(250, 10, "2024-11-03T09:00:00Z", "2024-11-03T11:00:00Z"),  # Sun: week of Nov 3
        log(250, 10, "2024-11-10T09:00:00Z", "2024-11-10T09:30:00Z"),
    )  # Sun: week of Nov 10
    query = TimesheetQuery(
        Period(date(2024, 11, 1), date(2024, 11, 14)), employee_id=10, group_by=("week",), week_start="sun"
    )

    result = await report(backend, query)

    assert result.rows == [
        {"weekStart": "2024-10-27", **t(3600)},
        {"weekStart": "2024-11-03", **t(7200)},
        {"weekStart": "2024-11-10", **t(1800)},
    ]


async def test_each_report_is_in_the_zone_the_employees_row_has_then(client, backend):
    await seed(client)
    # 20:00-22:00Z on the 28th is 01:30-03:30 on the 29th in Kolkata (+05:30).
    await add(client, log(250, 10, "2024-10-28T20:00:00Z", "2024-10-28T22:00:00Z"))
    query = TimesheetQuery(Period(date(2024, 10, 28), date(2024, 10, 29)), employee_id=10)

    in_company_zone = await report(backend, query)
    await put(client, "/employees/10/", {"companyId": 1, "name": "Asha Rao", "timezone": "Asia/Kolkata"})
    in_own_zone = await report(backend, query)
    await put(client, "/employees/10/", {"companyId": 1, "name": "Asha Rao", "timezone": None})
    back_in_company_zone = await report(backend, query)

    assert in_company_zone.subject.timezone == back_in_company_zone.subject.timezone == "UTC"
    assert (
        in_company_zone.rows
        == back_in_company_zone.rows
        == [{"date": "2024-10-28", **t(7200)}, {"date": "2024-10-29", **t(0)}]
    )
    assert in_own_zone.subject.timezone == "Asia/Kolkata"
    assert in_own_zone.rows == [{"date": "2024-10-28", **t(0)}, {"date": "2024-10-29", **t(7200)}]
