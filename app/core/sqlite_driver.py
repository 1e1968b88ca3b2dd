"""SQLite under SQLAlchemy's async engine, in fewer trips to the connection's thread.

aiosqlite, the stack's SQLite driver, runs each connection on a thread of its
own, and every call into it is a trip there and back: a queue hand-off, a
wake-up of that thread, then a wake-up of the event loop. SQLAlchemy's
aiosqlite dialect makes four trips per statement (open a cursor, execute,
fetch, close). Measured on the 2-core bench machine, a trip costs 80-100 us
of the process's CPU, so `SELECT 1` cost 0.32 ms and a single create on
SQLite (nine statements with BEGIN and COMMIT) spent half of its 4.9 ms of
CPU on trips.

This dialect is SQLAlchemy's aiosqlite dialect with another cursor. The
connection executes the statement (one trip, aiosqlite's
`Connection.execute`) and, when the statement returns rows, the cursor
fetches them all in a second trip; there is no trip to open a cursor or to
close one (an exhausted sqlite3 cursor holds no statement). The rows are
buffered, as SQLAlchemy's own adapter buffers them; nothing here streams, so
server-side cursors are declined. Everything else about the connection
(connect, commit, rollback, close, the isolation level, SQL functions, a
forced close) is SQLAlchemy's adapter, unchanged.

The URL stays `sqlite+aiosqlite://`; `app.core.database.create_engine` runs
it on this dialect (`async_sqlite_url`).

One method of the cursor is SQLAlchemy's own, not PEP 249's:
`_async_soft_close`, which SQLAlchemy's async results await on every DBAPI
cursor. Every SQLite test runs through it, so an upgrade of SQLAlchemy
(pinned in constraints.txt) that changes it cannot pass unnoticed."""

import sqlite3
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.util import await_only

DRIVER = "aiosqlite_fewer_trips"
# What aiosqlite says, in a ValueError, of a connection that is closed.
CLOSED_CONNECTION_MESSAGES = ("connection closed", "no active connection")


class FewerTripsCursor:
    """A PEP 249 cursor whose statement costs one trip, two with rows."""

    arraysize = 1

    def __init__(self, connection: Any) -> None:
        self._connection = connection  # aiosqlite's Connection
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> None:
        await_only(self._run(self._connection.execute(operation, parameters or ())))

    def executemany(self, operation: str, seq_of_parameters: Sequence[Sequence[Any]]) -> None:
        await_only(self._run(self._connection.executemany(operation, seq_of_parameters)))

    async def _run(self, executed: Awaitable[Any]) -> None:
        try:
            cursor = await executed
        except ValueError as exc:
            # aiosqlite's words for a closed connection; as an OperationalError
            # SQLAlchemy's dialect sees a disconnect and drops the connection.
            if str(exc).lower() in CLOSED_CONNECTION_MESSAGES:
                raise sqlite3.OperationalError(str(exc)) from exc
            raise
        self.description = cursor.description
        self._rows = deque(await cursor.fetchall()) if cursor.description else deque()
        # Read after the fetch: an INSERT ... RETURNING counts its rows as they are stepped through.
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        count = min(self.arraysize if size is None else size, len(self._rows))
        return [self._rows.popleft() for _ in range(count)]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """SQLAlchemy's async result calls this on a DBAPI cursor before it
        hands rows out, for drivers whose cursors must be closed by an await.
        The statement here is closed already: nothing to do."""


class FewerTripsConnection(AdaptedConnection):
    """SQLAlchemy's aiosqlite connection adapter with FewerTripsCursor."""

    __slots__ = ("adapted",)

    def __init__(self, adapted: Any) -> None:
        self.adapted = adapted  # SQLAlchemy's adapter of the same aiosqlite connection
        self._connection = adapted.driver_connection  # AdaptedConnection's field: its driver_connection

    def cursor(self, server_side: bool = False) -> FewerTripsCursor:
        return FewerTripsCursor(self.driver_connection)

    @property
    def isolation_level(self) -> Any:
        return self.adapted.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self.adapted.isolation_level = value

    def create_function(self, *args: Any, **kw: Any) -> None:
        self.adapted.create_function(*args, **kw)

    def commit(self) -> None:
        self.adapted.commit()

    def rollback(self) -> None:
        self.adapted.rollback()

    def close(self) -> None:
        self.adapted.close()

    def terminate(self) -> None:
        self.adapted.terminate()


class FewerTripsDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True
    supports_server_side_cursors = False

    def connect(self, *cargs: Any, **cparams: Any) -> Any:  # a FewerTripsConnection
        return FewerTripsConnection(super().connect(*cargs, **cparams))


registry.register(f"sqlite.{DRIVER}", __name__, "FewerTripsDialect")


def async_sqlite_url(database_url: str) -> URL:
    """The SQLite URL on this module's dialect (same file, same options)."""
    return make_url(database_url).set(drivername=f"sqlite+{DRIVER}")
