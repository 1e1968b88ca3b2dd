"""Engine and the per-request transaction.

One write request = one transaction, owned by its route (`write_transaction`,
entered by `ApiRoute`): services and repositories only `flush()`, the handler's
`Session` is that transaction's session, and the commit happens before the
response is sent, so a failed commit becomes an error answer instead of a
silent loss. The route owns it rather than a dependency because the route adds
the Idempotency-Key's record as the transaction's last statement and decides
what a failure answers (`app/core/idempotency.py`). A read request's session
is opened by its route too (`read_session`); the `Session` dependency hands
out whichever the request has."""

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import event, orm
from sqlalchemy.engine import Connection
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
from app.core.sqlite_driver import async_sqlite_url

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Execution option of the engine behind read sessions on SQLite: their
# transactions begin with a plain (deferred) BEGIN, see _configure_sqlite.
READS_ONLY = "tasklogs_reads_only"


def _create_private_file(path: Path | None) -> None:
    """Create the SQLite file readable by its owner only (0600) before SQLite
    does (it would use 0644 under the usual umask); its -wal and -shm files
    take the database file's mode. An existing file is left as it is."""
    if path is None or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another process made it first
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        _create_private_file(settings.sqlite_path)
        engine = create_async_engine(
            async_sqlite_url(settings.database_url),
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
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
        # The connection used last goes out first: a request that comes alone
        # finds its statements prepared, and their plans settled (PostgreSQL
        # plans a prepared statement anew for each of its first five runs on a
        # connection), where FIFO spreads them over every pooled connection.
        pool_use_lifo=True,
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
    `BEGIN IMMEDIATE` for writers so two of them queue for the lock instead of
    one failing with 'database is locked' when it upgrades a read lock mid-way
    (within a process they queue earlier, in `WriterQueue`; BEGIN IMMEDIATE
    still orders the writers of several processes). Read sessions, marked by
    the READS_ONLY execution option, begin with a plain BEGIN: they take no
    lock, so a read never waits for a writer. Driver-level autocommit lets us
    issue those BEGINs ourselves."""

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
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READS_ONLY) else "BEGIN IMMEDIATE")


class WriterQueue:
    """The write transactions of one process, one at a time on SQLite, in the
    order they arrived.

    SQLite has a single writer. Left to its busy timeout, waiting writers poll
    for the lock and whoever polls at the right moment goes next: under 32
    concurrent creates the slowest waited twenty times the median. An
    asyncio.Lock wakes its waiters first come, first served, so a process's
    writers queue fairly and never poll. PostgreSQL locks rows, not the
    database: its writers do not queue here."""

    def __init__(self, settings: Settings) -> None:
        self._single_writer = asyncio.Lock() if settings.is_sqlite else None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._single_writer is None:
            yield
            return
        async with self._single_writer:
            yield


def make_sessionmaker(
    engine: AsyncEngine, sync_session_class: type[orm.Session] = orm.Session
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, sync_session_class=sync_session_class)


def read_engine(engine: AsyncEngine, settings: Settings) -> AsyncEngine:
    """The engine for reads (GET requests, readiness, look-ups made outside a
    write's transaction). On PostgreSQL they run without BEGIN and COMMIT:
    under READ COMMITTED each statement takes its own snapshot anyway, so a
    transaction around reads adds two round trips and nothing else. SQLite
    keeps its transactions, begun without taking the write lock (READS_ONLY)."""
    if settings.is_sqlite:
        return engine.execution_options(**{READS_ONLY: True})
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_read_sessionmaker(engine: AsyncEngine, settings: Settings) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(read_engine(engine, settings))


class GenericPlansSession(orm.Session):
    """A request's write transaction on PostgreSQL (`write_transaction`): its
    statements run on their generic plans, made once per connection.

    Left to choose, PostgreSQL plans a prepared statement anew at each run
    whenever its generic plan looks dearer than the runs' own, and the
    writes' array parameters always make it look so: it reckons `unnest($1)`
    at 100 rows whatever the array holds. Three of a create's four
    statements were planned at every run, half of PostgreSQL's CPU per create
    (bench/RESULTS.md, 2026-12-05). The writes' statements are keyed by ids,
    arrays and indexed ranges; the generic plans of creates and bulks ran as
    fast as the custom ones or faster. Reads keep PostgreSQL's choice: a
    search's generic plan, not knowing its range, ran 1.7x slower. The
    background worker's transactions keep it too. tests/test_statement_plans.py
    checks a create."""


@event.listens_for(GenericPlansSession, "after_begin")
def _generic_plans(_session: orm.Session, _transaction: orm.SessionTransaction, connection: Connection) -> None:
    # Sent when the transaction begins, with its first statement: a write
    # refused before it touches the database costs no round trip. LOCAL:
    # the setting ends with the transaction.
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")


def make_write_sessionmaker(engine: AsyncEngine, settings: Settings) -> async_sessionmaker[AsyncSession]:
    """The sessions of `write_transaction`."""
    return make_sessionmaker(engine, orm.Session if settings.is_sqlite else GenericPlansSession)


@asynccontextmanager
async def write_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """The write request's one transaction; the handler's `Session` is its
    session. Commits when the block ends without an error, before the
    response is sent: a failed commit raises, and is answered as an error (503
    when the database is down). An error in the block rolls everything back.
    Metrics counted with `count_on_commit` are published once committed."""
    state = request.app.state
    queue: WriterQueue = state.writer_queue
    sessionmaker: async_sessionmaker[AsyncSession] = state.write_sessionmaker
    async with queue.turn(), sessionmaker() as session:
        with _request_session(request, session):
            yield session
            await session.commit()
    publish_committed(session)


@asynccontextmanager
async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The read request's session (it connects at its first statement); the
    handler's `Session`. Closed when the block ends, before the response is
    sent, so its connection is back in the pool while the answer travels."""
    async with request.app.state.read_sessionmaker() as session:
        with _request_session(request, session):
            yield session


@contextlib.contextmanager
def _request_session(request: Request, session: AsyncSession) -> Iterator[None]:
    """`session` is the request's (`get_session`) while the block runs."""
    request.state.session = session
    try:
        yield
    finally:
        request.state.session = None


async def get_session(request: Request) -> AsyncSession:
    """The `Session` dependency: the session the route opened for this
    request (`ApiRoute`: `write_transaction` or `read_session`). The route
    owns a read's session as it owns a write's, rather than a generator
    dependency: FastAPI runs each generator dependency in an exit stack and
    a cancel scope of its own, 2 % of a create's or a timesheet's Python
    function calls (bench/RESULTS.md, 2026-12-05)."""
    session = getattr(request.state, "session", None)
    if not isinstance(session, AsyncSession):
        raise RuntimeError("no session: a route using Session must be an ApiRoute, which opens it")
    return session


Session = Annotated[AsyncSession, Depends(get_session)]
