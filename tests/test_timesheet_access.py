"""Who sees whose time in reports (part 3's rules): employees their own,
team leaders, admins and company keys their company's, platform keys all;
another company's data does not exist for a caller (404)."""

import pytest

from tests.factories import log
from tests.test_auth import ROLES, anon_client, expect  # noqa: F401 - anon_client is a fixture

DAY = {"startDate": "2024-10-28", "endDate": "2024-10-28"}
RANGE = {"start_date": "2024-10-28", "end_date": "2024-10-28"}


@pytest.fixture
async def logged(anon_client):  # noqa: F811
    """Employee 10: 1 h on task 250; employee 11: 2 h on task 250 (company 1, 28 Oct 2024)."""
    http, callers = anon_client
    for user, end in ((10, "10:00"), (11, "11:00")):
        response = await http.post(
            f"/tasklogs/bulk/create/{user}/",
            headers=callers("platform_key"),
            json=[log(250, user, "2024-10-28T09:00:00Z", f"2024-10-28T{end}:00Z")],
        )
        assert response.status_code == 200, response.text
    return http, callers


OWN = {"employee": 200, "team_leader": 200, "admin": 200, "company_key": 200, "platform_key": 200, "other_admin": 404}
COLLEAGUE = {**OWN, "employee": 403}


@pytest.mark.parametrize("role", ROLES)
async def test_employee_reports_follow_the_roles(logged, role):
    http, callers = logged
    headers = callers(role)
    for employee, expected in ((10, OWN[role]), (11, COLLEAGUE[role])):
        code = {403: "FORBIDDEN", 404: "USER_NOT_FOUND"}.get(expected)
        for path, params in [
            ("/timesheets/", {"employeeId": employee, **DAY}),
            # With a zone given the sums come with the employee's row, before the rules are applied.
            ("/timesheets/", {"employeeId": employee, "timezone": "UTC", **DAY}),
            ("/timesheets/week/", {"employeeId": employee, "weekStart": "2024-10-28"}),
            (f"/user-working-hours/{employee}/2024-10-28/", {}),
            (f"/api/employee/{employee}/working-hours/2024-10-28/2024-10-28/", {}),
        ]:
            response = await http.get(path, params=params, headers=headers)
            expect(response, expected, code)
            if expected == 200 and path == "/timesheets/":
                assert response.json()["data"]["total"]["totalSeconds"] == 3600 * (employee - 9)


EVERYONE = [(10, "Asha Rao", 3600), (11, "Ravi Kumar", 7200)]
PROJECT_ROWS = {
    "employee": [EVERYONE[0]],
    "team_leader": EVERYONE,
    "admin": EVERYONE,
    "company_key": EVERYONE,
    "platform_key": EVERYONE,
    "other_admin": None,
}


@pytest.mark.parametrize("role", ROLES)
async def test_a_plain_employee_sees_only_their_own_time_in_a_project_report(logged, role):
    http, callers = logged
    expected = PROJECT_ROWS[role]
    for path, params in [
        ("/timesheets/", {"projectId": 7, "groupBy": "employee", **DAY}),
        ("/api/project/7/employees-time-spent/", RANGE),
    ]:
        response = await http.get(path, params=params, headers=callers(role))
        if expected is None:
            expect(response, 404, "PROJECT_NOT_FOUND")
            continue
        expect(response, 200)
        body = response.json()
        assert [(r["employeeId"], r["employeeName"], r["totalSeconds"]) for r in body["data"]["rows"]] == expected
        assert body["data"]["total"]["totalSeconds"] == sum(s for *_, s in expected)
        assert body["filters"]["ownTimeOnly"] is (role == "employee")
        assert body["filters"]["employeeId"] == (10 if role == "employee" else None)


COMPANY = {
    "employee": (403, "FORBIDDEN"),
    "team_leader": (200, None),
    "admin": (200, None),
    "company_key": (200, None),
    "platform_key": (200, None),
    "other_admin": (404, "COMPANY_NOT_FOUND"),
}


@pytest.mark.parametrize("role", ROLES)
async def test_company_working_hours_are_for_leaders_admins_and_keys(logged, role):
    http, callers = logged
    response = await http.get("/api/company/1/working-hours/", params=RANGE, headers=callers(role))
    expect(response, *COMPANY[role])
    if response.status_code == 200:
        assert [r["employeeId"] for r in response.json()["data"]["rows"]] == [10, 11]


async def test_another_companys_admin_sees_their_own_company(logged):
    http, callers = logged
    expect(await http.get("/api/company/2/working-hours/", params=RANGE, headers=callers("other_admin")), 200)
    expect(await http.get("/timesheets/", params={"employeeId": 21, **DAY}, headers=callers("other_admin")), 200)
    expect(
        await http.get("/timesheets/", params={"employeeId": 21, **DAY}, headers=callers("company_key")),
        404,
        "USER_NOT_FOUND",
    )
    expect(
        await http.get("/timesheets/", params={"employeeId": 10, "taskId": 900, **DAY}, headers=callers("admin")),
        404,
        "TASK_NOT_FOUND",
    )


EXPORT = {
    "employee": 403,
    "team_leader": 200,
    "admin": 200,
    "company_key": 200,
    "platform_key": 200,
    "other_admin": 404,
}


@pytest.mark.parametrize("role", ROLES)
async def test_month_export_follows_the_roles(logged, role):
    http, callers = logged
    own = await http.get("/api/company/1/user/10/export-csv-report/2024-10/", headers=callers(role))
    colleague = await http.get("/api/company/1/user/11/export-csv-report/2024-10/", headers=callers(role))
    expect(own, 404 if role == "other_admin" else 200)
    expect(colleague, EXPORT[role])
    if role == "other_admin":
        assert colleague.json()["error_code"] == "COMPANY_NOT_FOUND"
    if own.status_code == 200:
        assert own.text.count("\r\n") == 2  # header and employee 10's one log


@pytest.mark.parametrize("role", ["no_token", "expired_token", "revoked_key"])
async def test_reports_need_credentials(logged, role):
    http, callers = logged
    for path in (
        "/timesheets/?employeeId=10&startDate=2024-10-28&endDate=2024-10-28",
        "/timesheets/week/",
        "/user-working-hours/10/2024-10-28/",
        "/api/employee/10/working-hours/2024-10-28/2024-10-28/",
        "/api/project/7/employees-time-spent/",
        "/api/company/1/working-hours/",
        "/api/company/1/user/10/export-csv-report/2024-10/",
    ):
        expect(await http.get(path, headers=callers(role)), 401)
