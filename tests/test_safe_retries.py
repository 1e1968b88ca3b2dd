"""Idempotency-Key: a retried write is done once and answered the same."""

import pytest

from tests.factories import SEED_BULK, log, seed


async def test_a_retried_create_is_answered_the_same_and_written_once(client, backend):
    await seed(client)
    headers = {"Idempotency-Key": "create-1"}
    first = await client.post("/tasklog/create/", json=log(), headers=headers)
    retry = await client.post("/tasklog/create/", json=log(), headers=headers)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


async def test_a_retried_bulk_upload_replays_the_first_answer(client, backend):
    await seed(client, project_hours=5)
    headers = {"Idempotency-Key": "upload-2024-10-29"}
    first = await client.post("/tasklogs/bulk/create/10/", json=SEED_BULK, headers=headers)
    retry = await client.post("/tasklogs/bulk/create/10/", json=SEED_BULK, headers=headers)
    assert retry.json() == first.json()
    assert retry.json()["message"] == "3 created, 0 duplicates skipped"  # not "0 created, 3 skipped"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 3
    assert await backend.scalar("SELECT count(*) FROM notifications") == 2  # alerted once


async def test_a_retried_delete_is_not_a_404(client, backend):
    await seed(client)
    log_id = (await client.post("/tasklog/create/", json=log())).json()["data"]["taskLogId"]
    headers = {"Idempotency-Key": "delete-it"}
    first = await client.delete(f"/api/tasklogs/delete/{log_id}/", headers=headers)
    retry = await client.delete(f"/api/tasklogs/delete/{log_id}/", headers=headers)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()


async def test_the_same_key_with_another_body_is_refused(client, backend):
    await seed(client)
    await client.post("/tasklog/create/", json=log(), headers={"Idempotency-Key": "k"})
    other = await client.post("/tasklog/create/", json=log(start="2024-10-29T11:00:00Z", end="2024-10-29T12:00:00Z"),
                              headers={"Idempotency-Key": "k"})
    assert other.status_code == 422
    assert other.json()["error_code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


async def test_a_retry_while_the_first_is_running_is_409(client, backend):
    await seed(client)
    await backend.execute(
        "INSERT INTO idempotency_keys (principal, key, request_hash, state, created_at, expires_at) "
        "VALUES ('apikey:1', 'busy', 'x', 'in_progress', :now, :later)",
        now=_now(), later=_now(hours=1),
    )
    response = await client.post("/tasklog/create/", json=log(), headers={"Idempotency-Key": "busy"})
    assert response.status_code == 409
    assert response.json()["error_code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0


async def test_a_claim_left_by_a_dead_worker_goes_stale_and_the_retry_runs(client, backend):
    await seed(client)
    await backend.execute(
        "INSERT INTO idempotency_keys (principal, key, request_hash, state, created_at, expires_at) "
        "VALUES ('apikey:1', 'orphan', 'x', 'in_progress', :long_ago, :later)",
        long_ago=_now(hours=-1), later=_now(hours=1),
    )
    response = await client.post("/tasklog/create/", json=log(), headers={"Idempotency-Key": "orphan"})
    assert response.status_code == 200
    assert await backend.scalar("SELECT state FROM idempotency_keys WHERE key = 'orphan'") == "done"


async def test_keys_are_per_caller(client, backend):
    await seed(client)
    other_key = await backend.api_key("other-service")
    headers = {"Idempotency-Key": "shared-name"}
    first = await client.post("/tasklog/create/", json=log(), headers=headers)
    second = await client.post("/tasklog/create/", json=log(), headers={**headers, "X-API-Key": other_key})
    assert first.status_code == 200
    assert second.status_code == 409  # really ran: the duplicate rule answered, not a replay
    assert second.json()["error_code"] == "DUPLICATE_TASK_LOG"
    assert "Idempotent-Replayed" not in second.headers


async def test_an_expired_key_can_be_used_again(client, backend):
    await seed(client)
    await client.post("/tasklog/create/", json=log(), headers={"Idempotency-Key": "old"})
    await backend.execute("UPDATE idempotency_keys SET expires_at = :past", past=_now(hours=-1))
    again = await client.post("/tasklog/create/", json=log(), headers={"Idempotency-Key": "old"})
    assert again.status_code == 409 and again.json()["error_code"] == "DUPLICATE_TASK_LOG"
    assert "Idempotent-Replayed" not in again.headers


@pytest.mark.parametrize("key", ["", "x" * 256])
async def test_a_key_must_be_1_to_255_characters(client, backend, key):
    await seed(client)
    response = await client.post("/tasklog/create/", json=log(), headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0


async def test_reference_data_puts_take_keys_too(client, backend):
    await seed(client)
    headers = {"Idempotency-Key": "project-7-v2"}
    body = {"companyId": 1, "name": "Website v2", "allocatedHours": 50}
    first = await client.put("/projects/7/", json=body, headers=headers)
    retry = await client.put("/projects/7/", json=body, headers=headers)
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"


async def test_reads_ignore_the_header(client):
    await seed(client)
    response = await client.get("/tasks/250/", headers={"Idempotency-Key": "whatever"})
    assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers


def _now(hours: float = 0):
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(hours=hours)).replace(tzinfo=None)


async def test_concurrent_retries_with_one_key_write_once(client, backend):
    import asyncio

    await seed(client)
    headers = {"Idempotency-Key": "flaky-network"}
    answers = await asyncio.gather(*(client.post("/tasklogs/bulk/create/10/", json=[log()], headers=headers)
                                     for _ in range(10)))
    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {200, 409}, codes
    assert 200 in codes
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error_code"] == "IDEMPOTENCY_KEY_IN_USE"
        else:
            assert answer.json()["data"]["created"][0]["taskLogId"] == 1  # the first answer, replayed
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1
