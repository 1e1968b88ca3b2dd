"""dailyTotals and warnings in the answers of every write: bulk create, single
create, edit and delete. Days are the employee's local days (the employee's
zone, else the company's) and total all of the employee's logs of that day."""

from typing import Any

from tests.conftest import app_and_client
from tests.factories import SEED_BULK, log, put, seed

BULK = "/tasklogs/bulk/create/{user}/"


async def bulk(client, items: list[dict[str, Any]], user: int = 10) -> dict[str, Any]:
    response = await client.post(BULK.format(user=user), json=items)
    assert response.status_code == 200, response.text
    return response.json()


async def create(client, item: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/tasklog/create/", json=item)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def edit(client, log_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    response = await client.put(f"/tasklogs/{log_id}/", json=changes)
    assert response.status_code == 200, response.text
    return response.json()


async def delete(client, log_id: int) -> dict[str, Any]:
    response = await client.delete(f"/api/tasklogs/delete/{log_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def day(date: str, seconds: int, hours: float, time: str, user: int = 10) -> dict[str, Any]:
    return {"userId": user, "date": date, "totalSeconds": seconds, "totalHours": hours, "totalTime": time}


def overlap(log_id: int, other_id: int) -> dict[str, Any]:
    return {"code": "OVERLAPPING_LOG", "taskLogId": log_id, "overlapsTaskLogId": other_id}


def long_day(date: str, total_hours: float, user: int = 10, limit: float = 12.0) -> dict[str, Any]:
    return {
        "code": "DAILY_HOURS_EXCEEDED",
        "userId": user,
        "date": date,
        "totalHours": total_hours,
        "limitHours": limit,
    }


def ids(body: dict[str, Any]) -> list[int]:
    return [c["taskLogId"] for c in body["data"]["created"]]


# ---------------------------------------------------------------- what a day totals


async def test_day_total_counts_the_employees_earlier_logs_too(client):
    await seed(client)
    await create(client, log(260, 10, "2024-10-29T07:00:00Z", "2024-10-29T08:00:00Z"))
    await create(client, log(250, 11, "2024-10-29T07:00:00Z", "2024-10-29T09:00:00Z"))  # someone else
    await create(client, log(250, 10, "2024-10-28T07:00:00Z", "2024-10-28T09:00:00Z"))  # another day

    body = await bulk(client, SEED_BULK)

    # 1 h earlier + 1.5 + 1.5 + 2.5 h in the batch.
    assert body["dailyTotals"] == [day("2024-10-29", 23400, 6.5, "6:30")]


async def test_every_day_the_batch_touches_gets_a_total_in_date_order(client):
    await seed(client)
    items = [log(250, 10, "2024-10-30T09:00:00Z", "2024-10-30T09:45:00Z"), *SEED_BULK]

    body = await bulk(client, items)

    assert body["dailyTotals"] == [
        day("2024-10-29", 19800, 5.5, "5:30"),
        day("2024-10-30", 2700, 0.75, "0:45"),
    ]


async def test_log_crossing_local_midnight_counts_its_share_in_both_days(client):
    """Company in Berlin (UTC+1 in November): 22:00 to 02:00 local is 21:00Z to 01:00Z."""
    await seed(client, timezone="Europe/Berlin")

    body = await bulk(client, [log(250, 10, "2024-11-04T21:00:00Z", "2024-11-05T01:00:00Z")])

    assert body["dailyTotals"] == [
        day("2024-11-04", 7200, 2.0, "2:00"),
        day("2024-11-05", 7200, 2.0, "2:00"),
    ]


async def test_time_without_offset_is_local_to_the_employee(client):
    await seed(client, timezone="Europe/Berlin")

    body = await bulk(client, [log(250, 10, "2024-11-04T22:00:00", "2024-11-05T02:00:00")])

    created = body["data"]["created"][0]
    assert (created["startTime"], created["endTime"]) == ("2024-11-04T21:00:00Z", "2024-11-05T01:00:00Z")
    assert [d["totalSeconds"] for d in body["dailyTotals"]] == [7200, 7200]


async def test_employee_zone_beats_the_company_zone(client):
    await seed(client, timezone="Europe/Berlin")
    await put(client, "/employees/11/", {"companyId": 1, "name": "Ravi Kumar", "timezone": "Asia/Kolkata"})

    # 20:00Z-21:00Z is 01:30-02:30 on the 30th in India (in Berlin it would still be the 29th).
    body = await bulk(client, [log(250, 11, "2024-10-29T20:00:00Z", "2024-10-29T21:00:00Z")], user=11)

    assert body["dailyTotals"] == [day("2024-10-30", 3600, 1.0, "1:00", user=11)]


async def test_berlin_autumn_dst_day_has_25_hours(client):
    """2024-10-27 in Berlin runs from 22:00Z on the 26th to 23:00Z on the 27th."""
    await seed(client, timezone="Europe/Berlin", project_hours=None)
    items = [
        log(250, 10, "2024-10-26T22:00:00Z", "2024-10-27T11:00:00Z"),  # local 00:00-12:00, 13 h
        log(251, 10, "2024-10-27T11:00:00Z", "2024-10-27T23:00:00Z"),  # local 12:00-24:00, 12 h
    ]

    body = await bulk(client, items)

    assert body["dailyTotals"] == [day("2024-10-27", 90000, 25.0, "25:00")]
    assert body["warnings"] == [long_day("2024-10-27", 25.0)]


async def test_berlin_spring_dst_day_has_23_hours(client):
    await seed(client, timezone="Europe/Berlin", project_hours=None)

    # Local midnight to midnight, given as wall-clock times: 23 hours of real time.
    body = await bulk(client, [log(250, 10, "2024-03-31T00:00:00", "2024-04-01T00:00:00")])

    created = body["data"]["created"][0]
    assert (created["startTime"], created["endTime"]) == ("2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z")
    assert created["durationSeconds"] == 82800
    assert body["dailyTotals"] == [day("2024-03-31", 82800, 23.0, "23:00")]


async def test_24_hour_log_around_the_short_day_touches_three_local_days(client):
    """Berlin 2024-03-30 23:30 (CET) to 2024-04-01 00:30 (CEST) is exactly 24 h: half an hour,
    the whole 23-hour day, half an hour."""
    await seed(client, timezone="Europe/Berlin", project_hours=None)

    body = await bulk(client, [log(250, 10, "2024-03-30T23:30:00", "2024-04-01T00:30:00")])

    assert body["data"]["created"][0]["durationSeconds"] == 86400
    assert body["dailyTotals"] == [
        day("2024-03-30", 1800, 0.5, "0:30"),
        day("2024-03-31", 82800, 23.0, "23:00"),
        day("2024-04-01", 1800, 0.5, "0:30"),
    ]
    assert body["warnings"] == [long_day("2024-03-31", 23.0)]


async def test_repeated_local_hour_is_read_as_its_first_occurrence(client):
    """02:30 happened twice in Berlin on 2024-10-27; without an offset it is the first (CEST, 00:30Z)."""
    await seed(client, timezone="Europe/Berlin", project_hours=None)

    body = await bulk(client, [log(250, 10, "2024-10-27T02:30:00", "2024-10-27T02:45:00")])

    created = body["data"]["created"][0]
    assert (created["startTime"], created["endTime"]) == ("2024-10-27T00:30:00Z", "2024-10-27T00:45:00Z")
    assert body["dailyTotals"] == [day("2024-10-27", 900, 0.25, "0:15")]


async def test_same_log_in_utc_company_is_split_over_two_days(client):
    """Counter-check of the DST tests: the zone, not UTC, decides the days."""
    await seed(client, timezone="UTC", project_hours=None)

    body = await bulk(client, [log(250, 10, "2024-10-26T22:00:00Z", "2024-10-27T11:00:00Z")])

    assert body["dailyTotals"] == [
        day("2024-10-26", 7200, 2.0, "2:00"),
        day("2024-10-27", 39600, 11.0, "11:00"),
    ]


# ---------------------------------------------------------------- single create, edit, delete


async def test_single_create_answers_with_totals_allocation_and_warnings(client):
    await seed(client)
    await bulk(client, SEED_BULK)

    body = await create(client, log(251, 10, "2024-10-29T16:00:00Z", "2024-10-29T16:30:00Z"))

    assert body["data"]["taskId"] == 251
    assert body["dailyTotals"] == [day("2024-10-29", 21600, 6.0, "6:00")]
    assert body["allocation"] == [
        {
            "projectId": 7,
            "allocatedHours": 100.0,
            "loggedHours": 6.0,
            "remainingHours": 94.0,
            "exceeded": False,
            "notifiedAdminIds": [],
        }
    ]
    assert body["warnings"] == []


async def test_edit_moving_a_log_to_another_day_reports_both_days(client):
    await seed(client)
    first = ids(await bulk(client, SEED_BULK))[0]

    body = await edit(client, first, {"startTime": "2024-10-30T09:00:00Z", "endTime": "2024-10-30T10:00:00Z"})

    assert body["data"]["startTime"] == "2024-10-30T09:00:00Z"
    assert body["dailyTotals"] == [
        day("2024-10-29", 14400, 4.0, "4:00"),
        day("2024-10-30", 3600, 1.0, "1:00"),
    ]
    assert body["allocation"] == [
        {
            "projectId": 7,
            "allocatedHours": 100.0,
            "loggedHours": 5.0,
            "remainingHours": 95.0,
            "exceeded": False,
            "notifiedAdminIds": [],
        }
    ]
    assert body["warnings"] == []


async def test_edit_moving_a_log_to_another_employee_reports_both_employees(client):
    await seed(client)
    first = ids(await bulk(client, SEED_BULK))[0]

    body = await edit(client, first, {"userId": 11})

    assert body["dailyTotals"] == [
        day("2024-10-29", 14400, 4.0, "4:00", user=10),
        day("2024-10-29", 5400, 1.5, "1:30", user=11),
    ]


async def test_delete_answers_with_the_days_new_total_and_allocation(client, backend):
    await seed(client)
    third = ids(await bulk(client, SEED_BULK))[2]

    body = await delete(client, third)

    assert body["data"] == {"taskLogId": third}
    assert body["dailyTotals"] == [day("2024-10-29", 10800, 3.0, "3:00")]
    assert body["allocation"] == [
        {
            "projectId": 7,
            "allocatedHours": 100.0,
            "loggedHours": 3.0,
            "remainingHours": 97.0,
            "exceeded": False,
            "notifiedAdminIds": [],
        }
    ]
    assert body["warnings"] == []
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 2


async def test_deleting_the_days_only_log_gives_a_zero_total(client):
    await seed(client)
    only = ids(await bulk(client, SEED_BULK[:1]))[0]

    body = await delete(client, only)

    assert body["dailyTotals"] == [day("2024-10-29", 0, 0.0, "0:00")]


# ---------------------------------------------------------------- overlap warning


async def test_new_log_overlapping_stored_logs_warns_but_is_saved(client, backend):
    await seed(client)
    first, second, _ = ids(await bulk(client, SEED_BULK))

    # 10:00-10:45 on another task overlaps 09:00-10:30 and 10:30-12:00.
    body = await bulk(client, [log(260, 10, "2024-10-29T10:00:00Z", "2024-10-29T10:45:00Z")])

    new = ids(body)[0]
    assert body["warnings"] == [overlap(new, first), overlap(new, second)]
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 4


async def test_log_touching_end_to_start_is_not_an_overlap(client):
    await seed(client)
    await bulk(client, SEED_BULK)

    # 12:00-13:00 fills the gap between 10:30-12:00 and 13:00-15:30 exactly.
    body = await bulk(client, [log(260, 10, "2024-10-29T12:00:00Z", "2024-10-29T13:00:00Z")])

    assert body["warnings"] == []
    assert body["data"]["created"]


async def test_another_employees_log_at_the_same_time_is_not_an_overlap(client):
    await seed(client)
    await bulk(client, SEED_BULK)

    body = await bulk(client, [log(250, 11, "2024-10-29T09:00:00Z", "2024-10-29T10:00:00Z")], user=11)

    assert body["warnings"] == []


async def test_overlap_inside_one_batch_warns(client):
    await seed(client)
    items = [
        log(250, 10, "2024-10-29T09:00:00Z", "2024-10-29T11:00:00Z"),
        log(251, 10, "2024-10-29T10:00:00Z", "2024-10-29T12:00:00Z"),
    ]

    body = await bulk(client, items)

    a, b = ids(body)
    overlaps = [w for w in body["warnings"] if w["code"] == "OVERLAPPING_LOG"]
    assert overlaps, body["warnings"]
    assert all({w["taskLogId"], w["overlapsTaskLogId"]} == {a, b} for w in overlaps)


async def test_single_create_and_edit_warn_about_overlap(client):
    await seed(client)
    first, second, third = ids(await bulk(client, SEED_BULK))

    created = await create(client, log(260, 10, "2024-10-29T15:00:00Z", "2024-10-29T16:00:00Z"))
    assert created["warnings"] == [overlap(created["data"]["taskLogId"], third)]

    # 09:00-10:30 stretched to 13:30 now covers 10:30-12:00 and reaches into 13:00-15:30.
    edited = await edit(client, first, {"endTime": "2024-10-29T13:30:00Z"})
    assert edited["warnings"] == [overlap(first, second), overlap(first, third)]


# ---------------------------------------------------------------- daily limit warning


async def test_exactly_twelve_hours_is_within_the_daily_limit(client):
    await seed(client, project_hours=None)
    items = [
        log(250, 10, "2024-10-28T00:00:00Z", "2024-10-28T06:00:00Z"),
        log(251, 10, "2024-10-28T06:00:00Z", "2024-10-28T12:00:00Z"),
    ]

    body = await bulk(client, items)

    assert body["dailyTotals"] == [day("2024-10-28", 43200, 12.0, "12:00")]
    assert body["warnings"] == []


async def test_going_over_twelve_hours_warns_but_is_saved(client, backend):
    await seed(client, project_hours=None)
    await bulk(
        client,
        [
            log(250, 10, "2024-10-28T00:00:00Z", "2024-10-28T06:00:00Z"),
            log(251, 10, "2024-10-28T06:00:00Z", "2024-10-28T12:00:00Z"),
        ],
    )

    body = await bulk(client, [log(252, 10, "2024-10-28T12:00:00Z", "2024-10-28T12:30:00Z")])

    assert body["warnings"] == [long_day("2024-10-28", 12.5)]
    assert body["dailyTotals"] == [day("2024-10-28", 45000, 12.5, "12:30")]
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 3


async def test_each_long_day_gets_its_own_warning(client):
    await seed(client, project_hours=None)
    items = [
        log(250, 10, "2024-10-01T00:00:00Z", "2024-10-01T13:00:00Z"),
        log(250, 10, "2024-10-02T00:00:00Z", "2024-10-02T08:00:00Z"),
        log(250, 10, "2024-10-03T00:00:00Z", "2024-10-03T14:00:00Z"),
    ]

    body = await bulk(client, items)

    assert body["warnings"] == [long_day("2024-10-01", 13.0), long_day("2024-10-03", 14.0)]


async def test_daily_limit_is_a_setting(client, backend):
    await seed(client, project_hours=None)
    async with app_and_client(backend, max_daily_hours=8) as (_, strict):
        response = await strict.post(
            BULK.format(user=10), json=[log(250, 10, "2024-10-28T00:00:00Z", "2024-10-28T08:30:00Z")]
        )

    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == [long_day("2024-10-28", 8.5, limit=8.0)]
