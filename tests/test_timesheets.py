"""GET /timesheets/ and /timesheets/week/: local days, splits at local
midnight, DST days, groupings and the weekly grid. Every expectation is
computed by hand in the comments."""

from typing import Any

import pytest

from app.timesheets.schemas import TimesheetAnswer, WeekGridAnswer
from tests.factories import log, put, seed


async def add(client, *logs: dict[str, Any], user: int = 10) -> None:
    response = await client.post(f"/tasklogs/bulk/create/{user}/", json=list(logs))
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]["created"]) == len(logs)


async def timesheet(client, **params: Any) -> dict[str, Any]:
    response = await client.get("/timesheets/", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    TimesheetAnswer.model_validate(body)  # the answer is what the OpenAPI document says
    return body


def t(seconds: int) -> dict[str, Any]:
    """The totals of a row."""
    return {
        "totalSeconds": seconds,
        "totalHours": round(seconds / 3600, 2),
        "totalTime": f"{seconds // 3600}:{seconds % 3600 // 60:02d}",
    }


def days(body: dict[str, Any]) -> dict[str, int]:
    return {row["date"]: row["totalSeconds"] for row in body["data"]["rows"]}


async def set_zone(client, employee_id: int, timezone: str | None) -> None:
    await put(client, f"/employees/{employee_id}/", {"companyId": 1, "name": "Asha Rao", "timezone": timezone})


# ---------------------------------------------------------------- days


async def test_a_week_with_gaps_has_seven_rows_with_zeros(client):
    await seed(client)
    await add(
        client,
        log(250, 10, "2024-10-28T09:00:00Z", "2024-10-28T10:30:00Z"),  # Mon 1:30
        log(251, 10, "2024-10-30T13:00:00Z", "2024-10-30T15:30:00Z"),  # Wed 2:30
        log(260, 10, "2024-10-30T16:00:00Z", "2024-10-30T16:45:00Z"),  # Wed 0:45
        log(250, 10, "2024-11-04T09:00:00Z", "2024-11-04T10:00:00Z"),
    )  # next Monday: outside

    body = await timesheet(client, employeeId=10, startDate="2024-10-28", endDate="2024-11-03")

    assert body["status"] == 1 and body["message"] == "Timesheet"
    assert body["data"]["rows"] == [
        {"date": "2024-10-28", **t(5400)},
        {"date": "2024-10-29", **t(0)},
        {"date": "2024-10-30", **t(11700)},
        {"date": "2024-10-31", **t(0)},
        {"date": "2024-11-01", **t(0)},
        {"date": "2024-11-02", **t(0)},
        {"date": "2024-11-03", **t(0)},
    ]
    assert body["data"]["total"] == {"totalSeconds": 17100, "totalHours": 4.75, "totalTime": "4:45"}
    assert body["filters"] == {
        "employeeId": 10,
        "projectId": None,
        "taskId": None,
        "companyId": None,
        "startDate": "2024-10-28",
        "endDate": "2024-11-03",
        "groupBy": ["day"],
        "timezone": "UTC",
        "weekStart": "monday",
        "ownTimeOnly": False,
        "approvedOnly": False,
    }


async def test_other_employees_time_is_not_counted(client):
    await seed(client)
    await add(client, log(250, 10, "2024-10-28T09:00:00Z", "2024-10-28T10:00:00Z"))
    await add(client, log(250, 11, "2024-10-28T09:00:00Z", "2024-10-28T12:00:00Z"), user=11)

    body = await timesheet(client, employeeId=10, startDate="2024-10-28", endDate="2024-10-28")

    assert body["data"]["total"]["totalSeconds"] == 3600


async def test_a_log_from_22_to_02_local_is_split_between_the_two_days(client):
    await seed(client, timezone="Europe/Berlin")
    # 22:00-02:00 in Berlin (CET, +01:00) is 21:00Z-01:00Z.
    await add(client, log(250, 10, "2024-11-05T21:00:00Z", "2024-11-06T01:00:00Z"))

    body = await timesheet(client, employeeId=10, startDate="2024-11-05", endDate="2024-11-06")

    assert body["data"]["rows"] == [{"date": "2024-11-05", **t(7200)}, {"date": "2024-11-06", **t(7200)}]
    assert body["filters"]["timezone"] == "Europe/Berlin"


async def test_only_the_share_inside_the_range_counts(client):
    await seed(client, timezone="Europe/Berlin")
    await add(client, log(250, 10, "2024-11-05T21:00:00Z", "2024-11-06T01:00:00Z"))

    body = await timesheet(client, employeeId=10, startDate="2024-11-06", endDate="2024-11-06")

    assert body["data"]["rows"] == [{"date": "2024-11-06", **t(7200)}]


async def test_berlin_autumn_dst_day_has_25_hours(client):
    await seed(client, timezone="Europe/Berlin")
    # 2024-10-27 in Berlin: 00:00 CEST (22:00Z on the 26th) to 24:00 CET (23:00Z): 25 hours.
    await add(
        client,
        log(250, 10, "2024-10-26T22:00:00Z", "2024-10-27T10:00:00Z"),  # 12 h
        log(251, 10, "2024-10-27T10:00:00Z", "2024-10-27T22:00:00Z"),  # 12 h
        log(252, 10, "2024-10-27T22:00:00Z", "2024-10-27T23:00:00Z"),
    )  # 23:00-24:00 CET: 1 h

    body = await timesheet(client, employeeId=10, startDate="2024-10-26", endDate="2024-10-28")

    assert body["data"]["rows"] == [
        {"date": "2024-10-26", **t(0)},
        {"date": "2024-10-27", "totalSeconds": 90000, "totalHours": 25.0, "totalTime": "25:00"},
        {"date": "2024-10-28", **t(0)},
    ]


async def test_berlin_spring_dst_day_has_23_hours(client):
    await seed(client, timezone="Europe/Berlin")
    # 2024-03-31 in Berlin: 00:00 CET (23:00Z on the 30th) to 24:00 CEST (22:00Z): 23 hours.
    await add(
        client,
        log(250, 10, "2024-03-30T23:00:00Z", "2024-03-31T11:00:00Z"),  # 12 h
        log(251, 10, "2024-03-31T11:00:00Z", "2024-03-31T22:00:00Z"),  # 11 h
        log(252, 10, "2024-03-31T22:00:00Z", "2024-03-31T23:00:00Z"),
    )  # 00:00-01:00 CEST on April 1

    body = await timesheet(client, employeeId=10, startDate="2024-03-31", endDate="2024-04-01")

    assert body["data"]["rows"] == [
        {"date": "2024-03-31", "totalSeconds": 82800, "totalHours": 23.0, "totalTime": "23:00"},
        {"date": "2024-04-01", **t(3600)},
    ]


async def test_a_24_hour_log_across_the_dst_change_lands_on_both_days(client):
    await seed(client, timezone="Europe/Berlin")
    # 12:00Z on the 26th is 14:00 CEST; 12:00Z on the 27th is 13:00 CET.
    await add(client, log(250, 10, "2024-10-26T12:00:00Z", "2024-10-27T12:00:00Z"))

    body = await timesheet(client, employeeId=10, startDate="2024-10-25", endDate="2024-10-28")

    # 14:00-24:00 CEST = 10 h on the 26th; 00:00 CEST (22:00Z) to 12:00Z = 14 h on the 27th.
    assert days(body) == {"2024-10-25": 0, "2024-10-26": 36000, "2024-10-27": 50400, "2024-10-28": 0}


async def test_a_log_before_the_range_counts_its_part_inside(client):
    await seed(client)
    await add(client, log(250, 10, "2024-10-27T06:00:00Z", "2024-10-28T05:00:00Z"))  # 23 h, 5 of them on the 28th

    body = await timesheet(client, employeeId=10, startDate="2024-10-28", endDate="2024-11-03", groupBy="task")

    assert body["data"]["rows"] == [{**task(250), **t(18000)}]


async def test_kolkata_and_utc_split_the_same_logs_differently(client):
    await seed(client)
    await set_zone(client, 10, "Asia/Kolkata")
    await add(
        client,
        # Kolkata (+05:30): 22:30 on the 28th to 01:00 on the 29th.
        log(250, 10, "2024-10-28T17:00:00Z", "2024-10-28T19:30:00Z"),
        # Kolkata: 01:30-03:30 on the 29th.
        log(251, 10, "2024-10-28T20:00:00Z", "2024-10-28T22:00:00Z"),
    )

    kolkata = await timesheet(client, employeeId=10, startDate="2024-10-28", endDate="2024-10-29")
    utc = await timesheet(client, employeeId=10, startDate="2024-10-28", endDate="2024-10-29", timezone="UTC")

    assert kolkata["filters"]["timezone"] == "Asia/Kolkata"
    assert days(kolkata) == {"2024-10-28": 5400, "2024-10-29": 3600 + 7200}
    assert days(utc) == {"2024-10-28": 9000 + 7200, "2024-10-29": 0}
    assert kolkata["data"]["total"] == utc["data"]["total"] == t(16200)


async def test_the_employees_zone_wins_over_the_companys(client):
    await seed(client, timezone="Asia/Kolkata")
    await set_zone(client, 10, "UTC")
    await add(client, log(250, 10, "2024-10-28T20:00:00Z", "2024-10-28T22:00:00Z"))

    body = await timesheet(client, employeeId=10, startDate="2024-10-28", endDate="2024-10-29")

    assert body["filters"]["timezone"] == "UTC"
    assert days(body) == {"2024-10-28": 7200, "2024-10-29": 0}


async def test_an_employees_new_zone_applies_to_the_next_report(client):
    """The zone is read from the employee's row before the sums on every report: nothing remembered from
    the previous report decides the next one's days."""
    await seed(client)
    await add(client, log(250, 10, "2024-10-28T20:00:00Z", "2024-10-28T22:00:00Z"))  # Kolkata: 01:30-03:30 29th
    period = {"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-29"}

    before = await timesheet(client, **period)
    await set_zone(client, 10, "Asia/Kolkata")
    after = await timesheet(client, **period)
    again = await timesheet(client, **period)

    assert before["filters"]["timezone"] == "UTC" and days(before) == {"2024-10-28": 7200, "2024-10-29": 0}
    for body in (after, again):
        assert body["filters"]["timezone"] == "Asia/Kolkata"
        assert days(body) == {"2024-10-28": 0, "2024-10-29": 7200}


async def test_a_report_in_a_given_zone_without_logs_lists_zeros(client):
    await seed(client)
    body = await timesheet(client, employeeId=10, startDate="2024-01-01", endDate="2024-01-02", timezone="Asia/Kolkata")
    assert body["data"] == {"rows": [{"date": "2024-01-01", **t(0)}, {"date": "2024-01-02", **t(0)}], "total": t(0)}


# ---------------------------------------------------------------- groupings


@pytest.fixture
async def two_weeks(client):
    """Employee 10 (UTC): Mon 28 Oct 250 1 h + 251 2 h; Tue 29 Oct 250 0:30;
    Sun 3 Nov 260 1 h; Mon 4 Nov 252 0:45. Employee 11: Tue 29 Oct 250 4 h."""
    await seed(client)
    await add(
        client,
        log(250, 10, "2024-10-28T08:00:00Z", "2024-10-28T09:00:00Z"),
        log(251, 10, "2024-10-28T09:00:00Z", "2024-10-28T11:00:00Z"),
        log(250, 10, "2024-10-29T08:00:00Z", "2024-10-29T08:30:00Z"),
        log(260, 10, "2024-11-03T10:00:00Z", "2024-11-03T11:00:00Z"),
        log(252, 10, "2024-11-04T10:00:00Z", "2024-11-04T10:45:00Z"),
    )
    await add(client, log(250, 11, "2024-10-29T08:00:00Z", "2024-10-29T12:00:00Z"), user=11)
    return client


def task(task_id: int, project_id: int = 7) -> dict[str, Any]:
    return {
        "taskId": task_id,
        "taskName": f"Task {task_id}",
        "projectId": project_id,
        "projectName": {7: "Website", 8: "Internal"}[project_id],
    }


async def test_two_levels_day_then_task(two_weeks):
    body = await timesheet(
        two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-10-30", groupBy=["day", "task"]
    )

    assert body["data"]["rows"] == [
        {"date": "2024-10-28", **t(10800), "children": [{**task(250), **t(3600)}, {**task(251), **t(7200)}]},
        {"date": "2024-10-29", **t(1800), "children": [{**task(250), **t(1800)}]},
        {"date": "2024-10-30", **t(0), "children": []},
    ]
    assert body["data"]["total"] == t(12600)
    assert body["filters"]["groupBy"] == ["day", "task"]


async def test_comma_separated_grouping_is_the_same(two_weeks):
    repeated = await timesheet(
        two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-10-30", groupBy=["day", "task"]
    )
    comma = await timesheet(two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-10-30", groupBy="day,task")
    assert comma["data"] == repeated["data"]


async def test_two_levels_task_then_day_lists_every_day(two_weeks):
    body = await timesheet(
        two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-10-29", groupBy=["task", "day"]
    )

    assert body["data"]["rows"] == [
        {**task(250), **t(5400), "children": [{"date": "2024-10-28", **t(3600)}, {"date": "2024-10-29", **t(1800)}]},
        {**task(251), **t(7200), "children": [{"date": "2024-10-28", **t(7200)}, {"date": "2024-10-29", **t(0)}]},
    ]


async def test_week_grouping_starts_on_monday(two_weeks):
    body = await timesheet(two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-11-10", groupBy="week")

    assert body["data"]["rows"] == [
        {"weekStart": "2024-10-28", **t(3600 + 7200 + 1800 + 3600)},
        {"weekStart": "2024-11-04", **t(2700)},
    ]


async def test_week_grouping_with_weeks_starting_on_sunday(two_weeks):
    # Sunday weeks: 27 Oct - 2 Nov (the range starts on its Monday), 3 - 9 Nov, 10 Nov (one day in range).
    body = await timesheet(
        two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-11-10", groupBy="week", weekStart="sunday"
    )

    assert body["data"]["rows"] == [
        {"weekStart": "2024-10-27", **t(3600 + 7200 + 1800)},
        {"weekStart": "2024-11-03", **t(3600 + 2700)},
        {"weekStart": "2024-11-10", **t(0)},
    ]
    assert body["filters"]["weekStart"] == "sunday"


async def test_month_grouping_lists_every_month_of_the_range(two_weeks):
    body = await timesheet(two_weeks, employeeId=10, startDate="2024-09-01", endDate="2024-11-30", groupBy="month")

    assert body["data"]["rows"] == [
        {"month": "2024-09", **t(0)},
        {"month": "2024-10", **t(3600 + 7200 + 1800)},
        {"month": "2024-11", **t(3600 + 2700)},
    ]


async def test_month_then_week_nests_only_the_weeks_of_each_month(two_weeks):
    body = await timesheet(
        two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-11-04", groupBy=["month", "week"]
    )

    assert body["data"]["rows"] == [
        {"month": "2024-10", **t(12600), "children": [{"weekStart": "2024-10-28", **t(12600)}]},
        {
            "month": "2024-11",
            **t(6300),
            "children": [{"weekStart": "2024-10-28", **t(3600)}, {"weekStart": "2024-11-04", **t(2700)}],
        },
    ]


async def test_project_report_by_employee_task_and_project(two_weeks):
    by_employee = await timesheet(
        two_weeks, projectId=7, startDate="2024-10-28", endDate="2024-11-04", groupBy="employee"
    )
    by_task = await timesheet(two_weeks, projectId=7, startDate="2024-10-28", endDate="2024-11-04", groupBy="task")
    by_project = await timesheet(
        two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-11-04", groupBy="project"
    )

    # Sorted by name: Asha Rao (10) before Ravi Kumar (11). Project 8 (task 260) is not in project 7.
    assert by_employee["data"]["rows"] == [
        {"employeeId": 10, "employeeName": "Asha Rao", **t(3600 + 7200 + 1800 + 2700)},
        {"employeeId": 11, "employeeName": "Ravi Kumar", **t(14400)},
    ]
    assert by_task["data"]["rows"] == [
        {**task(250), **t(3600 + 1800 + 14400)},
        {**task(251), **t(7200)},
        {**task(252), **t(2700)},
    ]
    assert by_project["data"]["rows"] == [
        {"projectId": 8, "projectName": "Internal", **t(3600)},
        {"projectId": 7, "projectName": "Website", **t(3600 + 7200 + 1800 + 2700)},
    ]
    # A project-wide report's days are the company's (UTC here).
    assert by_task["filters"]["timezone"] == "UTC"


async def test_task_filter_narrows_the_report(two_weeks):
    body = await timesheet(
        two_weeks, projectId=7, taskId=250, startDate="2024-10-28", endDate="2024-11-04", groupBy=["employee", "day"]
    )

    rows = body["data"]["rows"]
    assert [(r["employeeId"], r["totalSeconds"]) for r in rows] == [(10, 5400), (11, 14400)]
    assert len(rows[0]["children"]) == 8  # every day of the range, zeros included
    assert body["data"]["total"] == t(19800)


async def test_project_with_employee_counts_their_time_on_that_project_only(two_weeks):
    body = await timesheet(
        two_weeks, projectId=8, employeeId=10, startDate="2024-10-28", endDate="2024-11-04", groupBy="task"
    )
    assert body["data"]["rows"] == [{**task(260, 8), **t(3600)}]


async def test_an_empty_period(client):
    await seed(client)
    body = await timesheet(client, employeeId=10, startDate="2024-01-01", endDate="2024-01-01", groupBy="task")
    assert body["data"] == {"rows": [], "total": t(0)}


async def test_a_366_day_range_is_allowed(two_weeks):
    body = await timesheet(two_weeks, employeeId=10, startDate="2024-01-01", endDate="2024-12-31")
    assert len(body["data"]["rows"]) == 366
    assert body["data"]["total"] == t(3600 + 7200 + 1800 + 3600 + 2700)


async def test_reports_of_other_lengths_and_zones_keep_their_answers_when_repeated(two_weeks):
    # A report's statement depends only on its groupings and filters, not on its
    # days or zone: on PostgreSQL it is prepared once per connection, and after
    # five runs the database may plan it generically. Seven rounds of three
    # lengths and two zones must keep answering the same.
    for _ in range(7):
        week = await timesheet(two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-11-03")
        assert days(week) == {
            "2024-10-28": 10800,
            "2024-10-29": 1800,
            "2024-10-30": 0,
            "2024-10-31": 0,
            "2024-11-01": 0,
            "2024-11-02": 0,
            "2024-11-03": 3600,
        }
        one_day = await timesheet(two_weeks, employeeId=10, startDate="2024-10-29", endDate="2024-10-29")
        assert days(one_day) == {"2024-10-29": 1800}
        # UTC+14: 09:00-11:00 UTC on the 28th is 23:00-01:00, split at local midnight;
        # 08:00-08:30 UTC on the 29th is 22:00 that day; 3 Nov 10:00 UTC is already 4 Nov.
        kiritimati = await timesheet(
            two_weeks, employeeId=10, startDate="2024-10-28", endDate="2024-11-03", timezone="Pacific/Kiritimati"
        )
        assert days(kiritimati) == {
            "2024-10-28": 7200,
            "2024-10-29": 5400,
            "2024-10-30": 0,
            "2024-10-31": 0,
            "2024-11-01": 0,
            "2024-11-02": 0,
            "2024-11-03": 0,
        }


# ---------------------------------------------------------------- weekly grid


async def week_grid(client, **params: Any) -> dict[str, Any]:
    response = await client.get("/timesheets/week/", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    WeekGridAnswer.model_validate(body)
    return body["data"]


def cells(*seconds: int, start_day: int = 28) -> list[dict[str, Any]]:
    from datetime import date, timedelta

    first = date(2024, 10, start_day)
    return [{"date": (first + timedelta(days=i)).isoformat(), **t(s)} for i, s in enumerate(seconds)]


async def test_weekly_grid_rows_columns_and_totals(two_weeks):
    grid = await week_grid(two_weeks, employeeId=10, weekStart="2024-10-28")

    assert grid["employeeId"] == 10 and grid["employeeName"] == "Asha Rao"
    assert (grid["weekStart"], grid["weekEnd"], grid["timezone"]) == ("2024-10-28", "2024-11-03", "UTC")
    assert grid["rows"] == [
        {**task(250), **t(5400), "days": cells(3600, 1800, 0, 0, 0, 0, 0)},
        {**task(251), **t(7200), "days": cells(7200, 0, 0, 0, 0, 0, 0)},
        {**task(260, 8), **t(3600), "days": cells(0, 0, 0, 0, 0, 0, 3600)},
    ]
    weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    assert grid["dayTotals"] == [
        {**c, "weekday": w} for c, w in zip(cells(10800, 1800, 0, 0, 0, 0, 3600), weekdays, strict=True)
    ]
    assert grid["total"] == t(16200)


async def test_weekly_grid_can_start_on_a_sunday(two_weeks):
    grid = await week_grid(two_weeks, employeeId=10, weekStart="2024-10-27")

    assert (grid["weekStart"], grid["weekEnd"]) == ("2024-10-27", "2024-11-02")
    assert grid["dayTotals"][0]["weekday"] == "sunday"
    assert [d["totalSeconds"] for d in grid["dayTotals"]] == [0, 10800, 1800, 0, 0, 0, 0]
    assert grid["total"] == t(12600)


async def test_weekly_grid_defaults_to_the_calling_employees_current_week(client, backend):
    await seed(client)
    response = await client.get("/timesheets/week/", headers={"Authorization": f"Bearer {backend.token(10)}"})
    assert response.status_code == 200, response.text
    grid = response.json()["data"]
    assert grid["employeeId"] == 10 and grid["rows"] == [] and len(grid["dayTotals"]) == 7
    assert grid["dayTotals"][0]["weekday"] == "monday"


async def test_weekly_grid_needs_an_employee_for_a_service_key(client):
    await seed(client)
    response = await client.get("/timesheets/week/", params={"weekStart": "2024-10-28"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "employeeId"


# ---------------------------------------------------------------- bad input


BAD_INPUT = [
    ({"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-27"}, "endDate"),
    ({"employeeId": 10, "startDate": "2024-01-01", "endDate": "2025-01-01"}, "endDate"),  # 367 days
    ({"employeeId": 10, "startDate": "2024-13-01", "endDate": "2024-12-31"}, "startDate"),
    ({"employeeId": 10, "startDate": "28.10.2024", "endDate": "2024-12-31"}, "startDate"),
    ({"employeeId": 10, "startDate": "2024-10-28T00:00:00", "endDate": "2024-12-31"}, "startDate"),
    ({"employeeId": 10, "startDate": "2024-10-28"}, "endDate"),
    ({"employeeId": 10, "startDate": "0001-01-01", "endDate": "0001-01-02"}, ["startDate", "endDate"]),
    ({"employeeId": 10, "startDate": "9999-12-30", "endDate": "9999-12-31"}, ["startDate", "endDate"]),
    ({"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-29", "timezone": "Mars/Olympus"}, "timezone"),
    ({"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-29", "groupBy": "hour"}, "groupBy"),
    ({"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-29", "groupBy": ["day", "day"]}, "groupBy"),
    (
        {"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-29", "groupBy": ["day", "task", "project"]},
        "groupBy",
    ),
    ({"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-29", "groupBy": ["day", "month"]}, "groupBy"),
    ({"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-29", "weekStart": "someday"}, "weekStart"),
    ({"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-29", "format": "pdf"}, "format"),
    ({"employeeId": 0, "startDate": "2024-10-28", "endDate": "2024-10-29"}, "employeeId"),
    ({"startDate": "2024-10-28", "endDate": "2024-10-29"}, "employeeId"),
    ({"taskId": 250, "startDate": "2024-10-28", "endDate": "2024-10-29"}, "employeeId"),
]


@pytest.mark.parametrize(("params", "field"), BAD_INPUT)
async def test_bad_input_is_422_naming_the_parameter(client, params, field):
    await seed(client)
    response = await client.get("/timesheets/", params=params)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status"] == 0 and body["error_code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in body["errors"]] == (field if isinstance(field, list) else [field])


async def test_every_bad_parameter_is_reported_at_once(client):
    await seed(client)
    response = await client.get(
        "/timesheets/",
        params={"startDate": "2024-10-28", "endDate": "2024-10-01", "timezone": "Nowhere", "groupBy": "year"},
    )

    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"groupBy", "timezone", "employeeId", "endDate"}


@pytest.mark.parametrize("week_start", ["2024-W44", "9999-12-31", "2999-12-30"])
async def test_week_grid_rejects_a_bad_week_start(client, week_start):
    await seed(client)
    response = await client.get("/timesheets/week/", params={"employeeId": 10, "weekStart": week_start})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "weekStart"


async def test_unknown_employee_project_and_task_are_404(client):
    await seed(client)
    period = {"startDate": "2024-10-28", "endDate": "2024-10-29"}
    for params, code in [
        ({"employeeId": 99}, "USER_NOT_FOUND"),
        ({"projectId": 99}, "PROJECT_NOT_FOUND"),
        ({"employeeId": 10, "taskId": 99}, "TASK_NOT_FOUND"),
        # With a zone given, the sums are asked together with the employee's row.
        ({"employeeId": 99, "timezone": "UTC"}, "USER_NOT_FOUND"),
    ]:
        response = await client.get("/timesheets/", params={**params, **period})
        assert response.status_code == 404, response.text
        assert response.json()["error_code"] == code


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
async def test_timesheet_paths_answer_with_and_without_slash(client, slash):
    await seed(client)
    suffix = "/" if slash else ""
    response = await client.get(
        f"/timesheets{suffix}", params={"employeeId": 10, "startDate": "2024-10-28", "endDate": "2024-10-28"}
    )
    assert response.status_code == 200
    response = await client.get(f"/timesheets/week{suffix}", params={"employeeId": 10, "weekStart": "2024-10-28"})
    assert response.status_code == 200
