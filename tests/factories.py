"""Reference data for tests, written through the API like the platform would."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


async def put(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.put(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def seed(client: httpx.AsyncClient, *, timezone: str = "UTC", project_hours: float | None = 100) -> None:
    """Company 1 (with `timezone`): admins 1 and 2, employees 10 and 11, inactive 12;
    project 7 (allocated `project_hours`) with tasks 250-252, project 8 (no allocation)
    with task 260. Company 2: admin 20, employee 21, project 9, task 900."""
    await put(client, "/companies/1/", {"name": "Acme", "timezone": timezone})
    await put(client, "/companies/2/", {"name": "Other Co"})
    for emp_id, company, name, admin, active in [
        (1, 1, "Ada Admin", True, True),
        (2, 1, "Bo Admin", True, True),
        (10, 1, "Asha Rao", False, True),
        (11, 1, "Ravi Kumar", False, True),
        (12, 1, "Gone Person", False, False),
        (20, 2, "Other Admin", True, True),
        (21, 2, "Other Worker", False, True),
    ]:
        await put(
            client, f"/employees/{emp_id}/", {"companyId": company, "name": name, "isAdmin": admin, "isActive": active}
        )
    await put(client, "/projects/7/", {"companyId": 1, "name": "Website", "allocatedHours": project_hours})
    await put(client, "/projects/8/", {"companyId": 1, "name": "Internal", "allocatedHours": None})
    await put(client, "/projects/9/", {"companyId": 2, "name": "Theirs", "allocatedHours": None})
    for task_id, project in [(250, 7), (251, 7), (252, 7), (260, 8), (900, 9)]:
        await put(client, f"/tasks/{task_id}/", {"projectId": project, "name": f"Task {task_id}"})


def log(
    task_id: int = 250,
    user_id: int = 10,
    start: str = "2024-10-29T09:00:00Z",
    end: str = "2024-10-29T10:30:00Z",
    **extra: Any,
) -> dict[str, Any]:
    return {"taskId": task_id, "userId": user_id, "startTime": start, "endTime": end, **extra}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hours_from_now(h: float) -> str:
    return iso(datetime.now(UTC) + timedelta(hours=h))


SEED_BULK = [
    {
        "taskId": 250,
        "userId": 10,
        "startTime": "2024-10-29T09:00:00Z",
        "endTime": "2024-10-29T10:30:00Z",
        "description": "Worked on authentication module",
        "manualAdd": False,
    },
    {
        "taskId": 251,
        "userId": 10,
        "startTime": "2024-10-29T10:30:00Z",
        "endTime": "2024-10-29T12:00:00Z",
        "description": "Code review and testing",
        "manualAdd": False,
    },
    {
        "taskId": 252,
        "userId": 10,
        "startTime": "2024-10-29T13:00:00Z",
        "endTime": "2024-10-29T15:30:00Z",
        "description": "Bug fixes and optimization",
        "manualAdd": False,
    },
]
