"""Concurrent writers of the same task log: the database decides, so exactly
one wins and every other one gets the duplicate answer. The PostgreSQL run is
the one the issue requires (row locks, real concurrent transactions); SQLite
serializes writers with BEGIN IMMEDIATE and must give the same answers."""

import asyncio
from collections import Counter
from typing import Any

import httpx

from tests.factories import log, seed

WRITERS = 20


async def create_concurrently(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    return list(await asyncio.gather(*(client.post("/tasklog/create/", json=b) for b in bodies)))


def assert_one_created_rest_duplicates(responses: list[httpx.Response]) -> int:
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: len(responses) - 1}, [(r.status_code, r.text) for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()["data"]["taskLogId"]
    for response in responses:
        if response.status_code == 409:
            body = response.json()
            assert body["error_code"] == "DUPLICATE_TASK_LOG"
            assert body["message"] == "Duplicate Time Log."
            assert body["existingTaskLogId"] == winner
    return winner


async def test_twenty_concurrent_identical_creates_store_one_row_on_postgresql(client, backend, postgres_only):
    await seed(client)
    responses = await create_concurrently(client, [log(description=f"writer {i}") for i in range(WRITERS)])
    winner = assert_one_created_rest_duplicates(responses)
    rows = await backend.rows("SELECT id FROM task_logs")
    assert [r[0] for r in rows] == [winner]


async def test_twenty_concurrent_identical_creates_store_one_row_on_any_database(client, backend):
    await seed(client)
    # The same instant, spelled three ways, is still the same log.
    starts = ["2024-10-29T09:00:00Z", "2024-10-29T14:30:00+05:30", "2024-10-29T09:00:00"]
    bodies = [log(start=starts[i % 3]) for i in range(WRITERS)]
    responses = await create_concurrently(client, bodies)
    winner = assert_one_created_rest_duplicates(responses)
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1
    assert (await client.get(f"/tasklogs/{winner}/")).json()["data"]["startTime"] == "2024-10-29T09:00:00Z"


async def test_concurrent_creates_of_different_logs_all_succeed(client, backend):
    await seed(client)
    bodies = [
        log(start=f"2024-10-{10 + i:02d}T09:00:00Z", end=f"2024-10-{10 + i:02d}T10:00:00Z") for i in range(WRITERS)
    ]
    responses = await create_concurrently(client, bodies)
    assert [r.status_code for r in responses] == [200] * WRITERS, [r.text for r in responses if r.status_code != 200]
    assert await backend.scalar("SELECT count(*) FROM task_logs") == WRITERS
    assert len({r.json()["data"]["taskLogId"] for r in responses}) == WRITERS


async def test_concurrent_edits_onto_the_same_key_leave_one_winner(client, backend):
    await seed(client)
    ids = []
    for hour in range(10, 16):
        response = await client.post(
            "/tasklog/create/", json=log(start=f"2024-10-29T{hour}:00:00Z", end=f"2024-10-29T{hour}:30:00Z")
        )
        assert response.status_code == 200, response.text
        ids.append(response.json()["data"]["taskLogId"])
    # Every log tries to move to 09:00 at once: one may, the rest collide with it.
    responses = await asyncio.gather(
        *(client.patch(f"/tasklogs/{i}/", json={"startTime": "2024-10-29T09:00:00Z"}) for i in ids)
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: len(ids) - 1}, [(r.status_code, r.text) for r in responses]
    assert await backend.scalar("SELECT count(*) FROM task_logs") == len(ids)
    listed = (await client.get("/taskLogs/task/250/")).json()["data"]
    assert [x["startTime"] for x in listed].count("2024-10-29T09:00:00Z") == 1


async def test_concurrent_delete_of_the_same_log_answers_one_200(client, backend):
    writers = WRITERS
    await seed(client)
    response = await client.post("/tasklog/create/", json=log())
    log_id = response.json()["data"]["taskLogId"]
    responses = await asyncio.gather(*(client.delete(f"/api/tasklogs/delete/{log_id}/") for _ in range(writers)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 404: writers - 1}, [(r.status_code, r.text) for r in responses]
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0
