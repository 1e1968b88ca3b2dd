"""wrk, the C load generator of the concurrency rows: installed when missing,
run with bench/create.lua, its figures read from the JSON line the script's
done() prints."""

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

SCRIPT = Path(__file__).resolve().parent / "create.lua"
# The first day of every run's logs (years before any history). Every run
# uses fresh writers, so all runs can start on the same day.
FIRST_DAY = date(2012, 1, 2)
# Four logs a day from FIRST_DAY: this many per connection reach today (then FUTURE_TIME answers).
MOST_PER_CONNECTION = (date(2026, 1, 1) - FIRST_DAY).days * 4


class Result(NamedTuple):
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int  # connect, read, write errors and timeouts
    non2xx: int
    non2xx_by_status: dict[str, int]
    first_error: str
    most_sent_per_connection: int
    # CPU time (user + system) the server's processes spent per request, set by the caller from /proc.
    cpu_ms_per_request: float = 0.0
    # The share of the whole machine's CPU time (all cores) that was busy during the run, set by the caller
    # from /proc/stat: near 1.0, a second worker has no core to run on.
    machine_busy: float = 0.0


def ensure_installed() -> str:
    """The path of wrk, installed with apt-get (Debian, as root) when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: apt-get update && apt-get install -y wrk", flush=True)
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed (the bench installs wrk as root on Debian; install it "
                f"yourself elsewhere): {done.stderr[-1500:]}"
            )
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("apt-get installed wrk but it is not on PATH")
    return found


def run(base_url: str, path: str, api_key: str | None, writers: list[tuple[int, int]], seconds: float) -> Result:
    """`len(writers)` connections for `seconds`, connection n posting new logs of writers[n] = (employee, task)."""
    if not base_url.startswith("http://127.0.0.1:"):
        raise ValueError("wrk only targets 127.0.0.1")
    connections = len(writers)
    base_epoch = int(datetime.combine(FIRST_DAY, datetime.min.time(), UTC).timestamp())
    pairs = ",".join(f"{employee}:{task}" for employee, task in writers)
    # One thread per connection: wrk's Lua hooks are per thread, not per connection (see create.lua).
    # --timeout 30s: a request slower than wrk's default 2 s would be dropped from the latencies.
    argv = [
        ensure_installed(),
        f"-t{connections}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "30s",
        "-s",
        str(SCRIPT),
        base_url,
        "--",
        path,
        api_key or "-",
        str(base_epoch),
        pairs,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-1500:]} {done.stderr[-1500:]}")
    raw = json.loads(line.removeprefix("WRK_RESULT "))
    if raw["connections"] != connections:
        raise RuntimeError(f"wrk ran {raw['connections']} threads, not {connections}")
    if raw["most_sent_per_connection"] >= MOST_PER_CONNECTION:
        raise RuntimeError("a wrk connection ran out of past days for new logs; shorten --duration")
    by_status: dict[str, int] = {}
    for counts in raw["non2xx_by_status"]:
        for status, count in counts.items():
            by_status[status] = by_status.get(status, 0) + count
    seconds_run = raw["duration_us"] / 1e6
    return Result(
        requests=raw["requests"],
        seconds=seconds_run,
        rps=raw["requests"] / seconds_run,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"],
        non2xx=raw["non2xx"],
        non2xx_by_status=by_status,
        first_error=raw["first_error"],
        most_sent_per_connection=raw["most_sent_per_connection"],
    )
