"""Allocated hours: every write answers with the `allocation` of the projects
and tasks it touched, and the company's active admins are told once when a
write takes logged time over the allocation. Falling back under (edit,
delete, a raised allocation) re-arms the alert."""

import json
from typing import Any

from tests.factories import SEED_BULK, log, put, seed

BULK = "/tasklogs/bulk/create/{user}/"
PROJECT_ALERT = "PROJECT_ALLOCATION_EXCEEDED"
TASK_ALERT = "TASK_ALLOCATION_EXCEEDED"


async def bulk(client, items: list[dict[str, Any]], user: int = 10) -> dict[str, Any]:
    response = await client.post(BULK.format(user=user), json=items)
    assert response.status_code == 200, response.text
    return response.json()


async def delete(client, log_id: int) -> dict[str, Any]:
    response = await client.delete(f"/api/tasklogs/delete/{log_id}/")
    assert response.status_code == 200, response.text
    return response.json()


async def edit(client, log_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    response = await client.put(f"/tasklogs/{log_id}/", json=changes)
    assert response.status_code == 200, response.text
    return response.json()


async def set_project_hours(client, hours: float | None) -> dict[str, Any]:
    return await put(client, "/projects/7/", {"companyId": 1, "name": "Website", "allocatedHours": hours})


async def set_task_hours(client, task_id: int, hours: float | None) -> dict[str, Any]:
    return await put(client, f"/tasks/{task_id}/", {"projectId": 7, "name": f"Task {task_id}", "allocatedHours": hours})


async def get(client, path: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def alerts(client, recipient: int) -> list[dict[str, Any]]:
    """The recipient's notifications, oldest first."""
    data = await get(client, f"/notifications/recipient/{recipient}/?page_size=100")
    return list(reversed(data))


async def alert_count(backend) -> int:
    return await backend.scalar("SELECT count(*) FROM notifications")


def ids(body: dict[str, Any]) -> list[int]:
    return [c["taskLogId"] for c in body["data"]["created"]]


def project_entry(allocated: float, logged: float, exceeded: bool, notified: list[int] | None = None) -> dict:
    return {
        "projectId": 7,
        "allocatedHours": allocated,
        "loggedHours": logged,
        "remainingHours": round(allocated - logged, 2),
        "exceeded": exceeded,
        "notifiedAdminIds": notified or [],
    }


def task_entry(
    task_id: int, allocated: float, logged: float, exceeded: bool, notified: list[int] | None = None
) -> dict:
    return {
        "taskId": task_id,
        "projectId": 7,
        "allocatedHours": allocated,
        "loggedHours": logged,
        "remainingHours": round(allocated - logged, 2),
        "exceeded": exceeded,
        "notifiedAdminIds": notified or [],
    }


LATER = log(251, 10, "2024-10-30T09:00:00Z", "2024-10-30T11:00:00Z")  # 2 more hours on project 7


# ---------------------------------------------------------------- entries


async def test_project_under_its_allocation_is_reported_and_nobody_is_told(client, backend):
    await seed(client, project_hours=100)

    body = await bulk(client, SEED_BULK)

    assert body["allocation"] == [project_entry(100.0, 5.5, False)]
    assert await alert_count(backend) == 0


async def test_logged_time_equal_to_the_allocation_is_not_over(client, backend):
    await seed(client, project_hours=5.5)

    body = await bulk(client, SEED_BULK)

    assert body["allocation"] == [project_entry(5.5, 5.5, False)]
    assert body["allocation"][0]["remainingHours"] == 0.0
    assert await alert_count(backend) == 0


async def test_a_few_seconds_over_shows_zero_remaining_not_minus_zero(client):
    await seed(client, project_hours=1)

    # One hour and 10 seconds: -0.0028 h, which rounds to -0.0, a sign clients would print.
    body = await bulk(client, [log(250, 10, "2024-10-29T09:00:00Z", "2024-10-29T10:00:10Z")])

    assert '"remainingHours":0.0' in body_text(body["allocation"][0])
    assert body["allocation"][0]["exceeded"] is True
    project = await get(client, "/projects/7/")
    assert '"remainingHours":0.0' in body_text(project)


def body_text(value: dict[str, Any]) -> str:
    """The JSON as the client receives it, where -0.0 and 0.0 differ."""
    return json.dumps(value, separators=(",", ":"))


async def test_project_without_allocation_has_no_entry(client):
    await seed(client)

    body = await bulk(client, [log(260, 10)])

    assert body["allocation"] == []


async def test_project_shows_logged_and_remaining_hours(client):
    await seed(client, project_hours=5)
    before = await get(client, "/projects/7/")
    assert (before["loggedHours"], before["remainingHours"], before["allocationExceeded"]) == (0.0, 5.0, False)

    await bulk(client, SEED_BULK)

    after = await get(client, "/projects/7/")
    assert after["allocatedHours"] == 5.0
    assert after["loggedSeconds"] == 19800
    assert (after["loggedHours"], after["remainingHours"], after["allocationExceeded"]) == (5.5, -0.5, True)


async def test_project_without_allocation_shows_logged_hours_only(client):
    await seed(client)
    await bulk(client, [log(260, 10)])

    project = await get(client, "/projects/8/")

    assert (
        project["allocatedHours"],
        project["loggedHours"],
        project["remainingHours"],
        project["allocationExceeded"],
    ) == (None, 1.5, None, False)


# ---------------------------------------------------------------- crossing a project's allocation


async def test_crossing_notifies_each_active_admin_of_the_company_once(client, backend):
    await seed(client, project_hours=5)
    await put(client, "/employees/3/", {"companyId": 1, "name": "Former Admin", "isAdmin": True, "isActive": False})

    body = await bulk(client, SEED_BULK)

    assert body["allocation"] == [project_entry(5.0, 5.5, True, [1, 2])]
    rows = await backend.rows("SELECT recipient_id, type FROM notifications ORDER BY recipient_id")
    assert [(r.recipient_id, r.type) for r in rows] == [(1, PROJECT_ALERT), (2, PROJECT_ALERT)]
    for admin in (1, 2):
        [alert] = await alerts(client, admin)
        assert alert["type"] == PROJECT_ALERT
        assert alert["category"] == "project"
        assert alert["read"] is False
        assert "Website" in alert["title"]
        assert alert["payload"] == {
            "projectId": 7,
            "allocatedHours": 5.0,
            "loggedHours": 5.5,
            "taskLogIds": sorted(ids(body)),
        }
    for not_told in (3, 10, 11, 20):
        assert await alerts(client, not_told) == []


async def test_alert_names_only_the_logs_of_the_write_that_crossed(client):
    await seed(client, project_hours=5)
    first = await bulk(client, SEED_BULK[:2])  # 3 h: still under
    assert first["allocation"] == [project_entry(5.0, 3.0, False)]

    crossing = await bulk(client, SEED_BULK)  # two duplicates and 2.5 h more

    assert crossing["message"] == "1 created, 2 duplicates skipped"
    assert crossing["allocation"] == [project_entry(5.0, 5.5, True, [1, 2])]
    [alert] = await alerts(client, 1)
    assert alert["payload"]["taskLogIds"] == ids(crossing)


async def test_next_batch_while_still_over_does_not_notify_again(client, backend):
    await seed(client, project_hours=5)
    await bulk(client, SEED_BULK)

    body = await bulk(client, [LATER])

    assert body["allocation"] == [project_entry(5.0, 7.5, True)]
    assert await alert_count(backend) == 2


async def test_single_create_that_crosses_notifies(client, backend):
    await seed(client, project_hours=5)
    await bulk(client, SEED_BULK[:2])

    response = await client.post("/tasklog/create/", json=SEED_BULK[2])

    assert response.status_code in (200, 201), response.text
    assert response.json()["allocation"] == [project_entry(5.0, 5.5, True, [1, 2])]
    assert [a["payload"]["taskLogIds"] for a in await alerts(client, 2)] == [[response.json()["data"]["taskLogId"]]]


async def test_delete_back_under_re_arms_and_the_next_crossing_notifies_again(client, backend):
    await seed(client, project_hours=5)
    first = ids(await bulk(client, SEED_BULK))[0]

    deleted = await delete(client, first)  # 5.5 - 1.5 = 4 h
    assert deleted["allocation"] == [project_entry(5.0, 4.0, False)]
    assert (await get(client, "/projects/7/"))["allocationExceeded"] is False
    assert await alert_count(backend) == 2

    again = await bulk(client, [LATER])  # 4 + 2 = 6 h

    assert again["allocation"] == [project_entry(5.0, 6.0, True, [1, 2])]
    assert await alert_count(backend) == 4
    latest = (await alerts(client, 1))[-1]
    assert latest["payload"] == {"projectId": 7, "allocatedHours": 5.0, "loggedHours": 6.0, "taskLogIds": ids(again)}


async def test_delete_that_stays_over_does_not_re_arm(client, backend):
    await seed(client, project_hours=3)
    first = ids(await bulk(client, SEED_BULK))[0]

    deleted = await delete(client, first)  # 4 h, still over 3
    assert deleted["allocation"] == [project_entry(3.0, 4.0, True)]
    await bulk(client, [LATER])

    assert await alert_count(backend) == 2


async def test_edit_back_under_re_arms_and_edit_over_notifies_again(client, backend):
    await seed(client, project_hours=5)
    third = ids(await bulk(client, SEED_BULK))[2]

    shorter = await edit(client, third, {"endTime": "2024-10-29T14:00:00Z"})  # 2.5 h -> 1 h: 4 h
    assert shorter["allocation"] == [project_entry(5.0, 4.0, False)]

    longer = await edit(client, third, {"endTime": "2024-10-29T15:30:00Z"})  # back to 5.5 h
    assert longer["allocation"] == [project_entry(5.0, 5.5, True, [1, 2])]
    assert await alert_count(backend) == 4
    assert (await alerts(client, 1))[-1]["payload"]["taskLogIds"] == [third]


async def test_moving_a_log_to_another_project_re_arms_the_old_one(client):
    await seed(client, project_hours=5)
    first = ids(await bulk(client, SEED_BULK))[0]

    body = await edit(client, first, {"taskId": 260})  # project 8, no allocation

    assert body["allocation"] == [project_entry(5.0, 4.0, False)]
    assert (await get(client, "/projects/7/"))["allocationExceeded"] is False


# ---------------------------------------------------------------- changing the allocation


async def test_raising_the_allocation_above_logged_re_arms(client, backend):
    await seed(client, project_hours=5)
    await bulk(client, SEED_BULK)

    project = await set_project_hours(client, 6)

    assert (
        project["allocatedHours"],
        project["loggedHours"],
        project["remainingHours"],
        project["allocationExceeded"],
    ) == (6.0, 5.5, 0.5, False)
    assert await alert_count(backend) == 2

    body = await bulk(client, [LATER])  # 7.5 h > 6

    assert body["allocation"] == [project_entry(6.0, 7.5, True, [1, 2])]
    assert await alert_count(backend) == 4


async def test_raising_the_allocation_but_staying_under_logged_neither_re_arms_nor_notifies(client, backend):
    await seed(client, project_hours=5)
    await bulk(client, SEED_BULK)

    project = await set_project_hours(client, 5.25)

    assert (project["remainingHours"], project["allocationExceeded"]) == (-0.25, True)
    assert await alert_count(backend) == 2


async def test_lowering_the_allocation_below_logged_alerts_the_admins(client, backend):
    await seed(client, project_hours=100)
    await bulk(client, SEED_BULK)

    project = await set_project_hours(client, 5)

    assert (project["loggedHours"], project["remainingHours"], project["allocationExceeded"]) == (5.5, -0.5, True)
    for admin in (1, 2):
        [alert] = await alerts(client, admin)
        assert alert["type"] == PROJECT_ALERT
        assert alert["payload"] == {"projectId": 7, "allocatedHours": 5.0, "loggedHours": 5.5, "taskLogIds": []}
    assert await alert_count(backend) == 2


async def test_removing_the_allocation_clears_the_exceeded_flag(client, backend):
    """No allocation cannot be exceeded; setting one again below the logged time is a new crossing."""
    await seed(client, project_hours=5)
    await bulk(client, SEED_BULK)

    removed = await set_project_hours(client, None)
    assert (removed["allocatedHours"], removed["remainingHours"], removed["allocationExceeded"]) == (None, None, False)

    await set_project_hours(client, 4)
    assert await alert_count(backend) == 4


# ---------------------------------------------------------------- tasks


async def test_task_crossing_its_allocation_notifies_with_a_task_alert(client, backend):
    await seed(client, project_hours=100)
    await set_task_hours(client, 250, 1)

    body = await bulk(client, SEED_BULK)

    first = ids(body)[0]
    assert body["allocation"] == [project_entry(100.0, 5.5, False), task_entry(250, 1.0, 1.5, True, [1, 2])]
    for admin in (1, 2):
        [alert] = await alerts(client, admin)
        assert alert["type"] == TASK_ALERT
        assert alert["category"] == "project"
        assert alert["payload"] == {
            "taskId": 250,
            "projectId": 7,
            "allocatedHours": 1.0,
            "loggedHours": 1.5,
            "taskLogIds": [first],
        }
    task = await get(client, "/tasks/250/")
    assert (task["allocatedHours"], task["loggedHours"], task["remainingHours"], task["allocationExceeded"]) == (
        1.0,
        1.5,
        -0.5,
        True,
    )


async def test_task_alert_fires_once_and_re_arms_after_delete(client, backend):
    await seed(client, project_hours=None)
    await set_task_hours(client, 250, 1)
    first = ids(await bulk(client, SEED_BULK))[0]

    still_over = await bulk(client, [log(250, 10, "2024-10-30T09:00:00Z", "2024-10-30T09:30:00Z")])
    assert still_over["allocation"] == [task_entry(250, 1.0, 2.0, True)]
    assert await alert_count(backend) == 2

    deleted = await delete(client, first)  # 0.5 h left on task 250
    assert deleted["allocation"] == [task_entry(250, 1.0, 0.5, False)]

    again = await bulk(client, [log(250, 10, "2024-10-31T09:00:00Z", "2024-10-31T10:00:00Z")])
    assert again["allocation"] == [task_entry(250, 1.0, 1.5, True, [1, 2])]
    rows = await backend.rows("SELECT recipient_id, type FROM notifications ORDER BY id")
    assert sorted((r.recipient_id, r.type) for r in rows) == [(1, TASK_ALERT)] * 2 + [(2, TASK_ALERT)] * 2


async def test_one_write_crossing_project_and_task_sends_both_alerts(client, backend):
    await seed(client, project_hours=5)
    await set_task_hours(client, 252, 2)

    body = await bulk(client, SEED_BULK)

    assert body["allocation"] == [project_entry(5.0, 5.5, True, [1, 2]), task_entry(252, 2.0, 2.5, True, [1, 2])]
    for admin in (1, 2):
        assert sorted(a["type"] for a in await alerts(client, admin)) == [PROJECT_ALERT, TASK_ALERT]
    assert await alert_count(backend) == 4


async def test_lowering_a_task_allocation_below_logged_alerts_the_admins(client, backend):
    await seed(client, project_hours=None)
    await bulk(client, SEED_BULK)

    task = await set_task_hours(client, 252, 2)

    assert (task["loggedHours"], task["allocationExceeded"]) == (2.5, True)
    assert [a["type"] for a in await alerts(client, 1)] == [TASK_ALERT]
    assert await alert_count(backend) == 2
