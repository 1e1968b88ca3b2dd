"""Requests per minute per API key and per employee (issue 18, point 9):
429 RATE_LIMITED in the envelope with Retry-After, the IETF RateLimit
header fields on every authenticated answer, one budget shared through
Redis by every worker, per-worker counters without Redis, and a Redis that
does not answer never failing a request.

Redis: TASKLOGS_TEST_REDIS_URL (default the local server). Without one the
Redis tests are skipped, except under CI=true where they fail. Every test
uses Redis keys of its own (a unique prefix), so parallel runs never share
a counter."""

import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from unittest import mock

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from redis.asyncio import Redis

from app.auth import rate_limits
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import IN_CI
from tests.factories import log, seed
from tests.live_server import free_port

REDIS_TEST_URL = os.environ.get("TASKLOGS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_settings() -> AsyncIterator[dict[str, str]]:
    """Settings that count in the test Redis under a prefix of this test's own; its keys are deleted after."""
    client = Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        if IN_CI:
            pytest.fail(f"Redis is required in CI but does not answer at {REDIS_TEST_URL}: {exc!r}")
        pytest.skip(f"Redis does not answer at {REDIS_TEST_URL} ({type(exc).__name__}); set TASKLOGS_TEST_REDIS_URL")
    prefix = f"tasklogs-test-{uuid.uuid4().hex}:"
    try:
        yield {"redis_url": REDIS_TEST_URL, "redis_key_prefix": prefix}
    finally:
        async for name in client.scan_iter(match=f"{prefix}*"):
            await client.delete(name)
        await client.aclose()


@asynccontextmanager
async def running_app(backend: Any, **overrides: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app (one worker, as far as counting in memory goes) with its lifespan, and a client without credentials."""
    app = create_app(backend.settings(**overrides))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        yield app, http


async def seeded(backend: Any, http: httpx.AsyncClient) -> None:
    """The demo reference data, written with a key of its own that no quota in these tests reaches."""
    await backend.clean()
    http.headers["X-API-Key"] = await backend.api_key("seeder", rate_limit_per_minute=1_000_000)
    await seed(http)
    del http.headers["X-API-Key"]


def remaining(response: httpx.Response) -> int:
    match = re.fullmatch(r'"(per-key|per-employee)";r=(\d+);t=(\d+)', response.headers["RateLimit"])
    assert match, response.headers["RateLimit"]
    return int(match.group(2))


def window_seconds(response: httpx.Response) -> int:
    return int(response.headers["RateLimit"].rpartition(";t=")[2])


def assert_rate_limited(response: httpx.Response, policy: str, limit: int) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["status"] == 0 and body["error_code"] == "RATE_LIMITED"
    assert f"{limit} per minute" in body["message"] and body["requestId"] == response.headers["X-Request-ID"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response.headers["RateLimit-Policy"] == f'"{policy}";q={limit};w=60'
    # The window ends when Retry-After says: waiting that long finds a new one.
    assert response.headers["RateLimit"] == f'"{policy}";r=0;t={retry_after}'


async def test_two_app_instances_share_one_budget_through_redis(backend, redis_settings):
    async with (
        running_app(backend, rate_limit_per_minute=3, **redis_settings) as (_, first),
        running_app(backend, rate_limit_per_minute=3, **redis_settings) as (_, second),
    ):
        await seeded(backend, first)
        key = {"X-API-Key": await backend.api_key("billing", company_id=1)}
        answers = [
            await first.get("/tasks/250/", headers=key),
            await second.get("/tasks/250/", headers=key),
            await first.get("/tasks/250/", headers=key),
        ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [remaining(a) for a in answers] == [2, 1, 0]
        assert all(a.headers["RateLimit-Policy"] == '"per-key";q=3;w=60' for a in answers)
        assert_rate_limited(await second.get("/tasks/250/", headers=key), "per-key", 3)
        assert_rate_limited(await first.get("/tasks/250/", headers=key), "per-key", 3)

    # The counter in Redis: the key's id, under this deployment's prefix, gone within the minute.
    key_id = await backend.scalar("SELECT id FROM api_keys WHERE name = 'billing'")
    redis = Redis.from_url(REDIS_TEST_URL)
    try:
        counter = f"{redis_settings['redis_key_prefix']}ratelimit:apikey:{key_id}"
        assert int(await redis.get(counter)) == 5
        assert 0 < await redis.pttl(counter) <= 60_000
    finally:
        await redis.aclose()


async def test_a_refused_request_writes_nothing_and_says_when_to_retry(backend, redis_settings):
    async with running_app(backend, rate_limit_per_minute=2, **redis_settings) as (_, http):
        await seeded(backend, http)
        key = {"X-API-Key": await backend.api_key("sync", company_id=1)}
        assert (
            await http.post("/tasklog/create/", json=log(start="2024-10-29T09:00:00Z"), headers=key)
        ).status_code == 200
        assert (await http.get("/tasks/250/", headers=key)).status_code == 200
        refused = await http.post("/tasklog/create/", json=log(start="2024-10-30T09:00:00Z"), headers=key)
        assert_rate_limited(refused, "per-key", 2)
        assert "this API key may make 2 per minute" in refused.json()["message"]
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1


async def test_a_write_with_an_idempotency_key_counts_once(backend, redis_settings):
    """The keyed write authenticates before its handler, which asks again:
    one request, one count; above the quota it is refused and nothing is
    kept under its key."""
    async with running_app(backend, rate_limit_per_minute=2, **redis_settings) as (_, http):
        await seeded(backend, http)
        key = {"X-API-Key": await backend.api_key("sync", company_id=1)}
        keyed = await http.post("/tasklog/create/", json=log(), headers={**key, "Idempotency-Key": "retry-1"})
        assert keyed.status_code == 200, keyed.text
        assert remaining(keyed) == 1
        assert (await http.get("/tasks/250/", headers=key)).status_code == 200
        refused = await http.post(
            "/tasklog/create/",
            json=log(start="2024-10-30T09:00:00Z", end="2024-10-30T10:00:00Z"),
            headers={**key, "Idempotency-Key": "retry-2"},
        )
        assert_rate_limited(refused, "per-key", 2)
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 1
    assert [tuple(r) for r in await backend.rows("SELECT key FROM idempotency_keys")] == [("retry-1",)]


async def test_a_keys_own_limit_replaces_the_default(backend, redis_settings):
    async with running_app(backend, rate_limit_per_minute=100, **redis_settings) as (_, http):
        await seeded(backend, http)
        own = {"X-API-Key": await backend.api_key("slow", company_id=1, rate_limit_per_minute=2)}
        default = {"X-API-Key": await backend.api_key("usual", company_id=1)}
        first = await http.get("/tasks/250/", headers=own)
        assert first.headers["RateLimit-Policy"] == '"per-key";q=2;w=60' and remaining(first) == 1
        assert (await http.get("/tasks/250/", headers=own)).status_code == 200
        assert_rate_limited(await http.get("/tasks/250/", headers=own), "per-key", 2)
        # Another key has a budget of its own, at the default.
        other = await http.get("/tasks/250/", headers=default)
        assert other.status_code == 200 and other.headers["RateLimit-Policy"] == '"per-key";q=100;w=60'
        assert remaining(other) == 99


async def test_each_employee_has_a_budget_of_their_own(backend, redis_settings):
    async with running_app(backend, rate_limit_per_minute_employee=2, **redis_settings) as (_, http):
        await seeded(backend, http)
        asha = {"Authorization": f"Bearer {backend.token(10)}"}
        # A second token of the same employee spends the same budget.
        asha_again = {"Authorization": f"Bearer {backend.token(10, jwt_leeway_seconds=1)}"}
        ada = {"Authorization": f"Bearer {backend.token(1)}"}
        first = await http.get("/tasks/250/", headers=asha)
        assert first.status_code == 200 and first.headers["RateLimit-Policy"] == '"per-employee";q=2;w=60'
        assert remaining(first) == 1
        assert (await http.get("/tasks/250/", headers=asha_again)).status_code == 200
        refused = await http.get("/tasks/250/", headers=asha)
        assert_rate_limited(refused, "per-employee", 2)
        assert "an employee may make 2 per minute" in refused.json()["message"]
        assert (await http.get("/tasks/250/", headers=ada)).status_code == 200


async def test_every_authenticated_answer_carries_the_rate_limit_fields(backend):
    """Errors too (404, 403, 422): only a refused credential and the probes go without them."""
    async with running_app(backend, rate_limit_per_minute_employee=50) as (_, http):
        await seeded(backend, http)
        asha = {"Authorization": f"Bearer {backend.token(10)}"}
        answers = [
            await http.get("/tasks/250/", headers=asha),
            await http.get("/tasks/999999/", headers=asha),
            await http.put("/companies/1/", json={"name": "Mine now"}, headers=asha),
            await http.post("/tasklog/create/", json={"taskId": "x"}, headers=asha),
        ]
        assert [a.status_code for a in answers] == [200, 404, 403, 422]
        assert [remaining(a) for a in answers] == [49, 48, 47, 46]
        assert all(a.headers["RateLimit-Policy"] == '"per-employee";q=50;w=60' for a in answers)


async def test_refused_credentials_and_probes_are_not_counted(backend):
    async with running_app(backend, rate_limit_per_minute=1) as (_, http):
        await seeded(backend, http)
        key = await backend.api_key("sync", company_id=1)
        for _ in range(3):
            wrong = await http.get("/tasks/250/", headers={"X-API-Key": key + "x"})
            assert wrong.status_code == 401 and "RateLimit" not in wrong.headers
            assert (await http.get("/tasks/250/")).status_code == 401
        for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
            probe = await http.get(path, headers={"X-API-Key": key})
            assert probe.status_code == 200, path
            assert "RateLimit" not in probe.headers and "RateLimit-Policy" not in probe.headers, path
        first = await http.get("/tasks/250/", headers={"X-API-Key": key})
        assert first.status_code == 200 and remaining(first) == 0
        assert_rate_limited(await http.get("/tasks/250/", headers={"X-API-Key": key}), "per-key", 1)


async def test_without_redis_each_worker_counts_on_its_own(backend):
    async with (
        running_app(backend, rate_limit_per_minute=2) as (_, first),
        running_app(backend, rate_limit_per_minute=2) as (_, second),
    ):
        await seeded(backend, first)
        key = {"X-API-Key": await backend.api_key("sync", company_id=1)}
        assert [(await first.get("/tasks/250/", headers=key)).status_code for _ in range(2)] == [200, 200]
        assert_rate_limited(await first.get("/tasks/250/", headers=key), "per-key", 2)
        # Another worker has counters of its own: documented, N workers allow N times the limit.
        assert (await second.get("/tasks/250/", headers=key)).status_code == 200
        # A minute later the first worker's window is over.
        later = time.monotonic() + 61
        with mock.patch.object(rate_limits.time, "monotonic", return_value=later):
            again = await first.get("/tasks/250/", headers=key)
        assert again.status_code == 200 and remaining(again) == 1 and window_seconds(again) == 60


def test_a_redis_url_that_is_not_one_is_refused_at_start():
    with pytest.raises(ValidationError, match="TASKLOGS_REDIS_URL must start with redis://"):
        Settings(redis_url="http://127.0.0.1:6379")


def test_worker_counters_stay_bounded():
    counters = rate_limits.WorkerCounters()
    for caller in range(counters.MAX_CALLERS + 500):
        counters.count(f"apikey:{caller}")
    assert len(counters) <= counters.MAX_CALLERS
    # Finished windows are dropped as new ones open.
    later = time.monotonic() + 61
    with mock.patch.object(rate_limits.time, "monotonic", return_value=later):
        assert counters.count("employee:1") == (1, 60)
    assert len(counters) == 1


async def test_a_redis_that_does_not_answer_fails_open_to_the_worker_counters(backend, caplog):
    """Pointed at a closed port: never a 500; each worker keeps counting on its own, and says so once."""
    closed = f"redis://127.0.0.1:{free_port()}/0"
    caplog.set_level(logging.WARNING, logger="tasklogs.auth")
    async with running_app(backend, rate_limit_per_minute=2, redis_url=closed) as (_, http):
        await seeded(backend, http)
        key = {"X-API-Key": await backend.api_key("sync", company_id=1)}
        answers = [await http.get("/tasks/250/", headers=key) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200]
        assert [remaining(a) for a in answers] == [1, 0]
        assert_rate_limited(await http.get("/tasks/250/", headers=key), "per-key", 2)
    warnings = [r for r in caplog.records if "Redis does not answer" in r.getMessage()]
    assert len(warnings) == 1 and "counted per worker" in warnings[0].getMessage()
