"""Every rule of a task log write, with its error code, and that a refused
write leaves nothing in the database. Runs on SQLite and PostgreSQL."""

from typing import Any

import httpx
import pytest

from tests.factories import hours_from_now, log, put, seed

MAX_ID = 2**63 - 1


async def post(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await client.post("/tasklog/create/", json=body)


async def count_logs(backend: Any) -> int:
    return await backend.scalar("SELECT count(*) FROM task_logs")


async def assert_rejected(
    response: httpx.Response, backend: Any, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """The error envelope with `code`, naming `field`, and no task log stored."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == 0
    assert body["error_code"] == code
    assert isinstance(body["message"], str) and body["message"]
    for error in body["errors"]:
        assert set(error) == {"field", "message", "code"}
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body["errors"]
    assert await count_logs(backend) == 0
    return body


async def created(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await post(client, body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


# ---------------------------------------------------------------- times


@pytest.mark.parametrize("end", ["2024-10-29T09:00:00Z", "2024-10-29T08:59:59Z"])
async def test_end_not_after_start_is_422_on_end_time(client, backend, end):
    await seed(client)
    response = await post(client, log(start="2024-10-29T09:00:00Z", end=end))
    body = await assert_rejected(response, backend, 422, "VALIDATION_ERROR", "endTime")
    assert body["errors"][0]["code"] == "VALIDATION_ERROR"


async def test_log_of_exactly_24_hours_is_accepted(client, backend):
    await seed(client)
    data = await created(client, log(start="2024-10-28T09:00:00Z", end="2024-10-29T09:00:00Z"))
    assert data["durationSeconds"] == 86400
    assert data["duration"] == "24:00"


async def test_log_longer_than_24_hours_is_log_too_long(client, backend):
    await seed(client)
    response = await post(client, log(start="2024-10-28T09:00:00Z", end="2024-10-29T09:00:01Z"))
    await assert_rejected(response, backend, 422, "LOG_TOO_LONG", "endTime")


async def test_log_ending_in_the_future_is_future_time(client, backend):
    await seed(client)
    response = await post(client, log(start=hours_from_now(-1), end=hours_from_now(1)))
    await assert_rejected(response, backend, 422, "FUTURE_TIME", "endTime")


async def test_log_entirely_in_the_future_is_future_time(client, backend):
    await seed(client)
    response = await post(client, log(start=hours_from_now(48), end=hours_from_now(49)))
    await assert_rejected(response, backend, 422, "FUTURE_TIME")


async def test_end_a_minute_ahead_is_within_clock_skew(client, backend):
    await seed(client)
    await created(client, log(start=hours_from_now(-1), end=hours_from_now(1 / 60)))
    assert await count_logs(backend) == 1


async def test_naive_time_is_read_in_the_company_zone(client, backend):
    await seed(client, timezone="Europe/Berlin")
    data = await created(client, log(start="2024-10-29T09:00:00", end="2024-10-29T10:30:00"))
    assert (data["startTime"], data["endTime"]) == ("2024-10-29T08:00:00Z", "2024-10-29T09:30:00Z")
    again = (await client.get(f"/tasklogs/{data['taskLogId']}/")).json()["data"]
    assert again["startTime"] == "2024-10-29T08:00:00Z"


async def test_naive_summer_time_is_read_with_the_summer_offset(client, backend):
    await seed(client, timezone="Europe/Berlin")
    data = await created(client, log(start="2024-07-01T09:00:00", end="2024-07-01T10:00:00"))
    assert data["startTime"] == "2024-07-01T07:00:00Z"


async def test_naive_time_uses_the_employees_own_zone_over_the_company(client, backend):
    await seed(client, timezone="Europe/Berlin")
    await put(client, "/employees/10/", {"companyId": 1, "name": "Asha Rao", "timezone": "Asia/Kolkata"})
    data = await created(client, log(start="2024-10-29T09:00:00", end="2024-10-29T10:30:00"))
    assert (data["startTime"], data["endTime"]) == ("2024-10-29T03:30:00Z", "2024-10-29T05:00:00Z")
    # Another employee of the same company still uses the company's zone.
    other = await created(client, log(user_id=11, start="2024-10-29T09:00:00", end="2024-10-29T10:30:00"))
    assert other["startTime"] == "2024-10-29T08:00:00Z"


async def test_naive_time_is_utc_when_the_company_has_no_zone(client, backend):
    await seed(client)  # company 2 was created without a time zone
    await put(client, "/employees/21/", {"companyId": 2, "name": "Other Worker"})
    data = await created(client, log(task_id=900, user_id=21, start="2024-10-29T09:00:00", end="2024-10-29T10:00:00"))
    assert data["startTime"] == "2024-10-29T09:00:00Z"


async def test_offset_times_are_converted_to_utc_whatever_the_zone(client, backend):
    await seed(client, timezone="Europe/Berlin")
    data = await created(client, log(start="2024-10-29T14:30:00+05:30", end="2024-10-29T11:00:00-01:00"))
    assert (data["startTime"], data["endTime"]) == ("2024-10-29T09:00:00Z", "2024-10-29T12:00:00Z")
    assert data["durationSeconds"] == 3 * 3600


async def test_wall_time_in_a_dst_gap_is_invalid_local_time(client, backend):
    await seed(client, timezone="Europe/Berlin")
    response = await post(client, log(start="2024-03-31T02:30:00", end="2024-03-31T04:00:00"))
    await assert_rejected(response, backend, 422, "INVALID_LOCAL_TIME", "startTime")
    response = await post(client, log(start="2024-03-31T01:00:00", end="2024-03-31T02:15:00"))
    await assert_rejected(response, backend, 422, "INVALID_LOCAL_TIME", "endTime")


async def test_log_across_the_dst_change_counts_real_elapsed_time(client, backend):
    await seed(client, timezone="Europe/Berlin")
    # 01:00 CET to 04:00 CEST on the night clocks go forward is two real hours.
    data = await created(client, log(start="2024-03-31T01:00:00", end="2024-03-31T04:00:00"))
    assert (data["startTime"], data["endTime"]) == ("2024-03-31T00:00:00Z", "2024-03-31T02:00:00Z")
    assert data["durationSeconds"] == 7200


async def test_ambiguous_wall_time_is_read_as_its_first_occurrence(client, backend):
    await seed(client, timezone="Europe/Berlin")
    data = await created(client, log(start="2024-10-27T02:30:00", end="2024-10-27T03:30:00"))
    assert data["startTime"] == "2024-10-27T00:30:00Z"  # 02:30 CEST, not CET


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+05:00", "0001-01-01T02:00:00+05:00"),
        ("0001-01-01T00:30:00", "0001-01-01T02:00:00"),
        ("9999-12-31T20:00:00-05:00", "9999-12-31T23:00:00-05:00"),
    ],
    ids=["year-1-with-offset", "year-1-naive-in-berlin", "year-9999-with-offset"],
)
async def test_timestamp_at_the_edge_of_the_calendar_is_422_not_500(client, backend, start, end):
    await seed(client, timezone="Europe/Berlin")
    response = await post(client, log(start=start, end=end))
    assert response.status_code == 422, response.text
    assert response.json()["status"] == 0
    assert await count_logs(backend) == 0


async def test_unparseable_timestamp_is_422(client, backend):
    await seed(client)
    response = await post(client, log(start="yesterday morning"))
    await assert_rejected(response, backend, 422, "VALIDATION_ERROR", "startTime")


# ---------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (log(task_id=999), "TASK_NOT_FOUND", "taskId"),
        (log(user_id=999), "USER_NOT_FOUND", "userId"),
        (log(user_id=12), "USER_INACTIVE", "userId"),
        (log(task_id=900, user_id=10), "COMPANY_MISMATCH", "taskId"),
        (log(task_id=250, user_id=21), "COMPANY_MISMATCH", "taskId"),
    ],
    ids=["unknown-task", "unknown-employee", "inactive-employee", "task-of-other-company", "employee-of-other-company"],
)
async def test_reference_rule_broken_is_422_with_its_code(client, backend, body, code, field):
    await seed(client)
    response = await post(client, body)
    await assert_rejected(response, backend, 422, code, field)


async def test_employee_made_inactive_can_no_longer_log(client, backend):
    await seed(client)
    await put(client, "/employees/10/", {"companyId": 1, "name": "Asha Rao", "isActive": False})
    await assert_rejected(await post(client, log()), backend, 422, "USER_INACTIVE", "userId")


# ---------------------------------------------------------------- description


async def test_description_is_trimmed(client, backend):
    await seed(client)
    data = await created(client, log(description="  \n Worked on auth\t "))
    assert data["description"] == "Worked on auth"
    rows = await backend.rows("SELECT description FROM task_logs")
    assert rows[0][0] == "Worked on auth"


async def test_description_keeps_inner_line_breaks_and_tabs(client, backend):
    await seed(client)
    data = await created(client, log(description="line one\nline\ttwo"))
    assert data["description"] == "line one\nline\ttwo"


async def test_description_of_5000_characters_is_accepted(client, backend):
    await seed(client)
    data = await created(client, log(description="x" * 5000))
    assert len(data["description"]) == 5000


async def test_description_of_5000_characters_after_trimming_is_accepted(client, backend):
    await seed(client)
    data = await created(client, log(description="  " + "x" * 5000 + "  "))
    assert data["description"] == "x" * 5000


async def test_description_over_5000_characters_is_rejected(client, backend):
    await seed(client)
    response = await post(client, log(description="x" * 5001))
    await assert_rejected(response, backend, 422, "VALIDATION_ERROR", "description")


@pytest.mark.parametrize(
    "text",
    ["nul\x00byte", "bell\x07", "escape\x1b[31m", "delete\x7f", "c1-csi\x9b31m"],
    ids=["nul", "bell", "escape", "del", "c1-control"],
)
async def test_description_with_control_characters_is_rejected(client, backend, text):
    await seed(client)
    response = await post(client, log(description=text))
    body = await assert_rejected(response, backend, 422, "VALIDATION_ERROR", "description")
    # Worded for people, not as the pattern that checks it (app/core/errors.py).
    assert body["errors"] == [
        {"field": "description", "message": "must not contain control characters", "code": "VALIDATION_ERROR"}
    ]


async def test_null_description_is_stored_as_empty(client, backend):
    await seed(client)
    data = await created(client, log(description=None))
    assert data["description"] == ""


# ---------------------------------------------------------------- duplicates


async def test_duplicate_create_is_409_with_the_existing_id(client, backend):
    await seed(client)
    first = await created(client, log(description="first"))
    response = await post(client, log(end="2024-10-29T11:00:00Z", description="second"))
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["status"] == 0
    assert body["error_code"] == "DUPLICATE_TASK_LOG"
    assert body["message"] == "Duplicate Time Log."
    assert body["existingTaskLogId"] == first["taskLogId"]
    rows = await backend.rows("SELECT id, description FROM task_logs")
    assert [tuple(r) for r in rows] == [(first["taskLogId"], "first")]


async def test_same_instant_in_another_spelling_is_a_duplicate(client, backend):
    await seed(client, timezone="Europe/Berlin")
    first = await created(client, log(start="2024-10-29T09:00:00Z"))
    for start in ("2024-10-29T14:30:00+05:30", "2024-10-29T10:00:00"):  # the latter: Berlin wall time
        response = await post(client, log(start=start))
        assert response.status_code == 409, (start, response.text)
        assert response.json()["existingTaskLogId"] == first["taskLogId"]
    assert await count_logs(backend) == 1


async def test_fractional_seconds_do_not_dodge_the_duplicate_rule(client, backend):
    await seed(client)
    first = await created(client, log(start="2024-10-29T09:00:00Z"))
    response = await post(client, log(start="2024-10-29T09:00:00.400Z"))
    assert response.status_code == 409, response.text
    assert response.json()["existingTaskLogId"] == first["taskLogId"]
    assert await count_logs(backend) == 1


async def test_same_start_for_another_task_or_employee_is_not_a_duplicate(client, backend):
    await seed(client)
    await created(client, log())
    await created(client, log(task_id=251))
    await created(client, log(user_id=11))
    assert await count_logs(backend) == 3


# ---------------------------------------------------------------- payload


async def test_unknown_fields_are_ignored(client, backend):
    await seed(client)
    data = await created(client, log(color="blue", taskLogId=777, project={"id": 1}))
    assert data["taskLogId"] != 777  # ids are the server's, never the client's
    assert "color" not in data
    assert await count_logs(backend) == 1


async def test_malformed_json_is_400_malformed_json(client, backend):
    await seed(client)
    response = await client.post(
        "/tasklog/create/", content=b'{"taskId": 250,', headers={"content-type": "application/json"}
    )
    await assert_rejected(response, backend, 400, "MALFORMED_JSON")


async def test_missing_fields_are_listed_in_the_error_envelope(client, backend):
    await seed(client)
    response = await post(client, {"description": "no ids, no times"})
    body = await assert_rejected(response, backend, 422, "VALIDATION_ERROR")
    assert set(body) >= {"status", "message", "error_code", "errors"}
    fields = {e["field"] for e in body["errors"]}
    assert {"taskId", "userId", "startTime", "endTime"} <= fields, fields
    assert all(e["code"] == "VALIDATION_ERROR" and e["message"] for e in body["errors"])


async def test_one_missing_field_is_named_in_the_message(client, backend):
    await seed(client)
    body = log()
    del body["endTime"]
    response = await post(client, body)
    result = await assert_rejected(response, backend, 422, "VALIDATION_ERROR", "endTime")
    assert "endTime" in result["message"]


@pytest.mark.parametrize("payload", [[], "a string", 42, None], ids=["list", "string", "number", "null"])
async def test_body_that_is_not_an_object_is_422(client, backend, payload):
    await seed(client)
    await assert_rejected(await post(client, payload), backend, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("value", [0, -1, 2**63, "abc"], ids=["zero", "negative", "2**63", "text"])
@pytest.mark.parametrize("key", ["taskId", "userId"])
async def test_ids_out_of_range_in_the_body_are_422(client, backend, key, value):
    await seed(client)
    response = await post(client, {**log(), key: value})
    await assert_rejected(response, backend, 422, "VALIDATION_ERROR", key)


async def test_largest_id_is_a_clean_not_found(client, backend):
    await seed(client)
    await assert_rejected(await post(client, log(task_id=MAX_ID)), backend, 422, "TASK_NOT_FOUND", "taskId")


@pytest.mark.parametrize("pk", [0, 2**63], ids=["zero", "2**63"])
async def test_path_ids_out_of_range_are_422(client, backend, pk):
    await seed(client)
    for method, path in [
        ("GET", f"/tasklogs/{pk}/"),
        ("PUT", f"/tasklogs/{pk}/"),
        ("PATCH", f"/tasklogs/{pk}/"),
        ("DELETE", f"/api/tasklogs/delete/{pk}/"),
        ("GET", f"/taskLogs/task/{pk}/"),
    ]:
        response = await client.request(method, path, json={"description": "x"} if method in ("PUT", "PATCH") else None)
        assert response.status_code == 422, (method, path, response.text)
        assert response.json()["error_code"] == "VALIDATION_ERROR"
    assert await count_logs(backend) == 0


async def test_largest_path_id_is_a_clean_404(client, backend):
    await seed(client)
    response = await client.get(f"/tasklogs/{MAX_ID}/")
    assert response.status_code == 404, response.text
    assert response.json()["error_code"] == "TASK_LOG_NOT_FOUND"
