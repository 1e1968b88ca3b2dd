"""The webhook dispatcher's own cost: the CPU it spends to fan out 1,000
new events and deliver each to one subscription (the outbox rows' local
receiver, in a process of its own, answering 204), on a database of its own. There is no
floor: the figure is for comparing one version of the dispatcher with the
next (bench/RESULTS.md).

    .venv/bin/python -m bench.deliveries             # PostgreSQL on 127.0.0.1 (a database of its own, dropped after)
    .venv/bin/python -m bench.deliveries --sqlite    # a temporary SQLite file

Each run: 1,000 events written straight into the outbox (what a 1,000-log
bulk leaves), then `Dispatcher.run_once` until it finds nothing to do,
timed by this process's CPU clock (the dispatcher runs here, in one event
loop, as `tasklogs worker` runs it). The median of the runs after one warm-up."""

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from app.core.database import WriterQueue, create_engine, make_sessionmaker
from app.core.settings import Settings
from app.webhooks.dispatcher import Dispatcher
from bench.outbox import serve_accepting

EVENTS = 1000
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"

SEED = [
    "DELETE FROM webhook_deliveries",
    "DELETE FROM outbox_events",
    "DELETE FROM webhooks",
    "DELETE FROM companies",
    "INSERT INTO companies (id, name) VALUES (1, 'Bench')",
]
NEW_EVENTS = {
    "postgresql": (
        "INSERT INTO outbox_events (event_id, type, company_id, task_log_id, data) "
        "SELECT 'evt_' || md5(random()::text || g), 'tasklog.created', 1, g, '{}' FROM generate_series(1, :n) g"
    ),
    "sqlite": (
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n) "
        "INSERT INTO outbox_events (event_id, type, company_id, task_log_id, data) "
        "SELECT 'evt_' || lower(hex(randomblob(16))), 'tasklog.created', 1, n, '{}' FROM g"
    ),
}


async def measure(url: str, receiver: str, runs: int) -> list[float]:
    """CPU seconds per delivery, one figure per run."""
    settings = Settings(database_url=url, webhook_allow_http=True, webhook_allow_private=True)
    engine = create_engine(settings)
    sessions = make_sessionmaker(engine)
    figures = []
    try:
        for _ in range(runs + 1):
            async with sessions() as session, session.begin():
                for statement in SEED:
                    await session.execute(text(statement))
                await session.execute(
                    text("INSERT INTO webhooks (company_id, url, events, secret) VALUES (1, :url, '[\"*\"]', :secret)"),
                    {"url": receiver, "secret": "whsec_" + "A" * 32},
                )
                await session.execute(text(NEW_EVENTS[engine.dialect.name]), {"n": EVENTS})
            dispatcher = Dispatcher(sessions, WriterQueue(settings), settings)
            try:
                started = time.process_time()
                while await dispatcher.run_once():
                    pass
                cpu = time.process_time() - started
            finally:
                await dispatcher.close()
            async with sessions() as session:
                delivered = await session.scalar(
                    text("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
                )
            if delivered != EVENTS:
                raise RuntimeError(f"{delivered} of {EVENTS} events delivered")
            figures.append(cpu / EVENTS)
    finally:
        await engine.dispose()
    return figures[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=serve_accepting, args=(ports,), daemon=True)
    receiver.start()
    hook = f"http://127.0.0.1:{ports.get(timeout=30)}/hook"
    name = f"tasklogs_deliveries_{os.getpid()}"
    with tempfile.TemporaryDirectory() as folder:
        if args.sqlite:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'deliveries.db'}"
        else:
            subprocess.run(["psql", PG_ADMIN, "-qc", f"CREATE DATABASE {name}"], check=True)
            url = f"postgresql+asyncpg://root@127.0.0.1:5432/{name}"
        try:
            migrate = [sys.executable, "-m", "app.cli", "migrate"]
            subprocess.run(migrate, check=True, env={"TASKLOGS_DATABASE_URL": url}, capture_output=True)
            figures = asyncio.run(measure(url, hook, args.runs))
        finally:
            receiver.terminate()
            receiver.join()
            if not args.sqlite:
                subprocess.run(["psql", PG_ADMIN, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    runs = ", ".join(f"{f * 1e6:.0f}" for f in figures)
    median = statistics.median(figures) * 1e6
    database = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"{database}: the dispatcher's CPU per delivery, median of {len(figures)} runs: {median:.0f} µs ({runs})")


if __name__ == "__main__":
    main()
