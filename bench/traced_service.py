"""`tasklogs serve` with every SQL statement timed, for the profile step
only (never for the measured rows). It adds SQLAlchemy cursor-execute
listeners to every engine in this process, then runs the CLI's own serve;
on shutdown it writes {statement: [count, total seconds]} to BENCH_SQL_TRACE.

The time between the two events is the wall time of the statement as the
service sees it (the round trip to PostgreSQL), so with one request at a
time it splits a request into database time and Python time."""

import json
import os
import re
import signal
import sys
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

STATS: dict[str, list[float]] = {}
_WS = re.compile(r"\s+")
_LISTS = re.compile(r"\(\$\d+(?:::\w+)?(?:, \$\d+(?:::\w+)?)+\)")
_VALUES = re.compile(r"VALUES (\(.*?\))(, \(.*?\))+")


def _shape(statement: str) -> str:
    text = _WS.sub(" ", statement).strip()
    text = _VALUES.sub(r"VALUES \1, ...", text)
    return _LISTS.sub("($n, ...)", text)[:220]


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    conn.info.setdefault("bench_started", []).append(time.perf_counter())


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    elapsed = time.perf_counter() - conn.info["bench_started"].pop()
    entry = STATS.setdefault(_shape(statement), [0, 0.0])
    entry[0] += 1
    entry[1] += elapsed


def _dump() -> None:
    path = os.environ.get("BENCH_SQL_TRACE")
    if path:
        with open(path, "w") as out:
            json.dump(STATS, out)


def _on_term(signum: int, frame: Any) -> None:
    # uvicorn restores this handler after its graceful shutdown and re-raises the signal.
    _dump()
    sys.exit(0)


if __name__ == "__main__":
    from app.cli import main

    signal.signal(signal.SIGTERM, _on_term)
    try:
        sys.exit(main(["serve", *sys.argv[1:]]))
    finally:
        _dump()
