"""Reference data mirrored from the platform: idempotent PUT, GET, parents
that must exist, time zones, and the logged-hours figures of projects and
tasks. Runs on SQLite and PostgreSQL."""

from typing import Any

import httpx
import pytest

from tests.factories import log, put, seed


async def rows_in(backend: Any, table: str) -> int:
    return await backend.scalar(f"SELECT count(*) FROM {table}")


async def get(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == 0
    assert body["error_code"] == code
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field], body["errors"]


async def log_time(client: httpx.AsyncClient, **kwargs: Any) -> int:
    response = await client.post("/tasklog/create/", json=log(**kwargs))
    assert response.status_code == 200, response.text
    return response.json()["data"]["taskLogId"]


# ---------------------------------------------------------------- companies


async def test_put_company_creates_then_updates_the_same_row(client, backend):
    first = await client.put("/companies/3/", json={"name": "Acme", "timezone": "Europe/Berlin"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == 1
    data = body["data"]
    assert {k: data[k] for k in ("companyId", "name", "timezone")} == {
        "companyId": 3,
        "name": "Acme",
        "timezone": "Europe/Berlin",
    }
    assert data["createdAt"].endswith("Z") and data["updatedAt"].endswith("Z")

    again = await client.put("/companies/3/", json={"name": "Acme GmbH", "timezone": "Asia/Kolkata"})
    assert again.status_code == 200, again.text
    assert again.json()["data"]["name"] == "Acme GmbH"
    assert again.json()["data"]["createdAt"] == data["createdAt"]
    stored = await get(client, "/companies/3/")
    assert (stored["name"], stored["timezone"]) == ("Acme GmbH", "Asia/Kolkata")
    assert await rows_in(backend, "companies") == 1


async def test_repeating_the_same_put_gives_the_same_object(client, backend):
    body = {"name": "Acme", "timezone": "UTC"}
    first = await put(client, "/companies/3/", body)
    second = await put(client, "/companies/3/", body)
    assert {k: v for k, v in first.items() if k != "updatedAt"} == {k: v for k, v in second.items() if k != "updatedAt"}
    assert await rows_in(backend, "companies") == 1


async def test_company_time_zone_defaults_to_utc(client, backend):
    data = await put(client, "/companies/3/", {"name": "Acme"})
    assert data["timezone"] == "UTC"


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../etc/passwd", "Europe/Berlin "])
async def test_unknown_company_time_zone_is_422(client, backend, tz):
    response = await client.put("/companies/3/", json={"name": "Acme", "timezone": tz})
    assert_error(response, 422, "VALIDATION_ERROR", "timezone")
    assert await rows_in(backend, "companies") == 0


async def test_company_name_is_required_and_not_blank(client, backend):
    for body in ({}, {"name": ""}, {"name": "   "}, {"name": "x" * 256}):
        response = await client.put("/companies/3/", json=body)
        assert_error(response, 422, "VALIDATION_ERROR", "name")
    assert await rows_in(backend, "companies") == 0


# ---------------------------------------------------------------- employees


async def test_put_employee_camel_case(client, backend):
    await put(client, "/companies/1/", {"name": "Acme", "timezone": "Europe/Berlin"})
    data = await put(
        client,
        "/employees/10/",
        {
            "companyId": 1,
            "name": "Asha Rao",
            "email": "asha@example.com",
            "isAdmin": True,
            "isTeamLeader": True,
            "isActive": False,
        },
    )
    expected = {
        "employeeId": 10,
        "companyId": 1,
        "name": "Asha Rao",
        "email": "asha@example.com",
        "isAdmin": True,
        "isTeamLeader": True,
        "isActive": False,
        "timezone": None,
        "effectiveTimezone": "Europe/Berlin",
    }
    assert {k: data[k] for k in expected} == expected
    assert {k: v for k, v in (await get(client, "/employees/10/")).items() if k in expected} == expected


async def test_put_employee_snake_case(client, backend):
    await put(client, "/companies/1/", {"name": "Acme"})
    data = await put(
        client,
        "/employees/10/",
        {
            "company_id": 1,
            "name": "Asha Rao",
            "is_admin": True,
            "is_team_leader": True,
            "is_active": False,
            "timezone": "Asia/Kolkata",
        },
    )
    assert (data["isAdmin"], data["isTeamLeader"], data["isActive"]) == (True, True, False)
    assert (data["timezone"], data["effectiveTimezone"]) == ("Asia/Kolkata", "Asia/Kolkata")
    assert await backend.scalar("SELECT timezone FROM employees WHERE id = 10") == "Asia/Kolkata"


async def test_employee_defaults(client, backend):
    await put(client, "/companies/1/", {"name": "Acme"})
    data = await put(client, "/employees/10/", {"companyId": 1, "name": "Asha Rao"})
    assert (data["email"], data["isAdmin"], data["isTeamLeader"], data["isActive"]) == (None, False, False, True)


async def test_employee_effective_time_zone_follows_the_company(client, backend):
    await put(client, "/companies/1/", {"name": "Acme", "timezone": "Europe/Berlin"})
    await put(client, "/employees/10/", {"companyId": 1, "name": "Asha Rao"})
    await put(client, "/companies/1/", {"name": "Acme", "timezone": "America/New_York"})
    data = await get(client, "/employees/10/")
    assert (data["timezone"], data["effectiveTimezone"]) == (None, "America/New_York")


async def test_employee_own_time_zone_can_be_cleared_back_to_the_company(client, backend):
    await put(client, "/companies/1/", {"name": "Acme", "timezone": "Europe/Berlin"})
    await put(client, "/employees/10/", {"companyId": 1, "name": "Asha Rao", "timezone": "Asia/Kolkata"})
    data = await put(client, "/employees/10/", {"companyId": 1, "name": "Asha Rao", "timezone": None})
    assert (data["timezone"], data["effectiveTimezone"]) == (None, "Europe/Berlin")


async def test_unknown_employee_time_zone_is_422(client, backend):
    await put(client, "/companies/1/", {"name": "Acme"})
    response = await client.put("/employees/10/", json={"companyId": 1, "name": "A", "timezone": "Nowhere/City"})
    assert_error(response, 422, "VALIDATION_ERROR", "timezone")
    assert await rows_in(backend, "employees") == 0


async def test_employee_of_missing_company_is_422_company_not_found(client, backend):
    response = await client.put("/employees/10/", json={"companyId": 99, "name": "Asha Rao"})
    assert_error(response, 422, "COMPANY_NOT_FOUND", "companyId")
    assert await rows_in(backend, "employees") == 0


async def test_employee_with_control_characters_in_email_is_422(client, backend):
    await put(client, "/companies/1/", {"name": "Acme"})
    response = await client.put("/employees/10/", json={"companyId": 1, "name": "A", "email": "a\x00@b.c"})
    assert_error(response, 422, "VALIDATION_ERROR", "email")
    assert await rows_in(backend, "employees") == 0


# ---------------------------------------------------------------- projects and tasks


async def test_put_project_and_task_both_casings(client, backend):
    await put(client, "/companies/1/", {"name": "Acme"})
    project = await put(
        client, "/projects/7/", {"company_id": 1, "name": "Website", "allocated_hours": 12.5, "is_active": False}
    )
    assert {k: project[k] for k in ("projectId", "companyId", "name", "allocatedHours", "isActive")} == {
        "projectId": 7,
        "companyId": 1,
        "name": "Website",
        "allocatedHours": 12.5,
        "isActive": False,
    }
    task = await put(client, "/tasks/250/", {"projectId": 7, "name": "Auth", "allocatedHours": 8})
    assert {k: task[k] for k in ("taskId", "projectId", "name", "allocatedHours")} == {
        "taskId": 250,
        "projectId": 7,
        "name": "Auth",
        "allocatedHours": 8.0,
    }
    task = await put(client, "/tasks/250/", {"project_id": 7, "name": "Auth v2", "allocated_hours": None})
    assert (task["name"], task["allocatedHours"]) == ("Auth v2", None)
    assert await rows_in(backend, "tasks") == 1
    assert (await get(client, "/tasks/250/"))["name"] == "Auth v2"
    assert (await get(client, "/projects/7/"))["isActive"] is False


async def test_project_of_missing_company_is_422_company_not_found(client, backend):
    response = await client.put("/projects/7/", json={"companyId": 99, "name": "Website"})
    assert_error(response, 422, "COMPANY_NOT_FOUND", "companyId")
    assert await rows_in(backend, "projects") == 0


async def test_task_of_missing_project_is_422_project_not_found(client, backend):
    await put(client, "/companies/1/", {"name": "Acme"})
    response = await client.put("/tasks/250/", json={"projectId": 99, "name": "Auth"})
    assert_error(response, 422, "PROJECT_NOT_FOUND", "projectId")
    assert await rows_in(backend, "tasks") == 0


async def test_negative_allocation_is_422(client, backend):
    await put(client, "/companies/1/", {"name": "Acme"})
    response = await client.put("/projects/7/", json={"companyId": 1, "name": "W", "allocatedHours": -1})
    assert_error(response, 422, "VALIDATION_ERROR", "allocatedHours")
    assert await rows_in(backend, "projects") == 0


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/companies/404/", "COMPANY_NOT_FOUND"),
        ("/employees/404/", "USER_NOT_FOUND"),
        ("/projects/404/", "PROJECT_NOT_FOUND"),
        ("/tasks/404/", "TASK_NOT_FOUND"),
    ],
)
async def test_get_unknown_reference_is_404(client, backend, path, code):
    await seed(client)
    assert_error(await client.get(path), 404, code)


@pytest.mark.parametrize("path", ["/companies/0/", "/employees/0/", "/projects/0/", f"/tasks/{2**63}/"])
async def test_reference_ids_out_of_range_are_422(client, backend, path):
    assert_error(await client.get(path), 422, "VALIDATION_ERROR")
    assert_error(await client.put(path, json={"name": "x", "companyId": 1, "projectId": 1}), 422, "VALIDATION_ERROR")


async def test_project_and_task_show_logged_and_remaining_hours(client, backend):
    await seed(client, project_hours=10)
    await put(client, "/tasks/250/", {"projectId": 7, "name": "Task 250", "allocatedHours": 2})
    before = await get(client, "/projects/7/")
    assert (before["loggedSeconds"], before["loggedHours"], before["remainingHours"]) == (0, 0.0, 10.0)

    first = await log_time(client, task_id=250, start="2024-10-29T09:00:00Z", end="2024-10-29T10:30:00Z")
    await log_time(client, task_id=251, user_id=11, start="2024-10-29T09:00:00Z", end="2024-10-29T09:45:00Z")
    await log_time(client, task_id=260, start="2024-10-29T11:00:00Z", end="2024-10-29T12:00:00Z")  # project 8

    project = await get(client, "/projects/7/")
    assert (project["allocatedHours"], project["loggedSeconds"], project["loggedHours"], project["remainingHours"]) == (
        10.0,
        8100,
        2.25,
        7.75,
    )
    task = await get(client, "/tasks/250/")
    assert (task["loggedSeconds"], task["loggedHours"], task["remainingHours"]) == (5400, 1.5, 0.5)

    await client.delete(f"/api/tasklogs/delete/{first}/")
    assert (await get(client, "/projects/7/"))["loggedSeconds"] == 2700
    assert (await get(client, "/tasks/250/"))["loggedSeconds"] == 0


async def test_project_without_allocation_has_no_remaining_hours(client, backend):
    await seed(client)
    await log_time(client, task_id=260)
    project = await get(client, "/projects/8/")
    assert (project["allocatedHours"], project["loggedSeconds"], project["loggedHours"], project["remainingHours"]) == (
        None,
        5400,
        1.5,
        None,
    )


async def test_over_allocated_project_has_negative_remaining_hours(client, backend):
    await seed(client, project_hours=1)
    await log_time(client)
    project = await get(client, "/projects/7/")
    assert project["remainingHours"] == -0.5
    assert project["allocationExceeded"] is True


async def test_moving_a_task_moves_its_logged_time(client, backend):
    await seed(client)
    await log_time(client, task_id=250)
    await put(client, "/tasks/250/", {"projectId": 8, "name": "Task 250"})
    assert (await get(client, "/projects/7/"))["loggedSeconds"] == 0
    assert (await get(client, "/projects/8/"))["loggedSeconds"] == 5400
