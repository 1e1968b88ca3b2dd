"""POST /tasklogs/bulk/create/{user_id}/: create many task logs at once, skip
duplicates (stored or earlier in the batch), validate all-or-nothing, cap the size."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import app_and_client
from tests.factories import SEED_BULK, iso, log, seed

BULK = "/tasklogs/bulk/create/{user}/"
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


async def bulk(client, items: Any, user: int = 10, status: int = 200, path: str = BULK) -> dict[str, Any]:
    response = await client.post(path.format(user=user), json=items)
    assert response.status_code == status, response.text
    return response.json()


async def log_count(backend) -> int:
    return await backend.scalar("SELECT count(*) FROM task_logs")


def hourly(n: int, user: int = 10, task: int = 250) -> list[dict[str, Any]]:
    """n distinct logs of 30 minutes, one per hour from 2024-01-01 00:00 UTC on."""
    first = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        log(task, user, iso(first + timedelta(hours=i)), iso(first + timedelta(hours=i, minutes=30))) for i in range(n)
    ]


# ---------------------------------------------------------------- the seed example


@pytest.mark.parametrize("path", [BULK, "/tasklogs/bulk/create/{user}"], ids=["slash", "no-slash"])
async def test_seed_example_creates_three_logs_with_totals_and_allocation(client, backend, path):
    await seed(client)
    body = await bulk(client, SEED_BULK, path=path)

    assert body["status"] == 1
    assert body["message"] == "3 created, 0 duplicates skipped"
    created = body["data"]["created"]
    assert body["data"]["skipped"] == []
    assert [set(c) for c in created] == [LOG_KEYS] * 3
    assert [(c["taskId"], c["projectId"], c["userId"], c["userName"]) for c in created] == [
        (250, 7, 10, "Asha Rao"),
        (251, 7, 10, "Asha Rao"),
        (252, 7, 10, "Asha Rao"),
    ]
    assert [(c["startTime"], c["endTime"], c["durationSeconds"], c["duration"]) for c in created] == [
        ("2024-10-29T09:00:00Z", "2024-10-29T10:30:00Z", 5400, "1:30"),
        ("2024-10-29T10:30:00Z", "2024-10-29T12:00:00Z", 5400, "1:30"),
        ("2024-10-29T13:00:00Z", "2024-10-29T15:30:00Z", 9000, "2:30"),
    ]
    assert [c["description"] for c in created] == [i["description"] for i in SEED_BULK]
    assert all(c["manualAdd"] is False for c in created)
    assert len({c["taskLogId"] for c in created}) == 3

    assert body["dailyTotals"] == [
        {"userId": 10, "date": "2024-10-29", "totalSeconds": 19800, "totalHours": 5.5, "totalTime": "5:30"}
    ]
    # Project 7 has 100 allocated hours in the seed; its tasks have none.
    assert body["allocation"] == [
        {
            "projectId": 7,
            "allocatedHours": 100.0,
            "loggedHours": 5.5,
            "remainingHours": 94.5,
            "exceeded": False,
            "notifiedAdminIds": [],
        }
    ]
    assert body["warnings"] == []

    rows = await backend.rows("SELECT id, task_id, user_id, description FROM task_logs ORDER BY id")
    assert [(r.id, r.task_id, r.user_id, r.description) for r in rows] == [
        (c["taskLogId"], c["taskId"], 10, c["description"]) for c in created
    ]


async def test_created_logs_can_be_read_back(client):
    await seed(client)
    created = (await bulk(client, SEED_BULK))["data"]["created"]
    for item in created:
        response = await client.get(f"/tasklogs/{item['taskLogId']}/")
        assert response.status_code == 200
        assert response.json()["data"] == item


# ---------------------------------------------------------------- duplicates


async def test_same_batch_twice_skips_every_item_pointing_to_the_first_ids(client, backend):
    await seed(client)
    first = (await bulk(client, SEED_BULK))["data"]["created"]

    body = await bulk(client, SEED_BULK)

    assert body["message"] == "0 created, 3 duplicates skipped"
    assert body["data"]["created"] == []
    assert body["data"]["skipped"] == [
        {
            "index": i,
            "reason": "DUPLICATE",
            "existingTaskLogId": first[i]["taskLogId"],
            "taskId": SEED_BULK[i]["taskId"],
            "startTime": SEED_BULK[i]["startTime"],
        }
        for i in range(3)
    ]
    assert await log_count(backend) == 3
    # The answer still tells where the day stands.
    assert body["dailyTotals"][0]["totalSeconds"] == 19800


async def test_one_new_and_one_stored_item_says_duplicate_in_singular(client, backend):
    await seed(client)
    stored = (await bulk(client, SEED_BULK[:1]))["data"]["created"][0]
    new = log(250, 10, "2024-10-30T09:00:00Z", "2024-10-30T10:00:00Z")

    body = await bulk(client, [new, SEED_BULK[0]])

    assert body["message"] == "1 created, 1 duplicate skipped"
    assert [c["startTime"] for c in body["data"]["created"]] == ["2024-10-30T09:00:00Z"]
    assert body["data"]["skipped"] == [
        {
            "index": 1,
            "reason": "DUPLICATE",
            "existingTaskLogId": stored["taskLogId"],
            "taskId": 250,
            "startTime": "2024-10-29T09:00:00Z",
        }
    ]
    assert await log_count(backend) == 2


async def test_duplicate_needs_same_task_user_and_start(client, backend):
    await seed(client)
    await bulk(client, SEED_BULK[:1])
    base = SEED_BULK[0]
    variants = [
        {**base, "taskId": 251},  # other task
        {**base, "startTime": "2024-10-29T09:00:01Z"},  # other start
    ]
    other_user = {**base, "userId": 11}

    body = await bulk(client, variants)
    assert body["message"] == "2 created, 0 duplicates skipped"
    body = await bulk(client, [other_user], user=11)
    assert body["message"] == "1 created, 0 duplicates skipped"
    assert await log_count(backend) == 4


async def test_same_end_time_does_not_matter_for_a_duplicate(client, backend):
    await seed(client)
    stored = (await bulk(client, SEED_BULK[:1]))["data"]["created"][0]
    longer = {**SEED_BULK[0], "endTime": "2024-10-29T11:00:00Z", "description": "other text"}

    body = await bulk(client, [longer])

    assert body["data"]["skipped"][0]["existingTaskLogId"] == stored["taskLogId"]
    rows = await backend.rows("SELECT description FROM task_logs")
    assert [r.description for r in rows] == ["Worked on authentication module"]


async def test_internal_duplicate_keeps_the_first_and_points_to_its_new_id(client, backend):
    await seed(client)
    a = log(250, 10, "2024-10-29T09:00:00Z", "2024-10-29T10:00:00Z", description="first")
    b = log(251, 10, "2024-10-29T10:00:00Z", "2024-10-29T11:00:00Z")
    a_again = log(250, 10, "2024-10-29T09:00:00Z", "2024-10-29T09:30:00Z", description="second")

    body = await bulk(client, [a, b, a_again])

    assert body["message"] == "2 created, 1 duplicate skipped"
    created = body["data"]["created"]
    assert [c["description"] for c in created] == ["first", ""]
    assert body["data"]["skipped"] == [
        {
            "index": 2,
            "reason": "DUPLICATE",
            "existingTaskLogId": created[0]["taskLogId"],
            "taskId": 250,
            "startTime": "2024-10-29T09:00:00Z",
        }
    ]
    rows = await backend.rows("SELECT id, description FROM task_logs ORDER BY id")
    assert [(r.id, r.description) for r in rows] == [(created[0]["taskLogId"], "first"), (created[1]["taskLogId"], "")]
    # Only the stored 2 hours count, not the skipped half hour.
    assert body["dailyTotals"][0]["totalSeconds"] == 7200


async def test_same_instant_with_another_offset_is_an_internal_duplicate(client, backend):
    await seed(client)
    utc = log(250, 10, "2024-10-29T09:00:00Z", "2024-10-29T10:00:00Z")
    india = log(250, 10, "2024-10-29T14:30:00+05:30", "2024-10-29T15:30:00+05:30")

    body = await bulk(client, [utc, india])

    assert body["message"] == "1 created, 1 duplicate skipped"
    assert body["data"]["skipped"][0]["startTime"] == "2024-10-29T09:00:00Z"
    assert body["data"]["skipped"][0]["existingTaskLogId"] == body["data"]["created"][0]["taskLogId"]
    assert await log_count(backend) == 1


async def test_repeat_of_a_stored_log_inside_the_batch_points_to_the_stored_log(client):
    await seed(client)
    stored = (await bulk(client, SEED_BULK[:1]))["data"]["created"][0]

    body = await bulk(client, [SEED_BULK[0], SEED_BULK[0]])

    assert body["message"] == "0 created, 2 duplicates skipped"
    assert [s["existingTaskLogId"] for s in body["data"]["skipped"]] == [stored["taskLogId"]] * 2
    assert [s["index"] for s in body["data"]["skipped"]] == [0, 1]


# ---------------------------------------------------------------- item shapes


async def test_snake_case_and_camel_case_items_can_be_mixed(client, backend):
    await seed(client)
    items = [
        {
            "task_id": 250,
            "user_id": 10,
            "start_time": "2024-10-29T09:00:00Z",
            "end_time": "2024-10-29T10:00:00Z",
            "description": "snake",
            "manual_add": True,
        },
        {
            "taskId": 251,
            "userId": 10,
            "startTime": "2024-10-29T10:00:00Z",
            "endTime": "2024-10-29T11:00:00Z",
            "description": "camel",
            "manualAdd": False,
        },
        {
            "taskId": 252,
            "employee_id": 10,
            "start_time": "2024-10-29T11:00:00Z",
            "endTime": "2024-10-29T12:00:00Z",
            "description": "mixed",
        },
    ]

    body = await bulk(client, items)

    assert body["message"] == "3 created, 0 duplicates skipped"
    assert [(c["taskId"], c["userId"], c["description"], c["manualAdd"]) for c in body["data"]["created"]] == [
        (250, 10, "snake", True),
        (251, 10, "camel", False),
        (252, 10, "mixed", False),
    ]
    rows = await backend.rows("SELECT description, manual_add FROM task_logs ORDER BY id")
    assert [(r.description, bool(r.manual_add)) for r in rows] == [("snake", True), ("camel", False), ("mixed", False)]


async def test_user_id_defaults_to_the_path_user(client, backend):
    await seed(client)
    item = {"taskId": 250, "startTime": "2024-10-29T09:00:00Z", "endTime": "2024-10-29T10:00:00Z"}

    body = await bulk(client, [item], user=11)

    created = body["data"]["created"][0]
    assert (created["userId"], created["userName"]) == (11, "Ravi Kumar")
    assert await backend.scalar("SELECT user_id FROM task_logs") == 11


async def test_user_id_other_than_the_path_user_is_rejected(client, backend):
    await seed(client)
    items = [log(250, 10), log(251, 11, "2024-10-29T11:00:00Z", "2024-10-29T12:00:00Z")]

    body = await bulk(client, items, user=10, status=422)

    assert body["status"] == 0
    assert body["error_code"] == "USER_MISMATCH"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("[1].userId", "USER_MISMATCH")]
    assert await log_count(backend) == 0


async def test_user_mismatch_is_reported_with_the_other_bad_items(client, backend):
    """All-or-nothing names every bad item at once, so a client fixes them in one go."""
    await seed(client)
    items = [
        log(250, 10, "2024-10-29T10:00:00Z", "2024-10-29T09:00:00Z"),  # end before start
        log(250, 11, "2024-10-29T11:00:00Z", "2024-10-29T12:00:00Z"),  # another user
    ]

    body = await bulk(client, items, status=422)

    assert sorted((e["field"], e["code"]) for e in body["errors"]) == [
        ("[0].endTime", "VALIDATION_ERROR"),
        ("[1].userId", "USER_MISMATCH"),
    ]
    assert await log_count(backend) == 0


# ---------------------------------------------------------------- validation


async def test_several_bad_items_are_all_reported_and_nothing_is_saved(client, backend):
    await seed(client, project_hours=1)  # the good items alone would cross the allocation
    items = [
        log(250, 10, "2024-10-29T08:00:00Z", "2024-10-29T09:00:00Z"),  # fine
        log(250, 10, "2024-10-29T10:00:00Z", "2024-10-29T09:30:00Z"),  # end before start
        log(251, 10, "2024-10-29T11:00:00Z", "2024-10-29T12:00:00Z"),  # fine
        log(9999, 10, "2024-10-29T12:00:00Z", "2024-10-29T13:00:00Z"),  # unknown task
        log(900, 10, "2024-10-29T13:00:00Z", "2024-10-29T14:00:00Z"),  # another company's task
        log(252, 10, "2098-01-01T09:00:00Z", "2098-01-01T10:00:00Z"),  # in the future
        log(252, 10, "2024-10-20T00:00:00Z", "2024-10-21T01:00:00Z"),  # 25 hours long
        log(252, 10, "2024-10-29T15:00:00Z", "2024-10-29T15:00:00Z"),  # zero length
    ]

    body = await bulk(client, items, status=422)

    assert body["status"] == 0
    assert body["error_code"] == "VALIDATION_ERROR"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("[1].endTime", "VALIDATION_ERROR"),
        ("[3].taskId", "TASK_NOT_FOUND"),
        ("[4].taskId", "COMPANY_MISMATCH"),
        ("[5].endTime", "FUTURE_TIME"),
        ("[6].endTime", "LOG_TOO_LONG"),
        ("[7].endTime", "VALIDATION_ERROR"),
    ]
    assert all(e["message"] for e in body["errors"])
    assert await log_count(backend) == 0
    assert await backend.scalar("SELECT count(*) FROM notifications") == 0


async def test_inactive_path_user_rejects_every_item(client, backend):
    await seed(client)
    items = [log(250, 12), log(251, 12, "2024-10-29T11:00:00Z", "2024-10-29T12:00:00Z")]

    body = await bulk(client, items, user=12, status=422)

    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("[0].userId", "USER_INACTIVE"),
        ("[1].userId", "USER_INACTIVE"),
    ]
    assert await log_count(backend) == 0


async def test_unknown_path_user_is_not_found(client, backend):
    await seed(client)

    body = await bulk(
        client,
        [{"taskId": 250, "startTime": "2024-10-29T09:00:00Z", "endTime": "2024-10-29T10:00:00Z"}],
        user=404,
        status=404,
    )

    assert body["error_code"] == "USER_NOT_FOUND"
    assert await log_count(backend) == 0


async def test_malformed_items_are_named_by_index(client, backend):
    await seed(client)
    items = [
        log(250, 10),
        {"taskId": 251, "userId": 10, "startTime": "yesterday", "endTime": "2024-10-29T12:00:00Z"},
        {"userId": 10, "startTime": "2024-10-29T13:00:00Z", "endTime": "2024-10-29T14:00:00Z"},
    ]

    body = await bulk(client, items, status=422)

    assert body["status"] == 0
    assert body["error_code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in body["errors"]] == ["[1].startTime", "[2].taskId"]
    assert await log_count(backend) == 0


async def test_non_existent_local_time_is_rejected_for_the_item(client, backend):
    """Without an offset a time is local to the employee; 02:30 did not exist in Berlin on 2024-03-31."""
    await seed(client, timezone="Europe/Berlin")
    items = [
        log(250, 10, "2024-03-31T01:00:00", "2024-03-31T01:30:00"),
        log(251, 10, "2024-03-31T02:30:00", "2024-03-31T04:00:00"),
    ]

    body = await bulk(client, items, status=422)

    assert [(e["field"], e["code"]) for e in body["errors"]] == [("[1].startTime", "INVALID_LOCAL_TIME")]
    assert await log_count(backend) == 0


# ---------------------------------------------------------------- size


async def test_more_than_1000_items_is_413_and_nothing_is_saved(client, backend):
    await seed(client)
    items = hourly(1001)

    body = await bulk(client, items, status=413)

    assert body["status"] == 0
    assert body["error_code"] == "PAYLOAD_TOO_LARGE"
    assert "1000" in body["message"]
    assert await log_count(backend) == 0


async def test_exactly_1000_items_are_accepted(client, backend):
    await seed(client, project_hours=None)

    body = await bulk(client, hourly(1000))

    assert body["message"] == "1000 created, 0 duplicates skipped"
    assert len(body["data"]["created"]) == 1000
    assert await log_count(backend) == 1000


async def test_the_item_cap_is_a_setting(client, backend):
    await seed(client)
    async with app_and_client(backend, bulk_max_items=5) as (_, small):
        too_many = await small.post(BULK.format(user=10), json=hourly(6))
        assert too_many.status_code == 413
        assert too_many.json()["error_code"] == "PAYLOAD_TOO_LARGE"
        assert await log_count(backend) == 0

        enough = await small.post(BULK.format(user=10), json=hourly(5))
        assert enough.status_code == 200, enough.text
        assert enough.json()["message"] == "5 created, 0 duplicates skipped"
    assert await log_count(backend) == 5


async def test_empty_array_creates_nothing(client, backend):
    await seed(client)

    body = await bulk(client, [])

    assert body["status"] == 1
    assert body["message"] == "0 created, 0 duplicates skipped"
    assert body["data"] == {"created": [], "skipped": []}
    assert (body["dailyTotals"], body["allocation"], body["warnings"]) == ([], [], [])
    assert await log_count(backend) == 0


@pytest.mark.parametrize(
    "payload", [SEED_BULK[0], {"items": SEED_BULK}, "text", 3], ids=["object", "wrapped", "string", "number"]
)
async def test_body_that_is_not_an_array_is_422_in_the_envelope(client, backend, payload):
    await seed(client)

    body = await bulk(client, payload, status=422)

    assert body["status"] == 0
    assert body["error_code"] == "VALIDATION_ERROR"
    assert body["errors"] and all({"field", "message", "code"} <= set(e) for e in body["errors"])
    assert await log_count(backend) == 0


async def test_body_that_is_not_json_is_400_malformed_json(client, backend):
    await seed(client)

    response = await client.post(
        BULK.format(user=10), content=b"[{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error_code"] == "MALFORMED_JSON"
    assert await log_count(backend) == 0
