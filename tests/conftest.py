"""Test harness: every test runs against the real databases — an SQLite file
and a fresh PostgreSQL database — both built by the Alembic migrations, and
drives the app over HTTP (httpx + ASGI transport, lifespan included).

PostgreSQL: TASKLOGS_TEST_POSTGRES_URL (default: the local server's `test`
database) is used to create and drop a database of our own. If the server
cannot be reached the PostgreSQL half is skipped locally, and fails under CI
(CI=true), where it must run."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth.repository import ApiKeyRepository, new_key
from app.auth.tokens import issue_token
from app.cli import migrate_to_head
from app.core.database import create_engine, make_sessionmaker
from app.core.settings import Settings
from app.main import create_app

PG_ADMIN_URL = os.environ.get("TASKLOGS_TEST_POSTGRES_URL", "postgresql+asyncpg://root@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_JWT_SECRET = "test-secret-for-the-suite-only-0123456789abcdefghij"  # 51 bytes: long enough for HS384 too
TABLES = [
    "submission_events",
    "timesheet_submissions",
    "company_changes",
    "time_warnings",
    "running_timers",
    "webhook_deliveries",
    "outbox_events",
    "webhooks",
    "idempotency_keys",
    "task_log_changes",
    "api_keys",
    "notifications",
    "task_logs",
    "tasks",
    "projects",
    "employees",
    "companies",
]

BACKENDS = ["sqlite", "postgresql"]


async def _pg_reachable() -> str | None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


def fresh_postgres_database() -> str:
    """A new, empty PostgreSQL database for a test that runs the real server
    (from synchronous code). Skipped without a server, failed under CI."""
    problem = asyncio.run(_pg_reachable())
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({problem})")
    url = asyncio.run(_create_database("tasklogs_live"))
    _LIVE_DATABASES.append(str(make_url(url).database))
    return url


_LIVE_DATABASES: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _drop_live_databases() -> Iterator[None]:
    """Databases made for live-server tests are dropped when the session ends."""
    yield
    if _LIVE_DATABASES:
        asyncio.run(_drop_databases(_LIVE_DATABASES))


async def _drop_databases(names: list[str]) -> None:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        for name in names:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def _create_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


class Backend:
    """One database the suite runs against, with its app and a direct engine."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        # The app's own engine setup: on SQLite that switches foreign keys on.
        self.engine: AsyncEngine = create_engine(Settings(database_url=url))

    def settings(self, **overrides: Any) -> Settings:
        # No webhook dispatcher in the apps of tests, unless a test asks for one.
        defaults = {"database_url": self.url, "jwt_secret": TEST_JWT_SECRET, "worker_inprocess": False}
        return Settings(**{**defaults, **overrides})

    def token(self, employee_id: int, company_id: int = 1, **overrides: Any) -> str:
        return issue_token(self.settings(**overrides), employee_id, company_id)

    async def api_key(self, name: str = "test", company_id: int | None = None, **options: Any) -> str:
        """A new API key (a platform key without company_id); `options`: expires_at, rate_limit_per_minute."""
        key = new_key()
        sessionmaker = make_sessionmaker(self.engine)
        async with sessionmaker() as session, session.begin():
            await ApiKeyRepository(session).add(name, company_id, key, **options)
        return key

    async def clean(self) -> None:
        async with self.engine.begin() as conn:
            if self.name == "postgresql":
                await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            else:
                for table in TABLES:
                    await conn.execute(text(f"DELETE FROM {table}"))
                await conn.execute(text("DELETE FROM sqlite_sequence"))

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())

    async def execute(self, sql: str, **params: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(sql), params)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()

    async def row_is_locked(self, table: str, where: str) -> bool:
        """PostgreSQL: whether another transaction holds a lock on the rows
        `where` picks that FOR UPDATE would wait for (any row lock does)."""
        async with self.engine.connect() as conn:
            try:
                await conn.execute(text(f"SELECT 1 FROM {table} WHERE {where} FOR UPDATE NOWAIT"))
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                    return True
                raise
            finally:
                await conn.rollback()
        return False

    async def until_one_waits_on_a_lock(self, request: "asyncio.Task[Any] | None" = None) -> None:
        """PostgreSQL: return once a backend of this database waits on a lock
        (fail after 20 s, or as soon as `request`, which should be the one
        waiting, has finished instead)."""
        for _ in range(400):
            if await self.waiting_on_a_lock():
                return
            if request is not None and request.done():
                raise AssertionError(f"it did not wait: {request.result()!r}")
            await asyncio.sleep(0.05)
        raise AssertionError("nothing waited on a lock")

    async def waiting_on_a_lock(self) -> int:
        """PostgreSQL: how many of this database's backends wait on a lock now."""
        return int(
            await self.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


@pytest.fixture(scope="session")
async def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backend]:
    path = Path(tmp_path_factory.mktemp("sqlite")) / "tasklogs.db"
    backend = Backend("sqlite", f"sqlite+aiosqlite:///{path}")
    await migrate_to_head(backend.url)
    yield backend
    await backend.engine.dispose()


@pytest.fixture(scope="session")
async def postgres_backend() -> AsyncIterator[Backend]:
    problem = await _pg_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({problem})")
    url = await _create_database("tasklogs_test")
    name = make_url(url).database
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    backend = Backend("postgresql", url)
    await migrate_to_head(url)
    yield backend
    await backend.engine.dispose()
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(f"{'sqlite' if request.param == 'sqlite' else 'postgres'}_backend")


@pytest.fixture
def postgres_only(backend: Backend) -> None:
    if backend.name != "postgresql":
        pytest.skip("PostgreSQL-only test (row locks and concurrent writers)")


@asynccontextmanager
async def app_and_client(backend: Backend, **overrides: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A fresh app with these settings, running, and a client of it with a
    platform API key (tests of roles pass their own `Authorization` or
    `X-API-Key` header per request). Both are closed when the block ends,
    also when a test fails inside it."""
    app = create_app(backend.settings(**overrides))
    key = await backend.api_key("platform")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers={"X-API-Key": key}
        ) as client,
    ):
        yield app, client


@pytest.fixture
async def client(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app on an empty database."""
    await backend.clean()
    async with app_and_client(backend) as (_, http):
        yield http
