"""app/timesheets/service.py, `project_time_spent`: the project's allocation
figures count all of its time, also for a project without an allocation,
whose running total is not kept (logged_seconds NULL since migration 0006)."""

from tests.factories import log, seed


async def test_figures_of_a_project_without_allocation_sum_its_logs(backend, client):
    await seed(client)
    response = await client.post("/tasklogs/bulk/create/10/", json=[log(task_id=260)])  # 1.5 h on project 8
    assert response.status_code == 200, response.text
    assert await backend.scalar("SELECT logged_seconds FROM projects WHERE id = 8") is None

    response = await client.get("/api/project/8/employees-time-spent/")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["allocation"] == {
        "projectId": 8,
        "projectName": "Internal",
        "allocatedHours": None,
        "loggedSeconds": 5400,
        "loggedHours": 1.5,
        "remainingHours": None,
        "allocationExceeded": False,
    }
