"""Dyzo's working-hours paths: the same reports as /timesheets/, in Dyzo's envelope."""

from typing import Any

import pytest

from app.timesheets.schemas import DayWorkingHoursAnswer, ProjectTimeAnswer, TimesheetAnswer
from tests.factories import log, put, seed
from tests.test_timesheets import add, t


async def get(client, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def berlin(client):
    """Company 1 in Europe/Berlin (CET in November). Employee 10: a log 22:00-02:00
    local across 5/6 Nov on task 250 with a description, and 09:00-10:30 local
    on 6 Nov on task 260. Employee 11: 6 Nov 10:00-14:00 local on task 251."""
    await seed(client, timezone="Europe/Berlin")
    await add(
        client,
        log(250, 10, "2024-11-05T21:00:00Z", "2024-11-06T01:00:00Z", description="Release night"),
        log(260, 10, "2024-11-06T08:00:00Z", "2024-11-06T09:30:00Z", description="Standup"),
    )
    await add(client, log(251, 11, "2024-11-06T09:00:00Z", "2024-11-06T13:00:00Z"), user=11)
    return client


async def test_one_day_with_its_logs(berlin):
    body = await get(berlin, "/user-working-hours/10/2024-11-06/")
    DayWorkingHoursAnswer.model_validate(body)

    day = body["data"]
    assert body["status"] == 1
    assert {k: day[k] for k in ("userId", "userName", "date", "timezone")} == {
        "userId": 10,
        "userName": "Asha Rao",
        "date": "2024-11-06",
        "timezone": "Europe/Berlin",
    }
    assert (day["totalSeconds"], day["totalHours"], day["totalTime"]) == (7200 + 5400, 3.5, "3:30")
    first, second = day["logs"]
    # The night log counts 00:00-02:00 on this day; the line says so.
    assert {
        k: first[k]
        for k in (
            "taskId",
            "taskName",
            "projectId",
            "projectName",
            "startTime",
            "endTime",
            "localStart",
            "localEnd",
            "durationSeconds",
            "description",
        )
    } == {
        "taskId": 250,
        "taskName": "Task 250",
        "projectId": 7,
        "projectName": "Website",
        "startTime": "2024-11-05T21:00:00Z",
        "endTime": "2024-11-06T01:00:00Z",
        "localStart": "2024-11-06T00:00:00+01:00",
        "localEnd": "2024-11-06T02:00:00+01:00",
        "durationSeconds": 14400,
        "description": "Release night",
    }
    assert (first["totalSeconds"], first["totalTime"]) == (7200, "2:00")
    assert (second["taskId"], second["totalSeconds"], second["localStart"]) == (260, 5400, "2024-11-06T09:00:00+01:00")


async def test_one_day_in_another_zone(berlin):
    day = (await get(berlin, "/user-working-hours/10/2024-11-05", timezone="UTC"))["data"]
    assert day["timezone"] == "UTC"
    assert [(line["taskLogId"] > 0, line["totalSeconds"]) for line in day["logs"]] == [(True, 10800)]


async def test_employee_range_per_day(berlin):
    body = await get(berlin, "/api/employee/10/working-hours/2024-11-04/2024-11-07/")
    TimesheetAnswer.model_validate(body)

    assert body["data"]["rows"] == [
        {"date": "2024-11-04", **t(0)},
        {"date": "2024-11-05", **t(7200)},
        {"date": "2024-11-06", **t(12600)},
        {"date": "2024-11-07", **t(0)},
    ]
    assert body["data"]["total"] == t(19800)
    # The same report as /timesheets/.
    same = await get(berlin, "/timesheets/", employeeId=10, startDate="2024-11-04", endDate="2024-11-07")
    assert same["data"] == body["data"] and same["filters"] == body["filters"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/employee/10/working-hours/2024-11-07/2024-11-04/", "end_date"),
        ("/api/employee/10/working-hours/2024-01-01/2025-01-01/", "end_date"),
        ("/api/employee/10/working-hours/2024-11-xx/2024-11-07/", "start_date"),
        ("/user-working-hours/10/2024-02-30/", "date"),
    ],
)
async def test_bad_dates_in_the_path_are_422(berlin, path, field):
    response = await berlin.get(path)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_project_time_per_employee_with_allocation(berlin):
    body = await get(berlin, "/api/project/7/employees-time-spent/", start_date="2024-11-06", end_date="2024-11-06")
    ProjectTimeAnswer.model_validate(body)

    assert body["data"]["rows"] == [
        {"employeeId": 10, "employeeName": "Asha Rao", **t(7200)},  # the 00:00-02:00 part
        {"employeeId": 11, "employeeName": "Ravi Kumar", **t(14400)},
    ]
    assert body["data"]["total"] == t(21600)
    # Allocation figures count all of the project's time: 4 h + 4 h of 100 h.
    assert body["data"]["allocation"] == {
        "projectId": 7,
        "projectName": "Website",
        "allocatedHours": 100.0,
        "loggedSeconds": 28800,
        "loggedHours": 8.0,
        "remainingHours": 92.0,
        "allocationExceeded": False,
    }
    assert body["filters"]["timezone"] == "Europe/Berlin"
    assert body["filters"]["groupBy"] == ["employee"]


async def test_project_time_defaults_to_the_month_of_the_given_day(berlin):
    body = await get(berlin, "/api/project/7/employees-time-spent", start_date="2024-11-01")
    assert (body["filters"]["startDate"], body["filters"]["endDate"]) == ("2024-11-01", "2024-11-30")
    assert body["data"]["total"] == t(28800)
    body = await get(berlin, "/api/project/7/employees-time-spent", end_date="2024-11-05")
    assert (body["filters"]["startDate"], body["filters"]["endDate"]) == ("2024-11-01", "2024-11-05")
    assert body["data"]["total"] == t(7200)  # 22:00-24:00 on the 5th


async def test_company_working_hours_per_employee_per_day(berlin):
    body = await get(berlin, "/api/company/1/working-hours/", start_date="2024-11-05", end_date="2024-11-06")
    TimesheetAnswer.model_validate(body)

    assert body["data"]["rows"] == [
        {
            "employeeId": 10,
            "employeeName": "Asha Rao",
            **t(19800),
            "children": [{"date": "2024-11-05", **t(7200)}, {"date": "2024-11-06", **t(12600)}],
        },
        {
            "employeeId": 11,
            "employeeName": "Ravi Kumar",
            **t(14400),
            "children": [{"date": "2024-11-05", **t(0)}, {"date": "2024-11-06", **t(14400)}],
        },
    ]
    assert body["filters"]["companyId"] == 1 and body["filters"]["groupBy"] == ["employee", "day"]


async def test_company_working_hours_ignore_other_companies(berlin):
    await add(berlin, log(900, 21, "2024-11-06T08:00:00Z", "2024-11-06T09:00:00Z"), user=21)
    body = await get(berlin, "/api/company/2/working-hours/", start_date="2024-11-06", end_date="2024-11-06")
    assert [r["employeeId"] for r in body["data"]["rows"]] == [21]
    body = await get(berlin, "/api/company/1/working-hours/", start_date="2024-11-06", end_date="2024-11-06")
    assert [r["employeeId"] for r in body["data"]["rows"]] == [10, 11]


async def test_company_days_are_the_companys_even_for_an_employee_with_another_zone(berlin):
    await put(berlin, "/employees/10/", {"companyId": 1, "name": "Asha Rao", "timezone": "UTC"})
    body = await get(berlin, "/api/company/1/working-hours/", start_date="2024-11-05", end_date="2024-11-05")
    assert body["data"]["rows"][0]["children"] == [{"date": "2024-11-05", **t(7200)}]  # Berlin's 22:00-24:00


async def test_unknown_ids_on_the_dyzo_paths_are_404(berlin):
    for path, code in [
        ("/user-working-hours/99/2024-11-06/", "USER_NOT_FOUND"),
        ("/api/employee/99/working-hours/2024-11-01/2024-11-02/", "USER_NOT_FOUND"),
        ("/api/project/99/employees-time-spent/", "PROJECT_NOT_FOUND"),
        ("/api/company/99/working-hours/", "COMPANY_NOT_FOUND"),
        ("/api/company/99/user/10/export-csv-report/2024-11/", "COMPANY_NOT_FOUND"),
        ("/api/company/2/user/10/export-csv-report/2024-11/", "USER_NOT_FOUND"),
    ]:
        response = await berlin.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error_code"] == code, path


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
async def test_dyzo_paths_answer_with_and_without_slash(berlin, slash):
    paths = [
        "/user-working-hours/10/2024-11-06/",
        "/api/employee/10/working-hours/2024-11-04/2024-11-07/",
        "/api/project/7/employees-time-spent/",
        "/api/company/1/working-hours/",
        "/api/company/1/user/10/export-csv-report/2024-11/",
    ]
    for path in paths:
        response = await berlin.get(path if slash else path.rstrip("/"))
        assert response.status_code == 200, (path, response.text)


async def test_openapi_documents_the_timesheet_operations(client):
    spec = (await client.get("/openapi.json")).json()
    operations = {op["operationId"]: op for ops in spec["paths"].values() for op in ops.values()}
    for operation_id in (
        "get_timesheet",
        "get_week_grid",
        "get_user_day_working_hours",
        "get_employee_working_hours",
        "get_project_employees_time_spent",
        "get_company_working_hours",
        "export_employee_month_csv",
    ):
        operation = operations[operation_id]
        assert operation["tags"] == ["Timesheets"]
        assert operation["summary"] and operation["description"], operation_id
