from tests.factories import SEED_BULK, seed


async def test_seed_bulk_example_creates_three_logs(client, backend):
    await seed(client)
    response = await client.post("/tasklogs/bulk/create/10/", json=SEED_BULK)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "3 created, 0 duplicates skipped"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 3
