"""Engine and the per-request transaction.

One request = one transaction: `get_session` opens it, services and
repositories only `flush()`, and the commit happens before the response is
sent (the dependency runs with `scope="function"`), so a failed commit becomes
an error answer instead of a silent loss."""

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.observability import publish_committed
from app.core.responses import dumps_text
from app.core.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url, connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
            json_serializer=dumps_text,
        )
        _configure_sqlite(engine, settings)
        return engine
    # JIT compilation costs more than it saves on our short, index-driven
    # queries (it once took 630 ms to plan the overlap check on 1M logs).
    server_settings = {"application_name": "tasklogs", "jit": "off"}
    if settings.db_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args={"timeout": settings.db_connect_timeout_seconds, "server_settings": server_settings},
        json_serializer=dumps_text,
    )
    _ping_idle_connections(engine)
    return engine


# A connection back in use within this many seconds is not pinged first.
IDLE_BEFORE_PING_SECONDS = 5.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """A connection broken by a database restart is replaced before use, so
    the service recovers by itself when PostgreSQL is back. SQLAlchemy's
    pool_pre_ping would check every checkout, which on asyncpg is three
    round trips (BEGIN, ping, ROLLBACK) added to every request, 15 % of a
    small report. Only connections that sat idle are checked; one in steady
    use has just proved itself, and if the server went away since, the
    request that finds out answers 503 and the pool drops every connection
    it holds (SQLAlchemy's handling of a disconnect)."""

    @event.listens_for(engine.sync_engine, "connect")
    @event.listens_for(engine.sync_engine, "checkin")
    def _in_use_until_now(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        if time.monotonic() - record.info.get("idle_since", 0.0) < IDLE_BEFORE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("connection failed its ping") from exc


def _configure_sqlite(engine: AsyncEngine, settings: Settings) -> None:
    """SQLite needs three things to behave like a real database here:
    foreign keys switched on, WAL so readers never wait for the writer, and
    `BEGIN IMMEDIATE` so two writers queue for the lock instead of one of them
    failing with 'database is locked' when it upgrades a read lock mid-way.
    Driver-level autocommit lets us issue that BEGIN ourselves."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def make_read_sessionmaker(engine: AsyncEngine, settings: Settings) -> async_sessionmaker[AsyncSession]:
    """Sessions for GET requests. On PostgreSQL they run without BEGIN and
    COMMIT: under READ COMMITTED each statement takes its own snapshot
    anyway, so a transaction around reads adds two round trips and nothing
    else. SQLite keeps its transactions (its connections are set up for our
    own BEGIN IMMEDIATE, see _configure_sqlite)."""
    if settings.is_sqlite:
        return make_sessionmaker(engine)
    return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    if request.method == "GET":
        async with request.app.state.read_sessionmaker() as reader:
            yield reader
        return
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        async with session.begin():
            yield session
        publish_committed(session)


# scope="function": commit (or roll back) before the response leaves.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]

