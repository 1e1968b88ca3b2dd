"""HTTP details a generic client relies on: 405 with the full Allow header,
literal paths before parameters, and If-Match with a list of entity tags."""

import pytest

from tests.factories import log, seed


@pytest.mark.parametrize("path", ["/employees/1/", "/employees/1"])
async def test_a_405_names_every_method_of_the_path_in_either_spelling(client, path):
    response = await client.delete(path)
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == "GET, PUT"
    body = response.json()
    assert body["status"] == 0 and body["error_code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/tasklogs/1/", "GET, PATCH, PUT"),
        ("GET", "/tasklog/create/", "POST"),
        ("GET", "/api/tasklogs/delete/1", "DELETE"),
        ("DELETE", "/projects/7/", "GET, PUT"),
        ("POST", "/tasks/250", "GET, PUT"),
    ],
)
async def test_other_paths_name_all_their_methods_too(client, method, path, allow):
    response = await client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
@pytest.mark.parametrize("path", ["/tasklogs/changes/", "/tasklogs/changes"])
async def test_writing_to_the_change_feed_is_405_not_a_log_id_error(client, backend, method, path):
    response = await client.request(method, path, json={"description": "x"})
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == "GET"
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"


async def test_a_log_id_path_still_answers_422_for_a_word_that_is_no_route(client):
    response = await client.put("/tasklogs/chang/", json={})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("if_match", "expected"),
    [
        ('"0", "1"', 200),
        ('"1", "18"', 200),
        ('W/"7", "1"', 200),
        ('"0","1"', 200),
        ('"0", *', 200),
        ("*", 200),
        ('"0", "18"', 412),
        ('"0", "²"', 412),
        ('"2"', 412),
    ],
)
async def test_if_match_with_a_list_matches_any_of_its_tags(client, backend, if_match, expected):
    await seed(client)
    created = await client.post("/tasklog/create/", json=log())
    log_id = created.json()["data"]["taskLogId"]
    assert created.headers["ETag"] == '"1"'
    response = await client.patch(
        f"/tasklogs/{log_id}/", json={"description": "edited"}, headers={"If-Match": if_match.encode()}
    )
    assert response.status_code == expected, response.text
    assert await backend.scalar("SELECT version FROM task_logs") == (2 if expected == 200 else 1)
    if expected == 412:
        assert response.json()["data"]["version"] == 1


async def test_a_delete_with_a_list_of_tags_matches_any_of_them(client, backend):
    await seed(client)
    log_id = (await client.post("/tasklog/create/", json=log())).json()["data"]["taskLogId"]
    response = await client.delete(f"/api/tasklogs/delete/{log_id}/", headers={"If-Match": '"3", "4"'})
    assert response.status_code == 412
    response = await client.delete(f"/api/tasklogs/delete/{log_id}/", headers={"If-Match": '"3", "1"'})
    assert response.status_code == 200, response.text
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0
