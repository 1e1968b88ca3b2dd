"""Dyzo's paths answer with and without the trailing slash, never with a
redirect, in the documented case; unknown paths answer in the error envelope."""

from typing import Any

import httpx
import pytest

from tests.factories import log, seed

REDIRECTS = {301, 302, 303, 307, 308}


def both_spellings(path: str) -> list[str]:
    assert path.endswith("/")
    return [path, path.rstrip("/")]


async def routed(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The answer of a path that must exist: no redirect, not 'no such endpoint' nor 405."""
    response = await client.request(method, path, **kwargs)
    assert response.status_code not in REDIRECTS, (method, path, response.status_code)
    assert "location" not in response.headers, (method, path)
    assert response.status_code != 405, (method, path, response.text)
    if response.status_code == 404:
        assert response.json()["error_code"] != "NOT_FOUND", (method, path, response.text)
    return response


async def created_log(client: httpx.AsyncClient, **kwargs: Any) -> int:
    response = await client.post("/tasklog/create/", json=log(**kwargs))
    assert response.status_code == 200, response.text
    return response.json()["data"]["taskLogId"]


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
async def test_create_answers_200_with_and_without_slash(client, backend, slash):
    await seed(client)
    path = "/tasklog/create/" if slash else "/tasklog/create"
    response = await routed(client, "POST", path, json=log())
    assert response.status_code == 200, response.text
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
async def test_every_task_log_endpoint_answers_with_and_without_slash(client, backend, slash):
    await seed(client)
    log_id = await created_log(client)

    def p(path: str) -> str:
        return path if slash else path.rstrip("/")

    get_list = await routed(client, "GET", p("/taskLogs/task/250/"))
    assert get_list.status_code == 200 and len(get_list.json()["data"]) == 1
    get_one = await routed(client, "GET", p(f"/tasklogs/{log_id}/"))
    assert get_one.status_code == 200 and get_one.json()["data"]["taskLogId"] == log_id
    put_ = await routed(client, "PUT", p(f"/tasklogs/{log_id}/"), json={"description": "put"})
    assert put_.status_code == 200 and put_.json()["data"]["description"] == "put"
    patch = await routed(client, "PATCH", p(f"/tasklogs/{log_id}/"), json={"description": "patch"})
    assert patch.status_code == 200 and patch.json()["data"]["description"] == "patch"
    bulk = await routed(
        client,
        "POST",
        p("/tasklogs/bulk/create/10/"),
        json=[log(start="2024-10-28T09:00:00Z", end="2024-10-28T10:00:00Z")],
    )
    assert bulk.status_code == 200, bulk.text
    delete = await routed(client, "DELETE", p(f"/api/tasklogs/delete/{log_id}/"))
    assert delete.status_code == 200 and delete.json()["data"] == {"taskLogId": log_id}
    assert await backend.scalar("SELECT count(*) FROM task_logs WHERE id = :id", id=log_id) == 0


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
async def test_every_reference_endpoint_answers_with_and_without_slash(client, backend, slash):
    def p(path: str) -> str:
        return path if slash else path.rstrip("/")

    bodies = [
        ("/companies/5/", {"name": "Five", "timezone": "UTC"}),
        ("/employees/50/", {"companyId": 5, "name": "Fifty"}),
        ("/projects/55/", {"companyId": 5, "name": "P"}),
        ("/tasks/555/", {"projectId": 55, "name": "T"}),
    ]
    for path, body in bodies:
        put_ = await routed(client, "PUT", p(path), json=body)
        assert put_.status_code == 200, (path, put_.text)
        get = await routed(client, "GET", p(path))
        assert get.status_code == 200 and get.json()["data"]["name"] == body["name"], (path, get.text)


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
async def test_every_notification_endpoint_answers_with_and_without_slash(client, backend, slash):
    await seed(client)

    def p(path: str) -> str:
        return path if slash else path.rstrip("/")

    listing = await routed(client, "GET", p("/notifications/recipient/1/"))
    assert listing.status_code == 200 and listing.json()["data"] == []
    unread = await routed(client, "GET", p("/notifications/unread-count/1/"))
    assert unread.status_code == 200 and unread.json()["data"] == {"unreadCount": 0}
    mark_all = await routed(client, "POST", p("/mark_notifications_as_read/1/"))
    assert mark_all.status_code == 200 and mark_all.json()["data"] == {"updated": 0}
    mark_one = await routed(client, "PATCH", p("/api/notifications/read/424242/"))
    assert mark_one.status_code == 404
    assert mark_one.json()["error_code"] == "NOTIFICATION_NOT_FOUND"


async def test_post_is_never_redirected_even_when_it_fails(client, backend):
    await seed(client)
    for path in (
        both_spellings("/tasklog/create/")
        + both_spellings("/tasklogs/bulk/create/10/")
        + both_spellings("/mark_notifications_as_read/1/")
    ):
        response = await client.post(path, content=b"{", headers={"content-type": "application/json"})
        assert response.status_code not in REDIRECTS, (path, response.status_code)
        assert response.status_code in (200, 400), (path, response.status_code, response.text)


async def test_double_slash_or_extra_segment_is_not_redirected(client, backend):
    await seed(client)
    for path in ("/tasklog/create//", "/tasklog/create/extra/"):
        response = await client.post(path, json=log())
        assert response.status_code not in REDIRECTS, path
        assert response.status_code == 404, (path, response.text)
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0


async def test_documented_path_case_is_served(client, backend):
    await seed(client)
    log_id = await created_log(client)
    # The list lives under camelCase /taskLogs/task/, the single log under lower-case /tasklogs/.
    assert (await client.get("/taskLogs/task/250/")).status_code == 200
    assert (await client.get(f"/tasklogs/{log_id}/")).status_code == 200
    assert (await client.delete(f"/api/tasklogs/delete/{log_id}/")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope/"),
        ("GET", "/nope"),
        ("POST", "/tasklog/new/"),
        ("GET", "/taskLogs/task/"),
        ("DELETE", "/tasklogs/delete/1/"),
    ],
)
async def test_unknown_path_is_404_in_the_envelope(client, backend, method, path):
    response = await client.request(method, path)
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["status"] == 0
    assert body["error_code"] == "NOT_FOUND"
    assert isinstance(body["message"], str) and body["message"]
    assert body["errors"] == []


async def test_wrong_method_is_405_in_the_envelope(client, backend):
    response = await client.get("/tasklog/create/")
    assert response.status_code == 405, response.text
    body = response.json()
    assert body["status"] == 0
    assert body["error_code"] == "METHOD_NOT_ALLOWED"
    assert body["errors"] == []
