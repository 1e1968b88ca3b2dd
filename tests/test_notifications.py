"""Reading and acknowledging the allocation alerts: list (filter, pages),
mark one read, mark all read, unread count."""

from typing import Any

import pytest

from tests.factories import SEED_BULK, put, seed

NOTIFICATION_KEYS = {
    "notificationId",
    "recipientId",
    "category",
    "type",
    "title",
    "message",
    "payload",
    "read",
    "createdAt",
}


async def alert_n_times(client, n: int) -> None:
    """n crossings of project 7 (5.5 h logged): lowering its allocation below the
    logged time alerts admins 1 and 2, raising it again re-arms. The i-th alert
    carries allocatedHours 1 + i/4, so its place in a list tells its age."""
    await seed(client, project_hours=100)
    response = await client.post("/tasklogs/bulk/create/10/", json=SEED_BULK)
    assert response.status_code == 200, response.text
    for i in range(n):
        await put(client, "/projects/7/", {"companyId": 1, "name": "Website", "allocatedHours": 1 + i / 4})
        await put(client, "/projects/7/", {"companyId": 1, "name": "Website", "allocatedHours": 100})


async def listing(client, recipient: int, query: str = "") -> dict[str, Any]:
    response = await client.get(f"/notifications/recipient/{recipient}/{query}")
    assert response.status_code == 200, response.text
    return response.json()


async def unread(client, user: int) -> int:
    response = await client.get(f"/notifications/unread-count/{user}/")
    assert response.status_code == 200, response.text
    return response.json()["data"]["unreadCount"]


async def mark_read(client, notification_id: int) -> Any:
    return await client.patch(f"/api/notifications/read/{notification_id}/")


def allocations(body: dict[str, Any]) -> list[float]:
    return [n["payload"]["allocatedHours"] for n in body["data"]]


async def test_notification_shows_every_field(client):
    await alert_n_times(client, 1)

    body = await listing(client, 1)

    assert body["status"] == 1
    [note] = body["data"]
    assert set(note) == NOTIFICATION_KEYS
    assert note["recipientId"] == 1
    assert note["category"] == "project"
    assert note["type"] == "PROJECT_ALLOCATION_EXCEEDED"
    assert "Website" in note["title"] and note["message"]
    assert note["payload"] == {"projectId": 7, "allocatedHours": 1.0, "loggedHours": 5.5, "taskLogIds": []}
    assert note["read"] is False
    assert note["createdAt"].endswith("Z")
    assert body["pagination"] == {"page": 1, "pageSize": 10, "total": 1}


async def test_list_is_newest_first_ten_per_page(client):
    await alert_n_times(client, 12)
    newest_first = [1 + i / 4 for i in reversed(range(12))]

    first = await listing(client, 1)
    second = await listing(client, 1, "?page=2")
    beyond = await listing(client, 1, "?page=3")

    assert allocations(first) == newest_first[:10]
    assert first["pagination"] == {"page": 1, "pageSize": 10, "total": 12}
    assert allocations(second) == newest_first[10:]
    assert second["pagination"] == {"page": 2, "pageSize": 10, "total": 12}
    assert beyond["data"] == []
    ids = [n["notificationId"] for n in first["data"] + second["data"]]
    assert ids == sorted(ids, reverse=True)


async def test_page_size_can_be_chosen(client):
    await alert_n_times(client, 5)

    body = await listing(client, 2, "?page=2&page_size=2")

    assert allocations(body) == [1.5, 1.25]
    assert body["pagination"] == {"page": 2, "pageSize": 2, "total": 5}


async def test_list_shows_only_the_recipients_notifications(client):
    await alert_n_times(client, 2)

    assert {n["recipientId"] for n in (await listing(client, 2))["data"]} == {2}
    assert (await listing(client, 10))["data"] == []
    assert (await listing(client, 10))["pagination"]["total"] == 0


async def test_marking_one_read_moves_it_between_the_read_filters(client):
    await alert_n_times(client, 3)
    middle = (await listing(client, 1))["data"][1]

    response = await mark_read(client, middle["notificationId"])

    assert response.status_code == 200, response.text
    assert response.json()["data"] == {**middle, "read": True}
    read = await listing(client, 1, "?read=true")
    not_read = await listing(client, 1, "?read=false")
    assert [n["notificationId"] for n in read["data"]] == [middle["notificationId"]]
    assert read["pagination"]["total"] == 1
    assert allocations(not_read) == [1.5, 1.0]
    assert not_read["pagination"]["total"] == 2
    assert await unread(client, 1) == 2
    assert await unread(client, 2) == 3


async def test_marking_read_twice_is_harmless(client):
    await alert_n_times(client, 1)
    [note] = (await listing(client, 1))["data"]

    await mark_read(client, note["notificationId"])
    again = await mark_read(client, note["notificationId"])

    assert again.status_code == 200
    assert again.json()["data"]["read"] is True
    assert await unread(client, 1) == 0


async def test_marking_an_unknown_notification_is_404(client):
    await alert_n_times(client, 1)

    response = await mark_read(client, 999999)

    assert response.status_code == 404
    body = response.json()
    assert (body["status"], body["error_code"]) == (0, "NOTIFICATION_NOT_FOUND")
    assert await unread(client, 1) == 1


async def test_mark_all_read_touches_only_that_employee(client):
    await alert_n_times(client, 3)
    await mark_read(client, (await listing(client, 1))["data"][0]["notificationId"])

    response = await client.post("/mark_notifications_as_read/1/")

    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"updated": 2}
    assert await unread(client, 1) == 0
    assert (await listing(client, 1, "?read=false"))["data"] == []
    assert await unread(client, 2) == 3


async def test_unread_count_is_zero_for_someone_never_notified(client):
    await alert_n_times(client, 2)

    assert await unread(client, 10) == 0
    assert await unread(client, 1) == 2


@pytest.mark.parametrize(
    "path",
    [
        "/notifications/recipient/1",
        "/notifications/unread-count/1",
    ],
    ids=["list", "unread-count"],
)
async def test_paths_work_without_trailing_slash(client, path):
    await alert_n_times(client, 1)

    response = await client.get(path)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == 1


async def test_mark_paths_work_without_trailing_slash(client):
    await alert_n_times(client, 2)
    note = (await listing(client, 1))["data"][0]

    assert (await client.patch(f"/api/notifications/read/{note['notificationId']}")).status_code == 200
    assert (await client.post("/mark_notifications_as_read/1")).json()["data"] == {"updated": 1}


@pytest.mark.parametrize("query", ["?page=0", "?page_size=0", "?page_size=101", "?read=maybe"])
async def test_bad_list_parameters_are_422(client, query):
    await alert_n_times(client, 1)

    response = await client.get(f"/notifications/recipient/1/{query}")

    assert response.status_code == 422
    assert response.json()["status"] == 0
