"""Fault check: stop and start the local PostgreSQL under a steady write load.

    .venv/bin/python scripts/fault_check.py            # about 40 s

It creates its own database, runs `tasklogs serve` (2 workers) on loopback,
keeps 16 clients creating task logs (each with an Idempotency-Key, retried on
503 as a real client would), stops PostgreSQL for ~8 s in the middle, starts
it again, and then checks:
  * the only answers seen were 200, 409 and 503 (never a 500, never a hang
    beyond the request timeout);
  * every acknowledged (200) write is stored exactly once; nothing else is;
  * /readyz went 503 during the outage and back to 200 without a restart.
Exit code 0 when all hold. It stops a shared service: do not run it in CI
or while other tests use the same PostgreSQL."""

import asyncio
import collections
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import _create_database
from tests.live_server import live_service

CLIENTS = 16
DURATION = 30.0
OUTAGE = (8.0, 16.0)  # seconds into the run: stop, start
CLUSTER = ["pg_ctlcluster", "--skip-systemctl-redirect"]


def pg(action: str) -> None:
    version = sorted(Path("/etc/postgresql").iterdir())[0].name
    subprocess.run([*CLUSTER, version, "main", action], check=True)  # noqa: S603


async def load(base: str, key: str, acknowledged: set[str], statuses: collections.Counter, stop: float) -> None:
    async def client(n: int) -> None:
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=15) as http:
            i = 0
            while time.monotonic() < stop:
                start = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=(n * 20_000 + i) * 10)
                body = {
                    "taskId": 253,
                    "userId": 11,
                    "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endTime": (start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "description": f"fault-{n}-{i}",
                }
                for _attempt in range(100):  # retry the same write, same key, until it is answered
                    try:
                        r = await http.post("/tasklog/create/", json=body, headers={"Idempotency-Key": f"f-{n}-{i}"})
                    except httpx.TransportError:
                        statuses["transport error"] += 1
                        await asyncio.sleep(0.5)
                        continue
                    statuses[r.status_code] += 1
                    if r.status_code == 503:  # not done yet: retry the same write, same key
                        await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                        continue
                    if r.status_code in (200, 409):
                        acknowledged.add(body["description"])
                    break
                i += 1

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))


async def readiness(base: str, seen: list[int], stop: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        while time.monotonic() < stop:
            try:
                seen.append((await http.get("/readyz")).status_code)
            except httpx.TransportError:
                seen.append(0)
            await asyncio.sleep(0.5)


async def outage(t0: float) -> None:
    await asyncio.sleep(OUTAGE[0])
    print(f"[{time.monotonic() - t0:5.1f}s] stopping PostgreSQL")
    await asyncio.to_thread(pg, "stop")
    await asyncio.sleep(OUTAGE[1] - OUTAGE[0])
    print(f"[{time.monotonic() - t0:5.1f}s] starting PostgreSQL")
    await asyncio.to_thread(pg, "start")


async def stored(url: str) -> list[str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT description FROM task_logs WHERE description LIKE 'fault-%'"))).all()
    await engine.dispose()
    return [r[0] for r in rows]


def main() -> int:
    url = asyncio.run(_create_database("tasklogs_fault"))
    acknowledged: set[str] = set()
    statuses: collections.Counter = collections.Counter()
    ready: list[int] = []
    with live_service(url, workers=2, db_pool_timeout_seconds="5", db_connect_timeout_seconds="2") as (base, key):
        t0 = time.monotonic()
        stop = t0 + DURATION

        async def run() -> None:
            await asyncio.gather(
                load(base, key, acknowledged, statuses, stop), readiness(base, ready, stop), outage(t0)
            )

        asyncio.run(run())
        rows = asyncio.run(stored(url))
    lost = acknowledged - set(rows)
    extra = set(rows) - acknowledged
    doubled = len(rows) - len(set(rows))
    print(f"answers: {dict(statuses)}")
    print(
        f"acknowledged writes: {len(acknowledged)}, stored: {len(rows)}, lost: {len(lost)}, "
        f"unacknowledged but stored: {len(extra)}, doubled: {doubled}"
    )
    print(f"/readyz: {collections.Counter(ready)} (503 during the outage, 200 after)")
    ok = (
        set(statuses) <= {200, 409, 503, "transport error"}
        and not lost
        and not extra
        and not doubled
        and 503 in ready
        and ready[-1] == 200
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
