"""Task log endpoints over HTTP: create, list, read, edit, delete, and the
shape of a task log in every answer. Runs on SQLite and PostgreSQL."""

import re
from typing import Any

import httpx

from tests.factories import hours_from_now, log, put, seed

LOG_KEYS = {
    "taskLogId",
    "taskId",
    "projectId",
    "userId",
    "userName",
    "startTime",
    "endTime",
    "durationSeconds",
    "duration",
    "description",
    "manualAdd",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "version",
}
UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/tasklog/create/", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def count_logs(backend: Any) -> int:
    return await backend.scalar("SELECT count(*) FROM task_logs")


async def stored(backend: Any, log_id: int) -> tuple:
    """The columns of one stored log a user could notice (times via the API are checked elsewhere)."""
    rows = await backend.rows(
        "SELECT task_id, user_id, description, manual_add FROM task_logs WHERE id = :id", id=log_id
    )
    return tuple(rows[0]) if rows else ()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == 0
    assert body["error_code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list)
    return body


# ---------------------------------------------------------------- create


async def test_create_with_snake_case_seed_payload(client, backend):
    await seed(client)
    response = await client.post(
        "/tasklog/create/",
        json={
            "task_id": 250,
            "employee_id": 10,
            "start_time": "2024-10-29T09:00:00Z",
            "end_time": "2024-10-29T10:30:00Z",
            "description": "Worked on authentication",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == 1
    assert body["message"] == "Task log created"
    data = body["data"]
    assert data["taskId"] == 250
    assert data["userId"] == 10
    assert data["projectId"] == 7
    assert data["userName"] == "Asha Rao"
    assert data["startTime"] == "2024-10-29T09:00:00Z"
    assert data["endTime"] == "2024-10-29T10:30:00Z"
    assert data["durationSeconds"] == 5400
    assert data["duration"] == "1:30"
    assert data["description"] == "Worked on authentication"
    assert data["manualAdd"] is False
    assert await count_logs(backend) == 1
    assert await stored(backend, data["taskLogId"]) == (250, 10, "Worked on authentication", False)


async def test_create_with_camel_case_user_id_and_manual_add(client, backend):
    await seed(client)
    data = await create(client, log(description="Manual entry", manualAdd=True))
    assert (data["taskId"], data["userId"], data["manualAdd"]) == (250, 10, True)
    assert await stored(backend, data["taskLogId"]) == (250, 10, "Manual entry", True)


async def test_create_accepts_employee_id_camel_case_for_the_user(client, backend):
    await seed(client)
    data = await create(
        client,
        {"taskId": 251, "employeeId": 11, "startTime": "2024-10-29T09:00:00Z", "endTime": "2024-10-29T09:45:00Z"},
    )
    assert (data["taskId"], data["userId"], data["userName"]) == (251, 11, "Ravi Kumar")
    assert data["duration"] == "0:45"
    assert data["description"] == ""
    assert await count_logs(backend) == 1


async def test_create_answer_has_every_task_log_field_in_camel_case_and_utc(client, backend):
    await seed(client)
    data = await create(client, log(start="2024-10-29T14:30:00+05:30", end="2024-10-29T16:00:00+05:30"))
    assert set(data) == LOG_KEYS
    for key in ("startTime", "endTime", "createdAt", "updatedAt"):
        assert UTC_Z.match(data[key]), (key, data[key])
    assert data["startTime"] == "2024-10-29T09:00:00Z"
    assert data["endTime"] == "2024-10-29T10:30:00Z"
    assert isinstance(data["taskLogId"], int)


async def test_create_answer_reports_daily_totals_allocation_and_warnings(client, backend):
    await seed(client)
    response = await client.post("/tasklog/create/", json=log())
    body = response.json()
    assert body["dailyTotals"] == [
        {"userId": 10, "date": "2024-10-29", "totalSeconds": 5400, "totalHours": 1.5, "totalTime": "1:30"}
    ]
    assert body["warnings"] == []
    project = [a for a in body["allocation"] if a.get("projectId") == 7 and a.get("taskId") is None]
    assert project and project[0]["loggedHours"] == 1.5


# ---------------------------------------------------------------- list by task


async def test_task_logs_listed_oldest_first_with_summary(client, backend):
    await seed(client)
    late = await create(client, log(start="2024-10-29T13:00:00Z", end="2024-10-29T15:30:00Z"))
    early = await create(client, log(start="2024-10-28T09:00:00Z", end="2024-10-28T09:20:00Z", userId=11))
    middle = await create(client, log(start="2024-10-29T09:00:00Z", end="2024-10-29T10:30:00Z"))
    await create(client, log(task_id=251))  # another task: not listed

    response = await client.get("/taskLogs/task/250/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == 1
    assert [x["taskLogId"] for x in body["data"]] == [early["taskLogId"], middle["taskLogId"], late["taskLogId"]]
    assert all(set(x) == LOG_KEYS for x in body["data"])
    total = 9000 + 1200 + 5400
    assert body["summary"] == {"count": 3, "totalSeconds": total, "totalTime": "4:20"}
    assert "pagination" not in body or body["pagination"] is None


async def test_task_logs_of_a_task_without_logs_is_an_empty_list(client, backend):
    await seed(client)
    body = (await client.get("/taskLogs/task/252/")).json()
    assert body["data"] == []
    assert body["summary"] == {"count": 0, "totalSeconds": 0, "totalTime": "0:00"}


async def test_task_logs_paged_with_pagination_and_summary_over_all(client, backend):
    await seed(client)
    ids = []
    for hour in range(5):
        data = await create(client, log(start=f"2024-10-29T0{hour}:00:00Z", end=f"2024-10-29T0{hour}:30:00Z"))
        ids.append(data["taskLogId"])

    body = (await client.get("/taskLogs/task/250/", params={"page": 2, "page_size": 2})).json()
    assert [x["taskLogId"] for x in body["data"]] == ids[2:4]
    assert body["pagination"] == {"page": 2, "pageSize": 2, "total": 5}
    assert body["summary"] == {"count": 5, "totalSeconds": 9000, "totalTime": "2:30"}

    last = (await client.get("/taskLogs/task/250/", params={"page": 3, "page_size": 2})).json()
    assert [x["taskLogId"] for x in last["data"]] == ids[4:]

    beyond = (await client.get("/taskLogs/task/250/", params={"page": 9, "page_size": 2})).json()
    assert beyond["data"] == []
    assert beyond["pagination"] == {"page": 9, "pageSize": 2, "total": 5}


async def test_task_logs_page_alone_uses_default_page_size(client, backend):
    await seed(client)
    await create(client, log())
    body = (await client.get("/taskLogs/task/250/", params={"page": 1})).json()
    assert body["pagination"] == {"page": 1, "pageSize": 50, "total": 1}
    assert len(body["data"]) == 1


async def test_task_logs_bad_paging_values_are_422(client, backend):
    await seed(client)
    for params in ({"page": 0}, {"page_size": 0}, {"page": "x"}):
        response = await client.get("/taskLogs/task/250/", params=params)
        assert_error(response, 422, "VALIDATION_ERROR")


async def test_task_logs_of_unknown_task_is_404_task_not_found(client, backend):
    await seed(client)
    response = await client.get("/taskLogs/task/999/")
    assert_error(response, 404, "TASK_NOT_FOUND")


# ---------------------------------------------------------------- read one


async def test_get_one_task_log_matches_the_created_one(client, backend):
    await seed(client)
    created = await create(client, log(description="Research"))
    response = await client.get(f"/tasklogs/{created['taskLogId']}/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == 1
    assert body["data"] == created


async def test_get_unknown_task_log_is_404(client, backend):
    await seed(client)
    assert_error(await client.get("/tasklogs/12345/"), 404, "TASK_LOG_NOT_FOUND")


# ---------------------------------------------------------------- edit


async def test_patch_changes_only_the_given_field_and_marks_manual(client, backend):
    await seed(client)
    created = await create(client, log(description="Before"))
    response = await client.patch(f"/tasklogs/{created['taskLogId']}/", json={"description": "After"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Task log updated"
    data = body["data"]
    assert data["description"] == "After"
    assert data["manualAdd"] is True
    for key in ("taskLogId", "taskId", "userId", "startTime", "endTime", "durationSeconds", "createdAt"):
        assert data[key] == created[key], key
    assert await stored(backend, created["taskLogId"]) == (250, 10, "After", True)


async def test_put_changes_times_and_answer_matches_get(client, backend):
    await seed(client)
    created = await create(client, log())
    response = await client.put(
        f"/tasklogs/{created['taskLogId']}/",
        json={
            "startTime": "2024-10-29T09:00:00Z",
            "endTime": "2024-10-29T11:00:00Z",
            "description": "Research and planning",
            "taskId": 251,
            "userId": 10,
        },
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["taskId"], data["endTime"], data["durationSeconds"], data["duration"]) == (
        251,
        "2024-10-29T11:00:00Z",
        7200,
        "2:00",
    )
    assert data["manualAdd"] is True
    assert (await client.get(f"/tasklogs/{created['taskLogId']}/")).json()["data"] == data
    assert await stored(backend, created["taskLogId"]) == (251, 10, "Research and planning", True)


async def test_put_with_snake_case_fields(client, backend):
    await seed(client)
    created = await create(client, log())
    response = await client.put(
        f"/tasklogs/{created['taskLogId']}/", json={"end_time": "2024-10-29T12:00:00Z", "employee_id": 11}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["userId"], data["userName"], data["endTime"]) == (11, "Ravi Kumar", "2024-10-29T12:00:00Z")


async def test_edit_keeps_manual_add_false_when_body_says_so(client, backend):
    await seed(client)
    created = await create(client, log())
    for method in ("PUT", "PATCH"):
        response = await client.request(
            method, f"/tasklogs/{created['taskLogId']}/", json={"description": method, "manualAdd": False}
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["manualAdd"] is False
    assert await stored(backend, created["taskLogId"]) == (250, 10, "PATCH", False)


async def test_edit_is_revalidated_and_nothing_changes_on_failure(client, backend):
    await seed(client)
    created = await create(client, log(description="Keep"))
    path = f"/tasklogs/{created['taskLogId']}/"
    cases = [
        ({"endTime": "2024-10-29T08:00:00Z"}, "VALIDATION_ERROR", "endTime"),
        ({"endTime": "2024-10-30T10:00:00Z"}, "LOG_TOO_LONG", "endTime"),
        ({"userId": 12}, "USER_INACTIVE", "userId"),
        ({"userId": 999}, "USER_NOT_FOUND", "userId"),
        ({"taskId": 999}, "TASK_NOT_FOUND", "taskId"),
        ({"taskId": 900}, "COMPANY_MISMATCH", "taskId"),
        ({"startTime": "2024-10-29T10:30:00Z"}, "VALIDATION_ERROR", "endTime"),
        ({"startTime": hours_from_now(1), "endTime": hours_from_now(2)}, "FUTURE_TIME", "endTime"),
        ({"description": "x" * 5001}, "VALIDATION_ERROR", "description"),
        ({"description": "bad\x00"}, "VALIDATION_ERROR", "description"),
    ]
    for patch, code, field in cases:
        body = assert_error(await client.patch(path, json=patch), 422, code)
        assert [e["field"] for e in body["errors"]] == [field], patch
    after = (await client.get(path)).json()["data"]
    assert after == created
    assert await stored(backend, created["taskLogId"]) == (250, 10, "Keep", False)


async def test_edit_onto_another_logs_key_is_409_and_changes_nothing(client, backend):
    await seed(client)
    first = await create(client, log(start="2024-10-29T09:00:00Z", end="2024-10-29T10:00:00Z"))
    second = await create(client, log(start="2024-10-29T11:00:00Z", end="2024-10-29T12:00:00Z", description="second"))
    for method in ("PUT", "PATCH"):
        response = await client.request(
            method,
            f"/tasklogs/{second['taskLogId']}/",
            json={"startTime": "2024-10-29T09:00:00Z", "description": "moved"},
        )
        body = assert_error(response, 409, "DUPLICATE_TASK_LOG")
        assert body["message"] == "Duplicate Time Log."
        assert body["existingTaskLogId"] == first["taskLogId"]
    assert await count_logs(backend) == 2
    assert (await client.get(f"/tasklogs/{second['taskLogId']}/")).json()["data"] == second
    assert await stored(backend, second["taskLogId"]) == (250, 10, "second", False)


async def test_edit_onto_its_own_key_is_not_a_duplicate(client, backend):
    await seed(client)
    created = await create(client, log())
    response = await client.put(
        f"/tasklogs/{created['taskLogId']}/", json={"taskId": 250, "userId": 10, "startTime": created["startTime"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["taskLogId"] == created["taskLogId"]


async def test_edit_of_unknown_task_log_is_404(client, backend):
    await seed(client)
    for method in ("PUT", "PATCH"):
        response = await client.request(method, "/tasklogs/4242/", json={"description": "x"})
        assert_error(response, 404, "TASK_LOG_NOT_FOUND")
    assert await count_logs(backend) == 0


async def test_edit_reads_naive_times_in_the_employees_zone(client, backend):
    await seed(client, timezone="Europe/Berlin")
    created = await create(client, log())
    response = await client.patch(
        f"/tasklogs/{created['taskLogId']}/",
        json={"startTime": "2024-10-29T09:00:00", "endTime": "2024-10-29T12:00:00"},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["startTime"], data["endTime"]) == ("2024-10-29T08:00:00Z", "2024-10-29T11:00:00Z")


async def test_edit_moving_a_log_to_another_employee_uses_that_employees_zone(client, backend):
    await seed(client, timezone="Europe/Berlin")
    await put(client, "/employees/11/", {"companyId": 1, "name": "Ravi Kumar", "timezone": "Asia/Kolkata"})
    created = await create(client, log())
    response = await client.put(
        f"/tasklogs/{created['taskLogId']}/", json={"userId": 11, "startTime": "2024-10-29T09:00:00"}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["userId"], data["startTime"], data["endTime"]) == (11, "2024-10-29T03:30:00Z", "2024-10-29T10:30:00Z")


async def test_edit_can_clear_the_description(client, backend):
    await seed(client)
    created = await create(client, log(description="something"))
    response = await client.patch(f"/tasklogs/{created['taskLogId']}/", json={"description": ""})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["description"] == ""


# ---------------------------------------------------------------- delete


async def test_delete_answers_the_deleted_id_and_removes_the_row(client, backend):
    await seed(client)
    keep = await create(client, log(start="2024-10-29T07:00:00Z", end="2024-10-29T08:00:00Z"))
    gone = await create(client, log())
    pk = gone["taskLogId"]
    response = await client.delete(f"/api/tasklogs/delete/{pk}/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == 1
    assert body["message"] == "Task log deleted"
    assert body["data"] == {"taskLogId": pk}
    assert body["dailyTotals"] == [
        {"userId": 10, "date": "2024-10-29", "totalSeconds": 3600, "totalHours": 1.0, "totalTime": "1:00"}
    ]
    assert await backend.scalar("SELECT count(*) FROM task_logs WHERE id = :id", id=pk) == 0
    assert await count_logs(backend) == 1
    assert_error(await client.get(f"/tasklogs/{pk}/"), 404, "TASK_LOG_NOT_FOUND")
    listed = (await client.get("/taskLogs/task/250/")).json()
    assert [x["taskLogId"] for x in listed["data"]] == [keep["taskLogId"]]


async def test_delete_unknown_or_already_deleted_is_404(client, backend):
    await seed(client)
    created = await create(client, log())
    assert_error(await client.delete("/api/tasklogs/delete/98765/"), 404, "TASK_LOG_NOT_FOUND")
    assert (await client.delete(f"/api/tasklogs/delete/{created['taskLogId']}/")).status_code == 200
    assert_error(await client.delete(f"/api/tasklogs/delete/{created['taskLogId']}/"), 404, "TASK_LOG_NOT_FOUND")


async def test_deleted_id_is_not_reused_by_the_next_create(client, backend):
    await seed(client)
    first = await create(client, log())
    await client.delete(f"/api/tasklogs/delete/{first['taskLogId']}/")
    second = await create(client, log())
    assert second["taskLogId"] != first["taskLogId"]
    assert_error(await client.get(f"/tasklogs/{first['taskLogId']}/"), 404, "TASK_LOG_NOT_FOUND")


async def test_same_log_can_be_created_again_after_delete(client, backend):
    await seed(client)
    first = await create(client, log())
    await client.delete(f"/api/tasklogs/delete/{first['taskLogId']}/")
    response = await client.post("/tasklog/create/", json=log())
    assert response.status_code == 200, response.text
    assert await count_logs(backend) == 1
