"""Idempotency-Key: a retried write is done once and answered the same.

The key's record and its answer are written in the write's own transaction,
as its last statement: what commits has its answer, what fails leaves nothing."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as OrmSession

from tests.conftest import Backend, app_and_client
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
    other = await client.post(
        "/tasklog/create/",
        json=log(start="2024-10-29T11:00:00Z", end="2024-10-29T12:00:00Z"),
        headers={"Idempotency-Key": "k"},
    )
    assert other.status_code == 422
    assert other.json()["error_code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


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


async def test_an_expired_key_is_kept_again_for_its_new_request(client, backend):
    await seed(client)
    headers = {"Idempotency-Key": "reused-next-day"}
    await client.post("/tasklog/create/", json=log(), headers=headers)
    await backend.execute("UPDATE idempotency_keys SET expires_at = :past", past=_now(hours=-1))
    other_log = log(start="2024-10-29T11:00:00Z", end="2024-10-29T12:00:00Z")
    new = await client.post("/tasklog/create/", json=other_log, headers=headers)  # not 422 REUSED: it expired
    retry = await client.post("/tasklog/create/", json=other_log, headers=headers)
    assert new.status_code == retry.status_code == 200
    assert "Idempotent-Replayed" not in new.headers and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == new.json()
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 2
    assert await backend.scalar("SELECT count(*) FROM idempotency_keys") == 1
    assert await backend.scalar("SELECT count(*) FROM idempotency_keys WHERE expires_at > :now", now=_now()) == 1


# ------------------------------------------------ the key commits with the write


class Served(NamedTuple):
    app: FastAPI
    client: httpx.AsyncClient


@pytest.fixture
async def served(backend: Backend) -> AsyncIterator[Served]:
    """The app itself beside its client, for tests that watch its engine."""
    await backend.clean()
    async with app_and_client(backend) as (app, client):
        yield Served(app, client)


@pytest.fixture
def statements(served: Served) -> Iterator[list[str]]:
    """Every statement the app sends, and COMMIT where a transaction commits."""
    seen: list[str] = []
    engine = served.app.state.engine.sync_engine

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    def on_commit(_conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    yield seen
    event.remove(engine, "before_cursor_execute", on_statement)
    event.remove(engine, "commit", on_commit)


async def test_the_key_is_recorded_by_the_writes_last_statement_before_commit(served, backend, statements):
    await seed(served.client)
    statements.clear()
    response = await served.client.post("/tasklog/create/", json=log(), headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 200
    transaction = statements[: statements.index("COMMIT")]
    recorded = [i for i, s in enumerate(transaction) if "INSERT INTO idempotency_keys" in s]
    assert recorded == [len(transaction) - 1]  # the last statement before COMMIT, and only there
    looked_up = next(i for i, s in enumerate(transaction) if "FROM idempotency_keys" in s)
    log_written = next(i for i, s in enumerate(transaction) if "INSERT INTO task_logs" in s)
    assert looked_up < log_written < recorded[0]  # a plain read first, the log, then the answer
    # Committed together: the log and the answer to replay.
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1
    stored = await backend.rows("SELECT status_code, response_body FROM idempotency_keys WHERE key = 'k-1'")
    assert [(code, bytes(body)) for code, body in stored] == [(200, response.content)]


@pytest.fixture
def failing_commit(served: Served) -> Iterator[list[bool]]:
    """Append True to make the app's next COMMIT fail as if the connection broke."""
    armed: list[bool] = []
    engine = served.app.state.engine.sync_engine

    def fail_once(conn: Any) -> None:
        if armed:
            armed.clear()
            # A connection that broke is gone: SQLAlchemy invalidates a real one, so that the pool
            # never hands out its unfinished transaction again (the pool may hold several connections).
            conn.invalidate()
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost at COMMIT"))

    event.listen(engine, "commit", fail_once)
    yield armed
    event.remove(engine, "commit", fail_once)


async def test_a_write_whose_commit_fails_keeps_no_key_and_its_retry_runs_again(served, backend, failing_commit):
    await seed(served.client)
    headers = {"Idempotency-Key": "commit-fails"}
    failing_commit.append(True)
    failed = await served.client.post("/tasklog/create/", json=log(), headers=headers)
    assert failed.status_code == 503 and failed.json()["error_code"] == "SERVICE_UNAVAILABLE"
    # Rolled back together: neither the log nor the key's record.
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0
    assert await backend.scalar("SELECT count(*) FROM idempotency_keys") == 0
    retry = await served.client.post("/tasklog/create/", json=log(), headers=headers)
    assert retry.status_code == 200, retry.text  # runs again: no claim left behind, no 409
    assert "Idempotent-Replayed" not in retry.headers
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1
    assert await backend.scalar("SELECT count(*) FROM idempotency_keys") == 1


async def test_a_write_that_fails_in_its_handler_keeps_no_key(client, backend):
    await seed(client)
    headers = {"Idempotency-Key": "unknown-task"}
    refused = await client.post("/tasklog/create/", json=log(task_id=999), headers=headers)
    assert refused.status_code in (404, 422) and "Idempotent-Replayed" not in refused.headers
    assert await backend.scalar("SELECT count(*) FROM idempotency_keys") == 0
    await client.put("/tasks/999/", json={"projectId": 7, "name": "Task 999"})
    retry = await client.post("/tasklog/create/", json=log(task_id=999), headers=headers)
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry.headers


@pytest.fixture
def lost_commit_acknowledgement(served: Served) -> Iterator[list[bool]]:
    """Append True to make the app's next session commit raise after the
    database has committed, as when the connection drops before COMMIT is
    acknowledged."""
    armed: list[bool] = []

    def fail_after_commit(_session: Any) -> None:
        if armed:
            armed.clear()
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost after COMMIT"))

    event.listen(OrmSession, "after_commit", fail_after_commit)
    yield armed
    event.remove(OrmSession, "after_commit", fail_after_commit)


async def test_a_commit_whose_acknowledgement_was_lost_answers_its_committed_answer(
    served, backend, lost_commit_acknowledgement
):
    await seed(served.client)
    headers = {"Idempotency-Key": "ack-lost"}
    lost_commit_acknowledgement.append(True)
    answer = await served.client.post("/tasklog/create/", json=log(), headers=headers)
    assert answer.status_code == 200, answer.text  # its own answer, found committed
    assert answer.json()["data"]["taskLogId"] == 1
    retry = await served.client.post("/tasklog/create/", json=log(), headers=headers)
    assert retry.json() == answer.json() and retry.headers["Idempotent-Replayed"] == "true"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


# ------------------------------------------------ concurrent retries


async def _at_once(n: int, send: Any) -> list[httpx.Response]:
    return list(await asyncio.gather(*(send() for _ in range(n))))


def _one_answer_replayed_to_all(answers: list[httpx.Response]) -> None:
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers if a.status_code != 200]
    originals = [a for a in answers if "Idempotent-Replayed" not in a.headers]
    assert len(originals) == 1
    assert all(a.headers.get("Idempotent-Replayed") == "true" for a in answers if a is not originals[0])
    assert all(a.json() == originals[0].json() for a in answers)


async def test_concurrent_retries_of_a_create_write_once_and_get_the_first_answer(client, backend):
    await seed(client)
    headers = {"Idempotency-Key": "flaky-network"}
    answers = await _at_once(10, lambda: client.post("/tasklog/create/", json=log(), headers=headers))
    _one_answer_replayed_to_all(answers)
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1
    assert await backend.scalar("SELECT count(*) FROM idempotency_keys") == 1
    assert await backend.scalar("SELECT count(*) FROM task_log_changes") == 1


async def test_concurrent_retries_of_a_bulk_upload_write_once_and_get_the_first_answer(client, backend):
    await seed(client, project_hours=5)
    headers = {"Idempotency-Key": "flaky-upload"}
    answers = await _at_once(10, lambda: client.post("/tasklogs/bulk/create/10/", json=SEED_BULK, headers=headers))
    _one_answer_replayed_to_all(answers)
    assert answers[0].json()["message"] == "3 created, 0 duplicates skipped"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 3
    assert await backend.scalar("SELECT count(*) FROM notifications") == 2  # alerted once
    assert await backend.scalar("SELECT count(*) FROM idempotency_keys") == 1


async def test_concurrent_retries_of_a_delete_all_get_the_first_answer(client, backend):
    await seed(client)
    log_id = (await client.post("/tasklog/create/", json=log())).json()["data"]["taskLogId"]
    headers = {"Idempotency-Key": "delete-once"}
    answers = await _at_once(10, lambda: client.delete(f"/api/tasklogs/delete/{log_id}/", headers=headers))
    _one_answer_replayed_to_all(answers)  # the late ones found the log gone: their 404 is replaced
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0
