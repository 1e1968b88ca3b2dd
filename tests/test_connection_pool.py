"""A worker's PostgreSQL connections are opened once and kept (the fixed pool
of app/core/settings.py). Bursts of concurrent requests larger than the pool
wait for its connections; they do not open overflow connections that are
closed again when the burst ends, each of which connects and prepares its
statements anew (with the former 10 + 10 pool: up to 16 % more CPU per create,
a p99 1.4-1.7x as long, bench/RESULTS.md)."""

import asyncio

from sqlalchemy import event

from tests.conftest import app_and_client
from tests.factories import log, seed

BURSTS = 3
BURST = 30  # concurrent creates, above the default pool of 20


async def test_bursts_of_creates_larger_than_the_pool_reuse_its_connections(backend, postgres_only):
    await backend.clean()
    async with app_and_client(backend) as (app, client):  # the default settings, on the test database
        settings = app.state.settings
        assert settings.db_pool_size + settings.db_max_overflow < BURST
        opened: list[object] = []
        event.listen(app.state.engine.sync_engine, "connect", lambda connection, record: opened.append(connection))
        await seed(client, project_hours=None)
        opened_by_burst = []
        for burst in range(BURSTS):
            day = f"2024-10-{10 + burst:02d}"
            bodies = [
                log(
                    start=f"{day}T{i // 2:02d}:{30 * (i % 2):02d}:00Z",
                    end=f"{day}T{i // 2:02d}:{30 * (i % 2) + 20:02d}:00Z",
                )
                for i in range(BURST)
            ]
            responses = await asyncio.gather(*(client.post("/tasklog/create/", json=body) for body in bodies))
            assert [r.status_code for r in responses] == [200] * BURST, [r.text for r in responses if r.is_error]
            opened_by_burst.append(len(opened))

    # The first burst fills the pool; the later ones find every connection there.
    assert 1 < opened_by_burst[0] <= settings.db_pool_size
    assert opened_by_burst == [opened_by_burst[0]] * BURSTS
    assert await backend.scalar("SELECT count(*) FROM task_logs") == BURSTS * BURST
