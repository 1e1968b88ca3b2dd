"""Engine and the per-request transaction.

One request = one transaction: `get_session` opens it, services and
repositories only `flush()`, and the commit happens before the response is
sent (the dependency runs with `scope="function"`), so a failed commit becomes
an error answer instead of a silent loss."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import event
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
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        # A connection broken by a database restart is replaced before use,
        # so the service recovers by itself when PostgreSQL is back.
        pool_pre_ping=True,
        connect_args={"timeout": settings.db_connect_timeout_seconds, "server_settings": server_settings},
        json_serializer=dumps_text,
    )


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
