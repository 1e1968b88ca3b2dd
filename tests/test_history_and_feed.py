"""Edit conflicts (ETag / If-Match), history, restore, and the change feed."""

import pytest

from tests.factories import log, seed


async def create(client, **kwargs):
    response = await client.post("/tasklog/create/", json=log(**kwargs))
    assert response.status_code == 200, response.text
    return response


async def test_every_answer_for_a_log_carries_its_version_as_etag(client):
    await seed(client)
    created = await create(client)
    log_id = created.json()["data"]["taskLogId"]
    assert created.headers["ETag"] == '"1"' and created.json()["data"]["version"] == 1
    assert (await client.get(f"/tasklogs/{log_id}/")).headers["ETag"] == '"1"'
    edited = await client.patch(f"/tasklogs/{log_id}/", json={"description": "x"})
    assert edited.headers["ETag"] == '"2"' and edited.json()["data"]["version"] == 2


async def test_an_edit_with_a_stale_if_match_is_412_with_the_current_log(client, backend):
    await seed(client)
    log_id = (await create(client)).json()["data"]["taskLogId"]
    first = await client.patch(f"/tasklogs/{log_id}/", json={"description": "phone"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    second = await client.patch(f"/tasklogs/{log_id}/", json={"description": "laptop"}, headers={"If-Match": '"1"'})
    assert second.status_code == 412
    body = second.json()
    assert body["error_code"] == "VERSION_CONFLICT"
    assert body["data"]["description"] == "phone" and body["data"]["version"] == 2
    assert await backend.scalar("SELECT description FROM task_logs WHERE id = :id", id=log_id) == "phone"


@pytest.mark.parametrize("if_match", ['W/"2"', '"2"', "*"])
async def test_a_current_if_match_or_star_lets_the_write_through(client, if_match):
    await seed(client)
    log_id = (await create(client)).json()["data"]["taskLogId"]
    await client.patch(f"/tasklogs/{log_id}/", json={"description": "v2"})
    response = await client.put(f"/tasklogs/{log_id}/", json={"description": "v3"}, headers={"If-Match": if_match})
    assert response.status_code == 200 and response.json()["data"]["version"] == 3


async def test_a_delete_with_a_stale_if_match_is_412_and_keeps_the_log(client, backend):
    await seed(client)
    log_id = (await create(client)).json()["data"]["taskLogId"]
    await client.patch(f"/tasklogs/{log_id}/", json={"description": "changed"})
    response = await client.delete(f"/api/tasklogs/delete/{log_id}/", headers={"If-Match": '"1"'})
    assert response.status_code == 412 and response.json()["error_code"] == "VERSION_CONFLICT"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


async def test_without_if_match_the_last_write_wins(client):
    await seed(client)
    log_id = (await create(client)).json()["data"]["taskLogId"]
    await client.patch(f"/tasklogs/{log_id}/", json={"description": "a"})
    response = await client.patch(f"/tasklogs/{log_id}/", json={"description": "b"})
    assert response.status_code == 200 and response.json()["data"]["description"] == "b"


async def test_history_records_who_when_which_request_and_before_after(client, backend):
    await seed(client)
    log_id = (await create(client, description="first")).json()["data"]["taskLogId"]
    await client.patch(f"/tasklogs/{log_id}/", json={"description": "second"}, headers={"X-Request-ID": "edit-1"})
    await client.delete(f"/api/tasklogs/delete/{log_id}/")
    history = (await client.get(f"/tasklogs/{log_id}/history/")).json()["data"]
    assert [(h["action"], h["version"]) for h in history] == [("create", 1), ("update", 2), ("delete", 3)]
    create_entry, update_entry, delete_entry = history
    assert create_entry["before"] is None and create_entry["after"]["description"] == "first"
    assert update_entry["before"]["description"] == "first" and update_entry["after"]["description"] == "second"
    assert update_entry["requestId"] == "edit-1"
    assert delete_entry["before"]["description"] == "second" and delete_entry["after"] is None
    assert {h["actor"] for h in history} == {"apikey:1"}
    assert all(h["at"].endswith("Z") for h in history)


async def test_history_is_for_the_owner_and_admins(client, backend):
    await seed(client)
    log_id = (await create(client, user_id=10)).json()["data"]["taskLogId"]
    for employee, company, expected in [(10, 1, 200), (11, 1, 403), (1, 1, 200), (20, 2, 404)]:
        bearer = {"Authorization": f"Bearer {backend.token(employee, company)}"}
        response = await client.get(f"/tasklogs/{log_id}/history/", headers=bearer)
        assert response.status_code == expected, (employee, response.text)


async def test_deleted_logs_count_nowhere_and_free_their_key(client, backend):
    await seed(client)
    log_id = (await create(client)).json()["data"]["taskLogId"]
    deleted = await client.delete(f"/api/tasklogs/delete/{log_id}/")
    assert deleted.json()["dailyTotals"][0]["totalSeconds"] == 0
    assert (await client.get("/taskLogs/task/250/")).json()["summary"]["count"] == 0
    assert (await client.get("/projects/7/")).json()["data"]["loggedSeconds"] == 0
    again = await create(client)  # the same task, employee and start: no longer a duplicate
    assert again.json()["data"]["taskLogId"] != log_id


async def test_an_admin_restores_a_deleted_log_under_its_id(client, backend):
    await seed(client)
    created = (await create(client, description="keep me")).json()["data"]
    await client.delete(f"/api/tasklogs/delete/{created['taskLogId']}/")
    restored = await client.post(f"/tasklogs/{created['taskLogId']}/restore/")
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["data"]["taskLogId"] == created["taskLogId"]
    assert body["data"]["description"] == "keep me" and body["data"]["createdAt"] == created["createdAt"]
    assert body["data"]["version"] == 3
    assert body["dailyTotals"][0]["totalSeconds"] == 5400
    history = (await client.get(f"/tasklogs/{created['taskLogId']}/history/")).json()["data"]
    assert [h["action"] for h in history] == ["create", "delete", "restore"]
    again = await client.post(f"/tasklogs/{created['taskLogId']}/restore/")
    assert again.status_code == 404  # not deleted any more


async def test_restore_is_refused_when_a_new_log_took_the_key(client, backend):
    await seed(client)
    old_id = (await create(client)).json()["data"]["taskLogId"]
    await client.delete(f"/api/tasklogs/delete/{old_id}/")
    new_id = (await create(client)).json()["data"]["taskLogId"]
    response = await client.post(f"/tasklogs/{old_id}/restore/")
    assert response.status_code == 409
    assert response.json()["error_code"] == "DUPLICATE_TASK_LOG"
    assert response.json()["existingTaskLogId"] == new_id
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


async def test_restore_is_for_admins_and_within_the_restore_window(client, backend):
    await seed(client)
    log_id = (await create(client)).json()["data"]["taskLogId"]
    await client.delete(f"/api/tasklogs/delete/{log_id}/")
    as_owner = await client.post(
        f"/tasklogs/{log_id}/restore/", headers={"Authorization": f"Bearer {backend.token(10)}"}
    )
    assert as_owner.status_code == 403
    await backend.execute("UPDATE task_log_changes SET at = '2000-01-01 00:00:00' WHERE action = 'delete'")
    too_late = await client.post(f"/tasklogs/{log_id}/restore/")
    assert too_late.status_code == 404
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0


async def _replay(client, since=None, limit=3, **headers):
    """Follow the feed page by page; the state it describes, and the cursors seen."""
    state, seen = {}, []
    cursor = since
    while True:
        params = {"limit": limit} | ({"since": cursor} if cursor else {})
        page = await client.get("/tasklogs/changes/", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        for change in body["data"]:
            seen.append(change["cursor"])
            if change["action"] == "delete":
                state.pop(change["taskLogId"], None)
            else:
                state[change["taskLogId"]] = change["after"]
        if body["nextCursor"] == cursor:
            return state, seen
        cursor = body["nextCursor"]


async def test_the_change_feed_replays_to_the_stored_state(client, backend):
    await seed(client)
    ids = [
        (await create(client, start=f"2024-10-2{d}T09:00:00Z", end=f"2024-10-2{d}T10:00:00Z")).json()["data"][
            "taskLogId"
        ]
        for d in range(1, 7)
    ]
    await client.patch(f"/tasklogs/{ids[0]}/", json={"description": "edited"})
    await client.delete(f"/api/tasklogs/delete/{ids[1]}/")
    await client.delete(f"/api/tasklogs/delete/{ids[2]}/")
    await client.post(f"/tasklogs/{ids[2]}/restore/")

    state, seen = await _replay(client)
    assert len(seen) == len(set(seen)) == 10  # 6 creates, 1 edit, 2 deletes, 1 restore; none twice
    positions = [tuple(int(part) for part in c.split("-")) for c in seen]  # (transaction, sequence)
    assert positions == sorted(positions)
    stored = {row[0]: row[1] for row in await backend.rows("SELECT id, description FROM task_logs")}
    assert {k: v["description"] for k, v in state.items()} == stored

    # Nothing new: the cursor stays; something new: only that comes.
    last = seen[-1]
    page = (await client.get("/tasklogs/changes/", params={"since": last})).json()
    assert page["data"] == [] and page["nextCursor"] == last
    await client.patch(f"/tasklogs/{ids[3]}/", json={"description": "later"})
    page = (await client.get("/tasklogs/changes/", params={"since": last})).json()
    assert [(c["taskLogId"], c["action"]) for c in page["data"]] == [(ids[3], "update")]


async def test_the_feed_is_for_admins_and_keys_and_scoped_to_their_company(client, backend):
    await seed(client)
    await create(client)
    await create(client, task_id=900, user_id=21)
    company_key = await backend.api_key("c1", company_id=1)
    mine = (await client.get("/tasklogs/changes/", headers={"X-API-Key": company_key})).json()["data"]
    assert [c["after"]["userId"] for c in mine] == [10]
    everything = (await client.get("/tasklogs/changes/")).json()["data"]
    assert len(everything) == 2
    as_employee = await client.get("/tasklogs/changes/", headers={"Authorization": f"Bearer {backend.token(10)}"})
    assert as_employee.status_code == 403
    bad = await client.get("/tasklogs/changes/", params={"since": "abc"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"


async def test_restore_is_refused_when_the_employee_moved_to_another_company_since(client, backend):
    await seed(client)
    log_id = (await create(client)).json()["data"]["taskLogId"]
    assert (await client.delete(f"/api/tasklogs/delete/{log_id}/")).status_code == 200
    moved = await client.put("/employees/10/", json={"companyId": 2, "name": "Asha Rao"})
    assert moved.status_code == 200, moved.text  # no live log holds the employee back
    response = await client.post(f"/tasklogs/{log_id}/restore/")
    assert response.status_code == 409 and response.json()["error_code"] == "CANNOT_RESTORE"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0
