"""PUT on reference data: omitted fields keep their stored values on update
(defaults only on create), and nothing with task logs moves to another
company (a log's company is its task's)."""

import pytest

from tests.factories import log, put, seed


async def _employee(backend, employee_id):
    rows = await backend.rows(
        "SELECT company_id, name, email, is_admin, is_team_leader, is_active, timezone FROM employees WHERE id = :id",
        id=employee_id,
    )
    return tuple(rows[0]) if rows else None


async def test_a_put_of_an_employee_keeps_the_fields_it_leaves_out(client, backend):
    await seed(client)
    await put(
        client,
        "/employees/1/",
        {
            "companyId": 1,
            "name": "Ada Admin",
            "email": "ada@example.com",
            "isAdmin": True,
            "isTeamLeader": True,
            "timezone": "Asia/Kolkata",
        },
    )
    data = await put(client, "/employees/1/", {"companyId": 1, "name": "Ada A."})
    assert data["isAdmin"] is True and data["isActive"] is True and data["isTeamLeader"] is True
    assert data["email"] == "ada@example.com" and data["timezone"] == "Asia/Kolkata"
    assert await _employee(backend, 1) == (1, "Ada A.", "ada@example.com", True, True, True, "Asia/Kolkata")
    # What is sent is changed, explicit nulls included.
    data = await put(client, "/employees/1/", {"companyId": 1, "name": "Ada A.", "isAdmin": False, "timezone": None})
    assert data["isAdmin"] is False and data["timezone"] is None and data["email"] == "ada@example.com"
    # An inactive employee stays inactive when a sync leaves isActive out.
    await put(client, "/employees/12/", {"companyId": 1, "name": "Gone P."})
    assert (await _employee(backend, 12))[5] in (False, 0)


async def test_a_new_employee_takes_the_defaults(client, backend):
    await seed(client)
    data = await put(client, "/employees/40/", {"companyId": 1, "name": "New Person"})
    assert (data["isAdmin"], data["isTeamLeader"], data["isActive"], data["email"], data["timezone"]) == (
        False,
        False,
        True,
        None,
        None,
    )


async def test_a_put_of_a_company_keeps_its_zone_when_left_out(client):
    await seed(client, timezone="Europe/Berlin")
    assert (await put(client, "/companies/1/", {"name": "Acme GmbH"}))["timezone"] == "Europe/Berlin"
    assert (await put(client, "/companies/3/", {"name": "New Co"}))["timezone"] == "UTC"


async def test_a_company_week_starts_on_monday_unless_set_and_keeps_its_start_when_left_out(client, backend):
    await seed(client)
    assert (await client.get("/companies/1/")).json()["data"]["weekStart"] == "monday"
    assert (await put(client, "/companies/1/", {"name": "Acme", "weekStart": "sunday"}))["weekStart"] == "sunday"
    assert (await put(client, "/companies/1/", {"name": "Acme GmbH"}))["weekStart"] == "sunday"
    assert await backend.scalar("SELECT week_start FROM companies WHERE id = 1") == "sunday"
    for wrong in ("Sunday", "sun", "funday", 0, None):
        response = await client.put("/companies/1/", json={"name": "Acme", "weekStart": wrong})
        assert response.status_code == 422, (wrong, response.text)
        assert response.json()["errors"][0]["field"] == "weekStart"
    assert await backend.scalar("SELECT week_start FROM companies WHERE id = 1") == "sunday"


async def test_a_project_keeps_its_allocation_when_left_out_and_loses_it_on_null(client, backend):
    await seed(client, project_hours=1)
    assert (await client.post("/tasklog/create/", json=log())).status_code == 200  # 1.5 h of 1 h: over
    data = await put(client, "/projects/7/", {"companyId": 1, "name": "Website v2"})
    assert data["allocatedHours"] == 1 and data["allocationExceeded"] is True and data["loggedSeconds"] == 5400
    assert data["isActive"] is True
    await put(client, "/projects/7/", {"companyId": 1, "name": "Website v2", "isActive": False})
    data = await put(client, "/projects/7/", {"companyId": 1, "name": "Website v3"})
    assert data["isActive"] is False and data["allocatedHours"] == 1
    assert await backend.scalar("SELECT count(*) FROM notifications") == 2  # the one crossing, per admin
    data = await put(client, "/projects/7/", {"companyId": 1, "name": "Website v3", "allocatedHours": None})
    assert data["allocatedHours"] is None and data["allocationExceeded"] is False
    assert await backend.scalar("SELECT logged_seconds FROM projects WHERE id = 7") is None


async def test_a_task_keeps_its_allocation_when_left_out(client, backend):
    await seed(client)
    await put(client, "/tasks/250/", {"projectId": 7, "name": "Auth", "allocatedHours": 8})
    assert (await client.post("/tasklog/create/", json=log())).status_code == 200
    data = await put(client, "/tasks/250/", {"projectId": 7, "name": "Authentication"})
    assert data["allocatedHours"] == 8 and data["loggedSeconds"] == 5400 and data["name"] == "Authentication"
    data = await put(client, "/tasks/250/", {"projectId": 7, "name": "Authentication", "allocatedHours": None})
    assert data["allocatedHours"] is None


async def test_an_employee_with_logs_cannot_move_to_another_company(client, backend):
    await seed(client)
    assert (await client.post("/tasklog/create/", json=log())).status_code == 200
    response = await client.put("/employees/10/", json={"companyId": 2, "name": "Asha Rao"})
    assert response.status_code == 409, response.text
    assert response.json()["error_code"] == "HAS_TASK_LOGS"
    assert (await _employee(backend, 10))[0] == 1
    # Without logs, a move is allowed; staying in the company with logs is too.
    await put(client, "/employees/11/", {"companyId": 2, "name": "Ravi Kumar"})
    await put(client, "/employees/10/", {"companyId": 1, "name": "Asha R."})


async def test_a_project_with_logs_cannot_move_to_another_company(client, backend):
    await seed(client)
    assert (await client.post("/tasklog/create/", json=log())).status_code == 200
    response = await client.put("/projects/7/", json={"companyId": 2, "name": "Website"})
    assert response.status_code == 409, response.text
    assert response.json()["error_code"] == "HAS_TASK_LOGS"
    assert await backend.scalar("SELECT company_id FROM projects WHERE id = 7") == 1
    await put(client, "/projects/8/", {"companyId": 2, "name": "Internal"})  # no logs: allowed


async def test_a_task_with_logs_cannot_move_to_another_companys_project(client, backend):
    await seed(client)
    assert (await client.post("/tasklog/create/", json=log())).status_code == 200
    response = await client.put("/tasks/250/", json={"projectId": 9, "name": "Task 250"})
    assert response.status_code == 409, response.text
    assert response.json()["error_code"] == "HAS_TASK_LOGS"
    assert await backend.scalar("SELECT project_id FROM tasks WHERE id = 250") == 7
    await put(client, "/tasks/250/", {"projectId": 8, "name": "Task 250"})  # same company: allowed
    await put(client, "/tasks/251/", {"projectId": 9, "name": "Task 251"})  # no logs: allowed


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/employees/60/", {"companyId": 2, "name": "Spy"}, 422),
        ("/employees/21/", {"companyId": 1, "name": "Poached"}, 404),
        ("/projects/60/", {"companyId": 2, "name": "Spy"}, 422),
        ("/projects/9/", {"companyId": 1, "name": "Taken"}, 404),
        ("/tasks/960/", {"projectId": 9, "name": "Spy"}, 422),
        ("/tasks/900/", {"projectId": 7, "name": "Taken"}, 404),
    ],
)
async def test_a_company_admin_creates_new_ids_only_in_its_own_company(client, backend, path, body, status):
    await seed(client)
    del client.headers["X-API-Key"]
    admin = {"Authorization": f"Bearer {backend.token(1, 1)}"}
    response = await client.put(path, json=body, headers=admin)
    assert response.status_code == status, response.text
    new = {**body, "companyId": 1} if "companyId" in body else {**body, "projectId": 7}
    created = await client.put(
        path.replace("/9/", "/61/").replace("/21/", "/61/").replace("/900/", "/961/"), json=new, headers=admin
    )
    assert created.status_code == 200, created.text
