"""The Idempotency-Key store stays bounded: expired answers are purged in
the background, in batches, and each caller holds a limited number of live keys."""

import asyncio
from datetime import timedelta

from app.core.database import WriterQueue, make_sessionmaker
from app.core.idempotency import purge_expired_keys
from app.core.timeutil import utcnow
from app.main import create_app
from tests.conftest import app_and_client
from tests.factories import log, seed


async def _add_keys(backend, principal, count, *, expired):
    moment = utcnow() + (timedelta(hours=-1) if expired else timedelta(hours=1))
    for n in range(count):
        await backend.execute(
            "INSERT INTO idempotency_keys (principal, key, request_hash, status_code, response_body, "
            "response_headers, created_at, expires_at) VALUES (:p, :k, 'h', 200, :b, NULL, :c, :e)",
            p=principal,
            k=f"{'old' if expired else 'live'}-{n}",
            b=b"{}",
            c=moment - timedelta(hours=24),
            e=moment,
        )


async def test_the_purge_deletes_only_expired_keys_in_batches(backend):
    await backend.clean()
    await _add_keys(backend, "apikey:1", 25, expired=True)
    await _add_keys(backend, "apikey:1", 3, expired=False)
    await _add_keys(backend, "employee:10", 7, expired=True)
    sessionmaker = make_sessionmaker(backend.engine)
    deleted = await purge_expired_keys(sessionmaker, WriterQueue(backend.settings()), batch_size=10)
    assert deleted == 32
    rows = await backend.rows("SELECT principal, key FROM idempotency_keys ORDER BY key")
    assert [tuple(r) for r in rows] == [("apikey:1", f"live-{n}") for n in range(3)]
    assert await purge_expired_keys(sessionmaker, WriterQueue(backend.settings()), batch_size=10) == 0


async def test_the_app_purges_in_the_background_and_stops_at_shutdown(backend):
    await backend.clean()
    await _add_keys(backend, "apikey:1", 5, expired=True)
    app = create_app(backend.settings(idempotency_purge_minutes=0.001))  # every 0.06 s
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if await backend.scalar("SELECT count(*) FROM idempotency_keys") == 0:
                break
            await asyncio.sleep(0.05)
        assert await backend.scalar("SELECT count(*) FROM idempotency_keys") == 0
        tasks = [t for t in asyncio.all_tasks() if "purge_periodically" in repr(t.get_coro())]
        assert len(tasks) == 1
    await asyncio.sleep(0)
    assert tasks[0].done()


async def test_a_caller_above_its_live_key_limit_gets_429_and_nothing_is_written(backend):
    await backend.clean()
    async with app_and_client(backend, idempotency_max_keys_per_caller=2) as (_, http):
        await seed(http)
        first = await http.post("/tasklog/create/", json=log(), headers={"Idempotency-Key": "a"})
        second = await http.post(
            "/tasklog/create/",
            json=log(start="2024-10-29T11:00:00Z", end="2024-10-29T12:00:00Z"),
            headers={"Idempotency-Key": "b"},
        )
        assert first.status_code == second.status_code == 200
        third = await http.post(
            "/tasklog/create/",
            json=log(start="2024-10-29T13:00:00Z", end="2024-10-29T14:00:00Z"),
            headers={"Idempotency-Key": "c"},
        )
        assert third.status_code == 429, third.text
        assert third.json()["error_code"] == "TOO_MANY_IDEMPOTENCY_KEYS"
        assert 0 < int(third.headers["Retry-After"]) <= 24 * 3600
        assert await backend.scalar("SELECT count(*) FROM task_logs") == 2
        assert await backend.scalar("SELECT count(*) FROM idempotency_keys") == 2
        # A retry of a kept key is still answered; a write without a key is not limited.
        replay = await http.post("/tasklog/create/", json=log(), headers={"Idempotency-Key": "a"})
        assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
        unkeyed = await http.post(
            "/tasklog/create/", json=log(start="2024-10-29T13:00:00Z", end="2024-10-29T14:00:00Z")
        )
        assert unkeyed.status_code == 200
        # Expired keys do not count.
        await backend.execute(
            "UPDATE idempotency_keys SET expires_at = :e WHERE key = 'a'", e=utcnow() - timedelta(seconds=1)
        )
        fourth = await http.post(
            "/tasklog/create/",
            json=log(start="2024-10-29T15:00:00Z", end="2024-10-29T16:00:00Z"),
            headers={"Idempotency-Key": "d"},
        )
        assert fourth.status_code == 200, fourth.text
