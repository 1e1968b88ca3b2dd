"""API keys as Dyzo has them (issue 18, point 8): they expire (401
API_KEY_EXPIRED, however recently a worker trusted them), `tasklogs apikey
create --expires-in-days/--rate-limit` sets them up, `apikey list` shows
expiry, last use and limit, and the last use is written at most once a
minute per key."""

import argparse
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.auth.cli import apikey_command
from app.main import create_app
from app.models import ApiKey
from tests.factories import log, seed


@asynccontextmanager
async def running_app(backend: Any, **overrides: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app (one worker) with its lifespan, and a client without credentials."""
    app = create_app(backend.settings(**overrides))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        yield app, http


async def seeded(backend: Any, http: httpx.AsyncClient) -> None:
    await backend.clean()
    http.headers["X-API-Key"] = await backend.api_key("seeder")
    await seed(http)
    del http.headers["X-API-Key"]


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """The wall clock that authentication reads (key expiry, last use), stopped at `moment`."""
    with mock.patch("app.auth.dependencies.utcnow", return_value=moment):
        yield


async def stored_key(backend: Any, name: str) -> Any:
    async with backend.engine.connect() as conn:
        return (await conn.execute(select(ApiKey).where(ApiKey.name == name))).one()


def printed_key(captured: Any) -> str:
    """The key `apikey create` printed (the app's log lines share the captured standard output)."""
    return str(captured.out.strip().splitlines()[-1])


def create_args(name: str, **options: Any) -> argparse.Namespace:
    return argparse.Namespace(
        action="create",
        name=name,
        company_id=options.get("company_id"),
        expires_in_days=options.get("expires_in_days", 365),
        rate_limit=options.get("rate_limit"),
    )


async def test_an_expired_key_is_refused_and_writes_nothing(backend):
    async with running_app(backend) as (_, http):
        await seeded(backend, http)
        expired = datetime.now(UTC) - timedelta(minutes=1)
        key = {"X-API-Key": await backend.api_key("old", company_id=1, expires_at=expired)}
        for answer in (
            await http.get("/tasks/250/", headers=key),
            await http.post("/tasklog/create/", json=log(), headers=key),
        ):
            assert answer.status_code == 401, answer.text
            body = answer.json()
            assert body["status"] == 0 and body["error_code"] == "API_KEY_EXPIRED"
            assert body["message"].startswith("The API key expired at ")
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
            assert "RateLimit" not in answer.headers  # a refused credential is not counted
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0
    assert (await stored_key(backend, "old")).last_used_at is None


async def test_a_trusted_key_stops_at_its_expiry_not_at_the_end_of_the_trust_window(backend):
    """The worker trusts the key for 300 s without asking the database, yet
    the key is refused the moment it expires."""
    async with running_app(backend, api_key_cache_seconds=300) as (_, http):
        await seeded(backend, http)
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        key = {"X-API-Key": await backend.api_key("short", company_id=1, expires_at=expires)}
        assert (await http.get("/tasks/250/", headers=key)).status_code == 200  # now trusted
        with clock_at(expires - timedelta(seconds=1)):
            assert (await http.get("/tasks/250/", headers=key)).status_code == 200
        with clock_at(expires):
            refused = await http.get("/tasks/250/", headers=key)
        assert refused.status_code == 401 and refused.json()["error_code"] == "API_KEY_EXPIRED"
        assert expires.strftime("%Y-%m-%dT%H:%M:%SZ") in refused.json()["message"]


async def test_a_key_expires_in_365_days_unless_told_otherwise(backend, capsys):
    async with running_app(backend) as (_, http):
        await seeded(backend, http)
        settings = backend.settings()
        before = datetime.now(UTC)
        assert await apikey_command(settings, create_args("yearly", company_id=1)) == 0
        yearly = capsys.readouterr()
        assert await apikey_command(settings, create_args("weekly", company_id=1, expires_in_days=7)) == 0
        weekly = capsys.readouterr()
        after = datetime.now(UTC)

        stored = await stored_key(backend, "yearly")
        assert before + timedelta(days=365) <= stored.expires_at + timedelta(seconds=1)
        assert stored.expires_at <= after + timedelta(days=365)
        assert "warning" not in yearly.err and f"expires {stored.expires_at:%Y-%m-%dT%H:%M:%SZ}" in yearly.err
        week = (await stored_key(backend, "weekly")).expires_at
        assert before + timedelta(days=7) <= week + timedelta(seconds=1) and week <= after + timedelta(days=7)

        key = {"X-API-Key": printed_key(weekly)}
        assert (await http.get("/tasks/250/", headers=key)).status_code == 200
        with clock_at(after + timedelta(days=8)):
            assert (await http.get("/tasks/250/", headers=key)).json()["error_code"] == "API_KEY_EXPIRED"


async def test_a_key_that_never_expires_is_made_on_purpose_with_a_warning(backend, capsys):
    async with running_app(backend) as (_, http):
        await seeded(backend, http)
        assert await apikey_command(backend.settings(), create_args("forever", expires_in_days=0)) == 0
        made = capsys.readouterr()
        assert "warning" in made.err and "never expires" in made.err
        assert (await stored_key(backend, "forever")).expires_at is None
        with clock_at(datetime.now(UTC) + timedelta(days=3650)):
            answer = await http.get("/tasks/250/", headers={"X-API-Key": printed_key(made)})
            assert answer.status_code == 200, answer.text


async def test_a_key_made_with_its_own_rate_limit_keeps_it(backend, capsys):
    async with running_app(backend, rate_limit_per_minute=100) as (_, http):
        await seeded(backend, http)
        assert await apikey_command(backend.settings(), create_args("slow", company_id=1, rate_limit=2)) == 0
        key = {"X-API-Key": printed_key(capsys.readouterr())}
        assert (await stored_key(backend, "slow")).rate_limit_per_minute == 2
        answers = [await http.get("/tasks/250/", headers=key) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[0].headers["RateLimit-Policy"] == '"per-key";q=2;w=60'


@pytest.mark.parametrize(
    ("option", "value"),
    [("--expires-in-days", "-1"), ("--expires-in-days", "99999"), ("--rate-limit", "0"), ("--rate-limit", "ten")],
)
def test_the_create_command_refuses_bad_numbers(option, value, capsys):
    from app.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["apikey", "create", "--name", "x", option, value])
    assert exit_.value.code == 2
    assert option in capsys.readouterr().err


async def test_apikey_list_shows_expiry_last_use_and_limit(backend, capsys):
    async with running_app(backend) as (app, http):
        await seeded(backend, http)
        now = datetime.now(UTC).replace(microsecond=0)
        used = await backend.api_key("used", company_id=1, expires_at=now + timedelta(days=30))
        await backend.api_key("idle", rate_limit_per_minute=50)
        await backend.api_key("lapsed", expires_at=now - timedelta(days=1))
        with clock_at(now):
            assert (await http.get("/tasks/250/", headers={"X-API-Key": used})).status_code == 200
        await app.state.key_usage.drain()

    capsys.readouterr()  # the requests' log lines
    assert await apikey_command(backend.settings(), argparse.Namespace(action="list")) == 0
    lines = {line.split("\t")[2]: line.split("\t") for line in capsys.readouterr().out.splitlines()}
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    assert lines["used"][3:] == [
        "company 1",
        "active",
        lines["used"][5],
        f"expires {now + timedelta(days=30):{stamp}}",
        f"last used {now:{stamp}}",
        "600/min (default)",
    ]
    assert lines["used"][5].startswith("created ")
    assert lines["idle"][4] == "active" and lines["idle"][6:] == ["never expires", "never used", "50/min"]
    assert lines["lapsed"][4] == "expired"
    assert used not in "\n".join("\t".join(v) for v in lines.values())


async def test_last_use_is_written_at_most_once_a_minute_per_key(backend):
    """Two workers (app instances) on one database: each asks at most once a
    minute, and the database takes the first within the minute."""
    t0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    async with running_app(backend) as (worker, http), running_app(backend) as (other_worker, other):
        await seeded(backend, http)
        key = {"X-API-Key": await backend.api_key("sync", company_id=1)}

        async def call(app: FastAPI, client: httpx.AsyncClient, at: datetime) -> datetime | None:
            with clock_at(at):
                assert (await client.get("/tasks/250/", headers=key)).status_code == 200
            await app.state.key_usage.drain()
            return (await stored_key(backend, "sync")).last_used_at

        assert await call(worker, http, t0) == t0
        assert await call(worker, http, t0 + timedelta(seconds=30)) == t0  # this worker does not ask again
        assert await call(other_worker, other, t0 + timedelta(seconds=40)) == t0  # the database refuses it
        assert await call(worker, http, t0 + timedelta(seconds=61)) == t0 + timedelta(seconds=61)
        assert await call(other_worker, other, t0 + timedelta(seconds=100)) == t0 + timedelta(seconds=61)
        assert await call(other_worker, other, t0 + timedelta(seconds=161)) == t0 + timedelta(seconds=161)
