"""The benchmark: the service against a hand-written floor, side by side.

    .venv/bin/python -m bench.run                          # full run
    .venv/bin/python -m bench.run --quick                  # 3 repeats, 5 s load runs
    .venv/bin/python -m bench.run --only single --quick    # the concurrency rows only

It creates its own PostgreSQL database (dropped at the end), migrates it with
`tasklogs migrate`, creates a platform key with `tasklogs apikey create`,
loads the reference data and the logs with COPY, serves the service with
`tasklogs serve` (1 worker) and the floor (bench/floor.py) with uvicorn (1
worker), both on 127.0.0.1, and measures every row on both, interleaved.
The concurrency rows are loaded by wrk (bench/wrk.py, bench/create.lua),
also with 2 workers each and on an SQLite file.
Prints a table and writes bench/results/latest.json."""

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import asyncpg
import httpx

from bench import data, outbox, wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PY = sys.executable
T = TypeVar("T")


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tasklogs(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PY, "-m", "app.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tasklogs {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


def process_tree(pid: int) -> list[int]:
    """The pid and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def memory_kb(pid: int, field: str = "VmRSS") -> int:
    """Sum of a /proc/<pid>/status field over the process and its children."""
    total = 0
    for p in process_tree(pid):
        with suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine so far, every core (the `cpu` line of /proc/stat):
    idle and I/O wait are not busy; steal is, since the run could not have the core either."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = ticks[3] + ticks[4]
    return sum(ticks) - idle, sum(ticks)


class Server:
    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        ready_path: str,
        log: Path,
        *,
        create_path: str = "/tasklog/create/",
        api_key: str | None = None,
    ) -> None:
        self.name, self.port = name, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        # What wrk posts single creates to, and the X-API-Key it sends (None: no header).
        self.create_path, self.api_key = create_path, api_key
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while True:
            with suppress(httpx.TransportError):
                if httpx.get(self.base + ready_path, timeout=2).status_code == 200:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start; see {log}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's spawned workers, or the process itself with 1 worker."""
        workers = []
        for pid in process_tree(self.pid):
            with suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    workers.append(pid)
        return workers or [self.pid]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# ---------------------------------------------------------------- measuring


class ExportRun(NamedTuple):
    """One export read to its end."""

    seconds: float
    rss_growth_kb: int
    server_cpu_s: float
    client_cpu_s: float


# Requests of each side per repeat, taken turn about, for rows of a few milliseconds (the employee month).
SHORT_REQUEST_BURST = 20
# The statements of a single create's transaction on PostgreSQL, for the stack's floor at as many round
# trips: the plan setting (GenericPlansSession), its tasks and employees, the period locks, the insert
# with the nearby logs, the history with its outbox rows. Between BEGIN and COMMIT, as the stack's floor's.
CREATE_STATEMENTS = 5
# Requests of each side, taken turn about, per repeat of the bulk rows with a target (1,000 items).
BULK_TURNS = 5
# Seconds of the warm-up wrk run before a concurrency row's measured runs.
WRK_WARMUP_SECONDS = 3.0


def judged(row: dict, target: str, ratio: float | None, limit: float, *, at_least: bool) -> dict:
    """Sets the row's target text and verdict: `ratio` against `limit` (at least or at most); `use` is the
    share of the target used (above 1: not met), which picks the row to profile."""
    row["target"] = target
    if ratio is None:
        row["met"] = None
        return row
    row["met"] = ratio >= limit if at_least else ratio <= limit
    row["use"] = limit / ratio if at_least else ratio / limit
    return row


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def on_connection(dsn: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """`work` on a connection of its own to `dsn` (the bench's own SQL beside the services), closed after."""
    conn = await asyncpg.connect(dsn)
    try:
        return await work(conn)
    finally:
        await conn.close()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.repeats = args.repeats or (3 if args.quick else 5)
        self.warmup = 1
        self.duration = args.duration or (5.0 if args.quick else 10.0)
        self.rows: list[dict[str, Any]] = []
        self.extra: dict[str, Any] = {}
        self.workloads: dict[str, Callable[[], Any]] = {}
        # Loads that run for a given number of seconds and answer how many requests they made (wrk).
        self.load_workloads: dict[str, Callable[[float], int]] = {}
        self.next_writer = data.WRITER_BASE
        self.ours: Server
        self.floor: Server
        self.http = httpx.Client(timeout=120)
        self.key = ""
        self.dsn = ""  # the bench database, for the counts the rows check against
        self.env: dict[str, str] = {}  # the service's environment, for servers started by a row
        # Per server name, per wrk run: CPU seconds each worker process spent (servers of 2 workers).
        self.worker_cpu: dict[str, list[dict[int, float]]] = {}

    def writer(self, count: int = 1) -> int:
        first = self.next_writer
        self.next_writer += count
        if self.next_writer > data.WRITER_BASE + data.WRITERS:
            raise RuntimeError("out of writer employees; raise data.WRITERS")
        return first

    # One request, timed from sending to the last byte of the answer.
    def request(self, method: str, url: str, *, ours: bool, expect: int = 200, **kw: Any) -> tuple[float, Any]:
        headers = {"X-API-Key": self.key} if ours else {}
        started = time.perf_counter()
        answer = self.http.request(method, url, headers=headers, **kw)
        body = answer.content
        elapsed = time.perf_counter() - started
        if answer.status_code != expect:
            raise RuntimeError(f"{method} {url}: {answer.status_code} {body[:500]!r}")
        return elapsed, answer

    def pair(
        self,
        key: str,
        title: str,
        ours: Callable[[], float],
        floor: Callable[[], float],
        *,
        target: float | None = None,
        note: str = "",
        check: Callable[[], None] | None = None,
        judge: Callable[[dict], None] | None = None,
        alternating: int = 1,
    ) -> dict:
        """Median of `repeats` runs of each (after `warmup`), interleaved and alternating in order.

        With `alternating=N`, a repeat is N requests of each side taken turn
        about (ours, floor, ours, ...; the next repeat starts with the floor),
        and its figure each side's median of those N. A request of ten
        milliseconds is at the mercy of the shared machine's moment: taken
        turn about, a slow moment of the machine lands on both sides alike
        instead of on one side's whole repeat."""
        times: dict[str, list[float]] = {"ours": [], "floor": []}
        for rep in range(self.warmup + self.repeats):
            order = [("ours", ours), ("floor", floor)] if rep % 2 == 0 else [("floor", floor), ("ours", ours)]
            taken: dict[str, list[float]] = {"ours": [], "floor": []}
            for _ in range(alternating):
                for name, fn in order:
                    taken[name].append(fn())
            if rep >= self.warmup:
                for name, elapsed in taken.items():
                    times[name].append(median(elapsed))
        if check:
            check()
        row = {
            "key": key,
            "title": title,
            "unit": "ms",
            "ours": median(times["ours"]) * 1000,
            "floor": median(times["floor"]) * 1000,
            "ours_all_ms": [t * 1000 for t in times["ours"]],
            "floor_all_ms": [t * 1000 for t in times["floor"]],
            "target_ratio": target,
            "note": note,
            "profile": key,
        }
        row["ratio"] = row["ours"] / row["floor"]
        if target is None:
            row["met"] = None
        else:
            judged(row, f"<= {target:g}x floor", row["ratio"], target, at_least=False)
        if judge:
            judge(row)
        self.workloads[key] = ours
        self._add(row)
        return row

    def _add(self, row: dict) -> None:
        self.rows.append(row)
        print(format_row(row), flush=True)

    # ------------------------------------------------------------ row 4

    def timesheets(self, size: str) -> None:
        first, last = (d.isoformat() for d in data.REPORT_MONTH)
        emp = data.REPORT_EMPLOYEE
        ours_url = f"/timesheets/?employeeId={emp}&startDate={first}&endDate={last}"
        floor_url = f"/floor/timesheet/{emp}?start={first}&end={last}&tz={data.TIMEZONE}"
        available = self.http.get(f"{self.ours.base}/openapi.json").json()["paths"].get("/timesheets/")
        if not available:
            for key, title in (
                (f"timesheet_employee_month_{size}", f"Timesheet month, 1 employee, {size} logs"),
                (f"timesheet_company_month_{size}", f"Company month, 200 employees, {size} logs"),
            ):
                self._add(
                    {
                        "key": key,
                        "title": title,
                        "unit": "ms",
                        "ours": None,
                        "floor": None,
                        "ratio": None,
                        "met": None,
                        "note": "not available yet (no GET /timesheets/)",
                    }
                )
            return
        seen: dict[str, Any] = {}

        def ours_once() -> float:
            elapsed, answer = self.request("GET", self.ours.base + ours_url, ours=True)
            seen["ours"] = answer.json()["data"]["total"]["totalSeconds"]
            return elapsed

        def floor_once() -> float:
            elapsed, answer = self.request("GET", self.floor.base + floor_url, ours=False)
            seen["floor"] = sum(r["seconds"] for r in answer.json())
            return elapsed

        def same() -> None:
            if seen["ours"] != seen["floor"]:
                raise RuntimeError(f"timesheet totals differ: service {seen['ours']} s, floor {seen['floor']} s")

        # A request of 2-4 ms timed alone is at the mercy of the scheduler on a
        # shared machine: a repeat of this row is the median of 20 requests of
        # each side, taken turn about, so that a slow moment lands on both.
        self.pair(
            f"timesheet_employee_month_{size}",
            f"Timesheet month, 1 employee, {size} logs",
            ours_once,
            floor_once,
            target=2.0,
            check=same,
            note="also < 50 ms",
            alternating=SHORT_REQUEST_BURST,
        )
        self.rows[-1]["met"] = self.rows[-1]["met"] and self.rows[-1]["ours"] < 50
        self.rows[-1]["target"] += ", < 50 ms"
        company_ours = f"/api/company/{data.COMPANY_ID}/working-hours/?start_date={first}&end_date={last}"
        company_floor = f"/floor/company/{data.COMPANY_ID}?start={first}&end={last}&tz={data.TIMEZONE}"

        def ours_company() -> float:
            elapsed, answer = self.request("GET", self.ours.base + company_ours, ours=True)
            body = answer.json()["data"]
            seen["ours"], seen["ours_rows"] = body["total"]["totalSeconds"], len(body["rows"])
            return elapsed

        def floor_company() -> float:
            elapsed, answer = self.request("GET", self.floor.base + company_floor, ours=False)
            rows = answer.json()
            seen["floor"], seen["floor_rows"] = sum(r["seconds"] for r in rows), len({r["user_id"] for r in rows})
            return elapsed

        def same_company() -> None:
            same()
            if seen["ours_rows"] != data.EMPLOYEES or seen["floor_rows"] != data.EMPLOYEES:
                raise RuntimeError(f"company month: {seen['ours_rows']} / {seen['floor_rows']} employees")

        self.pair(
            f"timesheet_company_month_{size}",
            f"Company month, 200 employees, {size} logs",
            ours_company,
            floor_company,
            target=2.0,
            check=same_company,
        )

    # ------------------------------------------------------------ row 3

    def task_logs(self) -> None:
        for task, count, target in ((data.TASK_1K, 1000, None), (data.TASK_10K, 10_000, 2.0)):

            def ours(task: int = task, count: int = count) -> float:
                elapsed, answer = self.request("GET", f"{self.ours.base}/taskLogs/task/{task}/", ours=True)
                assert len(answer.json()["data"]) == count
                return elapsed

            def floor(task: int = task, count: int = count) -> float:
                elapsed, answer = self.request("GET", f"{self.floor.base}/floor/task/{task}", ours=False)
                assert len(answer.json()) == count
                return elapsed

            self.pair(f"task_logs_{count}", f"GET task logs, task with {count:,} logs", ours, floor, target=target)

    # ------------------------------------------------------------ part 9: search and export

    def _search_params(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The employee's month: ours as dates in the company's zone, the floor's as the same UTC instants."""
        first, last = data.REPORT_MONTH
        start, end = data.search_month()
        ours = {
            "employeeId": data.SEARCH_EMPLOYEE,
            "from": first.isoformat(),
            "to": (last + timedelta(days=1)).isoformat(),
            "timezone": data.TIMEZONE,  # a platform key reads dates in UTC otherwise
            "limit": 1000,
        }
        return ours, {"start": start.isoformat(), "end": end.isoformat(), "limit": 1000}

    def _search_page(self, cursor: str | None, *, ours: bool) -> tuple[float, list[int], str | None]:
        """One page of 1,000 of the search employee's month: time, ids, next cursor."""
        ours_params, floor_params = self._search_params()
        if ours:
            params = ours_params | ({"cursor": cursor} if cursor else {})
            elapsed, answer = self.request("GET", f"{self.ours.base}/tasklogs/", ours=True, params=params)
            body = answer.json()
            return elapsed, [log["taskLogId"] for log in body["data"]], body["nextCursor"]
        params = floor_params | ({"after": cursor} if cursor else {})
        url = f"{self.floor.base}/floor/search/{data.SEARCH_EMPLOYEE}"
        elapsed, answer = self.request("GET", url, ours=False, params=params)
        body = answer.json()
        return elapsed, [log["id"] for log in body["data"]], body["next"]

    def search_first_page(self, size: str) -> None:
        """The first page of 1,000 of one employee's month, against the floor's keyset SELECT; on 1M also
        against ours on 100k (flat: the page costs the same whatever the table's size)."""
        seen: dict[str, list[int]] = {}

        def side(name: str) -> Callable[[], float]:
            def once() -> float:
                elapsed, ids, _next = self._search_page(None, ours=name == "ours")
                seen[name] = ids
                return elapsed

            return once

        def same() -> None:
            if len(seen["ours"]) != 1000 or seen["ours"] != seen["floor"]:
                raise RuntimeError(
                    f"first page: service {len(seen['ours'])} logs from {seen['ours'][:1]}, "
                    f"floor {len(seen['floor'])} from {seen['floor'][:1]}"
                )

        row = self.pair(
            f"search_first_page_{size}",
            f"GET /tasklogs/ first page of 1,000, employee month, {size} logs",
            side("ours"),
            side("floor"),
            target=1.5,
            check=same,
            alternating=SHORT_REQUEST_BURST // 2,
        )
        small = next((r for r in self.rows if r["key"] == "search_first_page_100k"), None)
        if size != "100k" and small is not None:
            growth = row["ours"] / small["ours"]
            row["ours_over_100k"] = growth
            row["floor_over_100k"] = row["floor"] / small["floor"]
            row["target"] += f", flat: ours <= 1.25x ours on 100k ({growth:.2f}x)"
            row["met"] = bool(row["met"]) and growth <= 1.25
            row["note"] = f"floor on 1M / on 100k: {row['floor_over_100k']:.2f}x"
            print(f"  flat: ours {growth:.2f}x its 100k figure, floor {row['floor_over_100k']:.2f}x", flush=True)

    def search_month_pages(self) -> None:
        """The employee's whole month followed page by page, 10 pages of 1,000, each with the previous
        page's cursor."""
        seen: dict[str, list[int]] = {}

        def side(name: str) -> Callable[[], float]:
            def walk() -> float:
                total, cursor, ids, pages = 0.0, None, [], 0
                while True:
                    elapsed, page, cursor = self._search_page(cursor, ours=name == "ours")
                    total, pages = total + elapsed, pages + 1
                    ids += page
                    if cursor is None or pages > 20:
                        break
                seen[name] = ids
                return total

            return walk

        def same() -> None:
            ours, floor = seen["ours"], seen["floor"]
            if len(ours) != data.SEARCH_LOGS or len(set(ours)) != len(ours) or ours != floor:
                raise RuntimeError(f"month walk: service {len(ours)} logs, floor {len(floor)}")

        self.pair(
            "search_month_10_pages",
            "GET /tasklogs/ whole month, 10 pages of 1,000, 1M logs",
            side("ours"),
            side("floor"),
            target=1.5,
            check=same,
            alternating=3,
        )

    def task_logs_median_of_three(self) -> None:
        """`GET /taskLogs/task/{id}/` of 10,000 logs, three runs of the row (each the median of its
        repeats, interleaved with the floor): the target is on the median of the three ratios."""
        runs = []
        for n in (1, 2, 3):

            def ours() -> float:
                elapsed, answer = self.request("GET", f"{self.ours.base}/taskLogs/task/{data.TASK_10K}/", ours=True)
                assert len(answer.json()["data"]) == 10_000
                return elapsed

            def floor() -> float:
                elapsed, answer = self.request("GET", f"{self.floor.base}/floor/task/{data.TASK_10K}", ours=False)
                assert len(answer.json()) == 10_000
                return elapsed

            runs.append(self.pair(f"task_logs_10000_run{n}", f"GET task logs, 10,000 logs, run {n} of 3", ours, floor))
        ratios = [r["ratio"] for r in runs]
        row = {
            "key": "task_logs_10000_median3",
            "title": "GET task logs, 10,000 logs: median of the 3 runs",
            "unit": "ms",
            "ours": median([r["ours"] for r in runs]),
            "floor": median([r["floor"] for r in runs]),
            "ratio": median(ratios),
            "run_ratios": ratios,
            "note": "ratios " + ", ".join(f"{r:.2f}x" for r in ratios),
            "profile": "task_logs_10000_run1",
        }
        self._add(judged(row, "<= 1.5x floor (median of 3)", row["ratio"], 1.5, at_least=False))

    def _export_once(self, server: Server, url: str, params: dict[str, Any], expected: int) -> ExportRun:
        """One export read to its end: seconds, the server's RSS growth in kB (peak VmHWM over the
        export, reset before it through /proc/<pid>/clear_refs, minus VmRSS before it), and the CPU
        seconds the server and this client spent on it."""
        for pid in process_tree(server.pid):
            with suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        before = memory_kb(server.pid)
        server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
        lines = 0
        headers = {"X-API-Key": server.api_key} if server.api_key else {}
        started = time.perf_counter()
        with self.http.stream("GET", server.base + url, params=params, headers=headers) as answer:
            if answer.status_code != 200:
                raise RuntimeError(f"export on {server.name}: {answer.status_code} {answer.read()[:300]!r}")
            for chunk in answer.iter_raw(1 << 20):
                lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        if lines != expected:
            raise RuntimeError(f"export on {server.name}: {lines} lines, {expected} logs in the database")
        return ExportRun(
            elapsed,
            memory_kb(server.pid, "VmHWM") - before,
            cpu_seconds(server.pid) - server_cpu,
            time.process_time() - client_cpu,
        )

    def export_million(self) -> None:
        """`GET /tasklogs/export/?format=ndjson` of every generated log (1,000,000, the service started with
        TASKLOGS_EXPORT_MAX_DAYS=800 for a window of two years), against the floor's keyset batches: logs
        per second, and how much the service's RSS grows while it streams."""
        start, end = "2024-11-01T00:00:00Z", "2026-12-01T00:00:00Z"

        sql = "SELECT count(*) FROM task_logs WHERE start_time < $2 AND end_time > $1"
        window = (datetime.fromisoformat(start), datetime.fromisoformat(end))
        expected = int(asyncio.run(on_connection(self.dsn, lambda conn: conn.fetchval(sql, *window))))
        ours_params = {"from": start, "to": end, "format": "ndjson"}
        floor_params = {"start": start, "end": end}
        # The strictest case for memory first: the export as the first request of a fresh service process.
        fresh = self._serve_ours(self.env, "service (fresh, export)", 1, RESULTS / "service-export.log")
        try:
            first = self._export_once(fresh, "/tasklogs/export/", ours_params, expected)
        finally:
            fresh.stop()
        runs: dict[str, list[ExportRun]] = {"ours": [], "floor": []}
        growth: dict[str, list[int]] = {"ours": [first.rss_growth_kb], "floor": []}
        sides = [
            ("ours", self.ours, "/tasklogs/export/", ours_params),
            ("floor", self.floor, "/floor/export", floor_params),
        ]
        for rep in range(self.warmup + self.repeats):
            for name, server, url, params in sides if rep % 2 == 0 else sides[::-1]:
                run = self._export_once(server, url, params, expected)
                if rep >= self.warmup:
                    runs[name].append(run)
                # Memory counts the warm-up too: the first export on the process is the one that may grow it.
                growth[name].append(run.rss_growth_kb)
        times = {side: [r.seconds for r in done] for side, done in runs.items()}
        # CPU per 1,000 logs: what the rate would be on a core of its own, whatever else the machine runs.
        cpu = {side: median([r.server_cpu_s for r in done]) / expected * 1e6 for side, done in runs.items()}
        client_cpu = median([r.client_cpu_s for r in runs["ours"]])
        rate = {side: expected / median(values) for side, values in times.items()}
        row = {
            "key": "export_1M_ndjson",
            "title": f"Export {expected:,} logs as NDJSON: logs/s",
            "unit": "logs/s",
            "ours": rate["ours"],
            "floor": rate["floor"],
            "ratio": rate["ours"] / rate["floor"],
            "ours_all_s": times["ours"],
            "floor_all_s": times["floor"],
            "note": (
                f"{median(times['ours']):.1f} s, floor {median(times['floor']):.1f} s; server CPU per 1,000 logs "
                f"{cpu['ours']:.1f} ms, floor {cpu['floor']:.1f} ms; client CPU {client_cpu:.1f} s"
            ),
            "server_cpu_ms_per_1000": cpu,
            "client_cpu_s": client_cpu,
            "profile": "export_1M_ndjson",
        }
        self._add(judged(row, ">= 100,000 logs/s (ours)", rate["ours"], 100_000, at_least=True))
        most = max(growth["ours"]) / 1024
        memory = {
            "key": "export_1M_ndjson_rss",
            "title": f"Export {expected:,} logs as NDJSON: RSS growth",
            "unit": "MB",
            "ours": most,
            "floor": max(growth["floor"]) / 1024,
            "ratio": None,
            "ours_all_kb": growth["ours"],
            "ours_fresh_process_kb": first.rss_growth_kb,
            "floor_all_kb": growth["floor"],
            "note": (
                "peak VmHWM during the export minus VmRSS before it, largest of the runs: the first request of a "
                f"fresh process {first.rss_growth_kb / 1024:.1f} MB, then on the bench's service (warm-up "
                f"included); that service's RSS {memory_kb(self.ours.pid) / 1024:.0f} MB after the exports"
            ),
        }
        self._add(judged(memory, "< 50 MB (ours)", most, 50, at_least=False))
        self.workloads["export_1M_ndjson"] = lambda: (
            self._export_once(self.ours, "/tasklogs/export/", ours_params, expected).seconds
        )

    # ------------------------------------------------------------ row 1

    def bulk(self) -> None:
        fit_sizes = [] if self.args.quick else [10, 250, 500]
        for size in [100, 1000, 10_000, *fit_sizes]:
            self._bulk_size(size, dup=size in (100, 1000, 10_000))
        self.fit()
        self._bulk_size(10_000, dup=False, one_request=True)

    def _bulk_size(self, size: int, *, dup: bool, one_request: bool = False) -> None:
        # The service takes up to TASKLOGS_BULK_MAX_ITEMS (10,000 in the bench, 1,000 by default) per request;
        # the chunked rows send 1,000 at a time, as a client under the default limit would.
        chunks, per = (1, size) if one_request else (max(1, size // 1000), min(size, 1000))
        batches: dict[str, list[tuple[int, list[dict]]]] = {"ours": [], "floor": []}

        def send(server: str, employee: int, items: list[dict], *, dup: bool) -> float:
            if server == "ours":
                url = f"{self.ours.base}/tasklogs/bulk/create/{employee}/"
            else:
                url = f"{self.floor.base}/floor/bulk/{employee}"
            total = 0.0
            for c in range(chunks):
                chunk = items[c * per : (c + 1) * per]
                self.fresh_statistics()
                elapsed, answer = self.request("POST", url, ours=server == "ours", json=chunk)
                body = answer.json()
                got = body["data"] if server == "ours" else body
                created = len(got["created"])
                skipped = len(got["skipped"]) if server == "ours" else got["skipped"]
                want = (0, len(chunk)) if dup else (len(chunk), 0)
                if (created, skipped) != want:
                    raise RuntimeError(f"bulk on {server}: created {created}, skipped {skipped}, want {want}")
                total += elapsed
            return total

        def fresh(server: str) -> float:
            employee = self.writer()
            items = data.writer_logs(employee, size)
            if dup:
                batches[server].append((employee, items))
            return send(server, employee, items, dup=False)

        def again(server: str) -> float:
            employee, items = batches[server].pop(0)
            return send(server, employee, items, dup=True)

        if one_request:
            # Target against ours' own 1,000-item request: the cost stays linear up to the largest request.
            def against_thousand(row: dict) -> None:
                thousand = next((r for r in self.rows if r["key"] == "bulk_1000"), None)
                own = row["ours"] / thousand["ours"] if thousand else None
                judged(
                    row,
                    f"<= 10.5x ours 1,000 ({own:.2f}x)" if own else "<= 10.5x ours 1,000",
                    own,
                    10.5,
                    at_least=False,
                )
                row["ours_over_1000"] = own
                row["profile"] = None  # the target is not against the floor

            self.pair(
                f"bulk_{size}_one",
                f"Bulk create {size:,} new logs in one request",
                lambda: fresh("ours"),
                lambda: fresh("floor"),
                judge=against_thousand,
            )
            return
        label = f"{size:,}" if chunks == 1 else f"{size:,} in chunks of 1,000"
        target = 2.5 if size == 1000 else None
        # The target rows take BULK_TURNS requests of each side turn about per
        # repeat (see `pair`): one request a side moved their ratio by 0.2x
        # from run to run, about as much as the margin to the target.
        alternating = BULK_TURNS if target is not None else 1
        self.pair(
            f"bulk_{size}",
            f"Bulk create {label} new logs",
            lambda: fresh("ours"),
            lambda: fresh("floor"),
            target=target,
            alternating=alternating,
        )
        if dup:
            self.pair(
                f"bulk_{size}_dup",
                f"Bulk re-send {label} (all duplicates)",
                lambda: again("ours"),
                lambda: again("floor"),
                target=target,
                alternating=alternating,
            )

            def profiled_again() -> float:
                fresh("ours")
                return again("ours")

            self.workloads[f"bulk_{size}_dup"] = profiled_again

    def fit(self) -> None:
        """Least squares time = fixed + per_row x n over the single-request batch sizes."""
        fits = {}
        for side in ("ours", "floor"):
            points = [
                (int(r["key"].split("_")[1]), r[side])
                for r in self.rows
                if r["key"].startswith("bulk_") and r["key"].count("_") == 1 and r["key"] != "bulk_10000"
            ]
            n = [p[0] for p in points]
            t = [p[1] for p in points]
            mean_n, mean_t = statistics.fmean(n), statistics.fmean(t)
            slope = sum((a - mean_n) * (b - mean_t) for a, b in zip(n, t, strict=True)) / sum(
                (a - mean_n) ** 2 for a in n
            )
            fixed = mean_t - slope * mean_n
            predicted = [fixed + slope * a for a in n]
            ss_res = sum((b - p) ** 2 for b, p in zip(t, predicted, strict=True))
            ss_tot = sum((b - mean_t) ** 2 for b in t) or 1.0
            fits[side] = {"sizes": n, "per_row_us": slope * 1000, "fixed_ms": fixed, "r2": 1 - ss_res / ss_tot}
        by_key = {r["key"]: r for r in self.rows}
        for side in ("ours", "floor"):
            fits[side]["chunked_10000_over_10x1000"] = by_key["bulk_10000"][side] / (10 * by_key["bulk_1000"][side])
        self.extra["bulk_fit"] = fits
        for side in ("ours", "floor"):
            f = fits[side]
            print(
                f"  bulk fit {side:5}: {f['per_row_us']:.1f} us/row + {f['fixed_ms']:.1f} ms fixed "
                f"(R^2 {f['r2']:.3f}, sizes {f['sizes']}); 10,000 in chunks / (10 x 1,000) = "
                f"{f['chunked_10000_over_10x1000']:.2f}",
                flush=True,
            )

    # ------------------------------------------------------------ row 2: single creates under wrk

    def fresh_statistics(self) -> None:
        """An untimed ANALYZE before each wrk run and each bulk request, as autovacuum keeps statistics
        fresh on a live database; this machine's PostgreSQL runs without it. The write rows grow their
        tables from nothing in seconds, and a pooled connection keeps a plan made while its table was small
        until an ANALYZE replaces it: with the log table empty at the start of `--only single`, some
        connections' duplicate check stayed a hash join over a sequential scan of every log (1,938 scans,
        38 million rows read in one run); the bulk rows the same with `--only bulk` (12.9 of a 1,000-item
        request's 41 ms in that scan). The request after it plans its statements again, inside its time:
        a little against ours, which runs several statements where the floor runs one."""

        asyncio.run(on_connection(self.dsn, lambda conn: conn.execute("ANALYZE")))

    def wrk_run(self, server: Server, layout: str, seconds: float) -> wrk.Result:
        """One wrk run of 32 connections, each with a fresh writer: on the shared project (one task per
        connection) or on its own project ("spread"). Any non-2xx answer or socket error fails the run."""
        first = self.writer(data.CONNECTIONS)
        task_of = data.shared_project_task if layout == "shared" else data.spread_project_task
        writers = [(first + c, task_of(c)) for c in range(data.CONNECTIONS)]
        self.fresh_statistics()
        workers = server.worker_pids()
        cpu_before = {pid: cpu_seconds(pid) for pid in workers}
        busy_before, all_before = machine_cpu_ticks()
        result = wrk.run(server.base, server.create_path, server.api_key, writers, seconds)
        busy_after, all_after = machine_cpu_ticks()
        cpu_spent = {pid: cpu_seconds(pid) - cpu_before[pid] for pid in workers}
        result = result._replace(
            cpu_ms_per_request=sum(cpu_spent.values()) * 1000 / max(result.requests, 1),
            machine_busy=(busy_after - busy_before) / max(all_after - all_before, 1),
        )
        if len(workers) > 1:
            self.worker_cpu.setdefault(server.name, []).append(cpu_spent)
        if result.non2xx or result.socket_errors:
            raise RuntimeError(
                f"wrk on {server.name}: {result.non2xx} non-2xx answers {result.non2xx_by_status}, "
                f"{result.socket_errors} socket errors; first answer: {result.first_error}"
            )
        return result

    def wrk_pair(self, ours: Server, floor: Server, layout: str) -> dict[str, list[wrk.Result]]:
        """A warm-up run, then `repeats` runs of each side, interleaved and alternating which goes first."""
        runs: dict[str, list[wrk.Result]] = {"ours": [], "floor": []}
        sides = [("ours", ours), ("floor", floor)]
        for rep in range(self.warmup + self.repeats):
            for name, server in sides if rep % 2 == 0 else sides[::-1]:
                result = self.wrk_run(server, layout, WRK_WARMUP_SECONDS if rep < self.warmup else self.duration)
                if rep >= self.warmup:
                    runs[name].append(result)
        return runs

    def wrk_alone(self, server: Server, layout: str) -> list[wrk.Result]:
        """A warm-up run, then `repeats` runs of one server on its own."""
        runs = [
            self.wrk_run(server, layout, WRK_WARMUP_SECONDS if rep < self.warmup else self.duration)
            for rep in range(self.warmup + self.repeats)
        ]
        return runs[self.warmup :]

    def single_one(self) -> float:
        """One single create at a time (for the SQL breakdown of the profile step)."""
        employee = self.writer()
        item = {**data.writer_logs(employee, 1)[0], "userId": employee}
        return self.request("POST", f"{self.ours.base}/tasklog/create/", ours=True, json=item)[0]

    def _load_row(self, key: str, title: str, metric: str, runs: dict[str, list[wrk.Result]]) -> dict:
        """A row of one wrk metric (rps, p50_ms, p99_ms): the median over the measured runs of each side."""
        ours_all = [getattr(r, metric) for r in runs["ours"]]
        floor_all = [getattr(r, metric) for r in runs["floor"]]
        ours, floor = median(ours_all), (median(floor_all) if floor_all else None)
        note = f"{self.duration:g} s runs"
        if metric == "rps":
            busy = [f"{side} {median(r.machine_busy for r in runs[side]):.0%}" for side in runs if runs[side]]
            note += f"; machine's {os.cpu_count()} cores busy: {', '.join(busy)}"
        return {
            "key": key,
            "title": title,
            "unit": "req/s" if metric == "rps" else "ms",
            "ours": ours,
            "floor": floor,
            "ratio": ours / floor if floor else None,
            "ours_all": ours_all,
            "floor_all": floor_all,
            "met": None,
            "note": note,
        }

    def _floor_rows(self, key: str, title: str, runs: dict[str, list[wrk.Result]]) -> dict:
        """requests/s (>= 0.2x the floor's) and p99 (<= 5x the floor's), p50 in the note; answers the rps row."""
        rps = self._load_row(f"{key}_rps", f"{title}: requests/s", "rps", runs)
        judged(rps, ">= 0.2x floor", rps["ratio"], 0.2, at_least=True)
        p99 = self._load_row(f"{key}_p99", f"{title}: p99", "p99_ms", runs)
        judged(p99, "<= 5x floor", p99["ratio"], 5.0, at_least=False)
        p50 = self._load_row(f"{key}_p50", "", "p50_ms", runs)
        p99["note"] += f"; p50 {p50['ours']:.1f} ms, floor {p50['floor']:.1f} ms"
        p99["p50"] = {"ours": p50["ours"], "floor": p50["floor"]}
        # The service's own CPU per create (its workers' user + system time from /proc over the run,
        # PostgreSQL and wrk not included): the budget is 0.8 ms.
        cpu = self._load_row(f"{key}_cpu", f"{title}: service CPU per create", "cpu_ms_per_request", runs)
        judged(cpu, "<= 0.8 ms (ours)", cpu["ours"], 0.8, at_least=False)
        for row in (rps, p99, cpu):
            self._add(row)
        return rps

    def concurrency(self, env: dict[str, str]) -> None:
        """Single creates at 32 connections under wrk: 32 writers on one project, then on 32 projects (1 worker,
        then 2 workers, service and floor alike), then the service on an SQLite file. A row whose runs fail
        (a non-2xx answer, a socket error) is reported as failed and the others still run."""
        self.extra["wrk_runs"] = {}
        self._guarded(
            "single_shared",
            "Single create, 32 conn., 1 project, 1 worker",
            lambda key, title: self.one_worker(key, title, "shared"),
        )
        one_worker = self._guarded(
            "single_spread",
            "Single create, 32 conn., 32 projects, 1 worker",
            lambda key, title: self.one_worker(key, title, "spread"),
        )
        self.load_workloads["single"] = lambda seconds: self.wrk_run(self.ours, "spread", seconds).requests
        self.workloads["single_one"] = self.single_one
        if one_worker is None:
            return  # the next rows are judged against this one's figure
        for row in self.rows[-2:]:
            row["profile"] = "single"  # py-spy while wrk loads this row (--profile single)
        self._guarded(
            "single_spread_stack",
            "Single create, 32 conn., 32 projects, the stack's floor",
            lambda key, title: self.stack_floor_row(key, title, env, one_worker, statements=1),
        )
        self._guarded(
            "single_spread_stack5",
            f"Single create, 32 conn., 32 projects, the stack's floor at {CREATE_STATEMENTS} statements",
            lambda key, title: self.stack_floor_row(key, title, env, one_worker, statements=CREATE_STATEMENTS),
        )
        self._guarded(
            "single_spread_2w",
            "Single create, 32 conn., 32 projects, 2 workers",
            lambda key, title: self.two_workers(key, title, env, one_worker["ours"]),
        )
        self._guarded(
            "single_sqlite",
            "Single create, 32 conn., 32 projects, SQLite",
            lambda key, title: self.sqlite_row(key, title, env, one_worker["ours"]),
        )

    def stack_floor_row(self, key: str, title: str, env: dict[str, str], one_worker: dict, *, statements: int) -> None:
        """bench/stack_floor.py (FastAPI, Pydantic, an SQLAlchemy session, one INSERT; 1 worker) on the
        32-project layout, after the service's row and against that row's floor: what the fixed stack
        costs before any of our code runs; with `statements` > 1, one-row reads before the INSERT, what
        it costs at that many round trips. For reference, no target."""
        server = Server(
            f"stack floor, {statements} statements",
            [
                *[PY, "-m", "uvicorn", "bench.stack_floor:app", "--host", "127.0.0.1", "--port", "{port}"],
                *["--workers", "1", "--log-level", "warning", "--no-access-log"],
            ],
            {**env, "BENCH_STACK_STATEMENTS": str(statements)},
            "/stack/ready",
            RESULTS / f"stack-floor-{statements}.log",
            create_path="/stack/create",
        )
        try:
            runs = {"ours": self.wrk_alone(server, "spread"), "floor": []}
        finally:
            server.stop()
        self._keep_runs(key.removeprefix("single_"), runs)
        rps = self._load_row(f"{key}_rps", f"{title}: requests/s", "rps", runs)
        rps["floor"] = one_worker["floor"]
        rps["ratio"] = rps["ours"] / rps["floor"]
        rps["note"] += f"; the service's rate is {one_worker['ours'] / rps['ours']:.2f}x this"
        self._add(rps)
        cpu = self._load_row(f"{key}_cpu", f"{title}: CPU per create", "cpu_ms_per_request", runs)
        service_cpu = next(r for r in self.rows if r["key"] == "single_spread_cpu")
        cpu["floor"] = service_cpu["floor"]
        cpu["ratio"] = cpu["ours"] / cpu["floor"]
        cpu["note"] += f"; the service's is {service_cpu['ours']:.2f} ms"
        self._add(cpu)

    def one_worker(self, key: str, title: str, layout: str) -> dict:
        """A row of the 1-worker service against the 1-worker floor, interleaved; answers its rps row."""
        runs = self.wrk_pair(self.ours, self.floor, layout)
        self._keep_runs(f"{layout}_1w", runs)
        return self._floor_rows(key, title, runs)

    def _keep_runs(self, name: str, runs: dict[str, list[wrk.Result]]) -> None:
        """Every measured wrk run's figures, for the JSON."""
        self.extra["wrk_runs"][name] = {side: [r._asdict() for r in results] for side, results in runs.items()}

    def _guarded(self, key: str, title: str, rows: Callable[[str, str], dict | None]) -> dict | None:
        """rows(key, title), or a FAILED row when its runs fail."""
        try:
            return rows(key, title)
        except RuntimeError as exc:
            print(f"  {title} failed: {exc}", flush=True)
            self._add(
                {
                    "key": f"{key}_rps",
                    "title": f"{title}: requests/s",
                    "unit": "req/s",
                    "ours": None,
                    "floor": None,
                    "ratio": None,
                    "met": False,
                    "note": f"FAILED: {str(exc)[:300]}",
                }
            )
            return None

    def two_workers(self, key: str, title: str, env: dict[str, str], one_worker_rps: float) -> None:
        """The 32-project row on a service and a floor of 2 workers each, started for it. One server at a
        time (not interleaved): two 2-worker servers with full pools next to the 1-worker ones would take
        10 + 20 + 40 + 40 connections of PostgreSQL's 100, which the machine shares with other test runs."""
        runs: dict[str, list[wrk.Result]] = {}
        shares: list[float] = []
        for side, start in (("ours", self._serve_ours), ("floor", self._serve_floor)):
            server = start(
                env,
                f"{'service' if side == 'ours' else 'floor'} 2 workers",
                2,
                RESULTS / f"{'service' if side == 'ours' else 'floor'}-2w.log",
            )
            try:
                runs[side] = self.wrk_alone(server, "spread")
            finally:
                server.stop()
            if side == "ours":
                # Both workers must have had load: each one's CPU time over the measured runs (from /proc).
                shares = self._worker_shares(server.name)
        self._keep_runs("spread_2w", runs)
        rps = self._load_row(f"{key}_rps", f"{title}: requests/s", "rps", runs)
        scaling = rps["ours"] / one_worker_rps
        judged(rps, f">= 1.2x ours 1 worker ({scaling:.2f}x)", scaling, 1.2, at_least=True)
        rps["ours_2w_over_1w"] = scaling
        rps["worker_cpu_share"] = shares
        rps["note"] += "; worker CPU split " + " / ".join(f"{s:.0%}" for s in shares)
        if len(shares) < 2 or min(shares) < 0.25:
            rps["note"] += " (UNEVEN: one worker had most of the load)"
        self._add(rps)
        p99 = self._load_row(f"{key}_p99", f"{title}: p99", "p99_ms", runs)
        p99["target"] = ""
        self._add(p99)

    def _worker_shares(self, name: str) -> list[float]:
        """Each worker's share of the CPU time the workers spent during the measured runs (warm-up left out)."""
        measured = self.worker_cpu.get(name, [])[self.warmup :]
        totals: dict[int, float] = {}
        for run in measured:
            for pid, seconds in run.items():
                totals[pid] = totals.get(pid, 0.0) + seconds
        whole = sum(totals.values())
        return sorted((t / whole for t in totals.values()), reverse=True) if whole else []

    def sqlite_row(self, key: str, title: str, env: dict[str, str], postgres_rps: float) -> None:
        """The 32-project row on a service over an SQLite file (1 worker; no floor): p99 against its own p50,
        requests/s against the PostgreSQL 1-worker figure."""
        folder = Path(tempfile.mkdtemp(prefix="tasklogs-bench-sqlite-"))
        sqlite_env = {**env, "TASKLOGS_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bench.db'}"}
        try:
            tasklogs(sqlite_env, "migrate")
            api_key = tasklogs(sqlite_env, "apikey", "create", "--name", "bench", "--rate-limit", "1000000").strip()
            data.load_reference_sqlite(str(folder / "bench.db"))
            server = Server(
                "service SQLite",
                [PY, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1"],
                sqlite_env,
                "/readyz",
                RESULTS / "service-sqlite.log",
                api_key=api_key,
            )
            try:
                runs = {"ours": self.wrk_alone(server, "spread"), "floor": []}
            finally:
                server.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self._keep_runs("sqlite_1w", runs)
        rps = self._load_row(f"{key}_rps", f"{title}: requests/s", "rps", runs)
        share = rps["ours"] / postgres_rps
        judged(rps, f">= 0.6x PostgreSQL ({share:.2f}x)", share, 0.6, at_least=True)
        rps["ours_over_postgres"] = share
        self._add(rps)
        p99 = self._load_row(f"{key}_p99", f"{title}: p99", "p99_ms", runs)
        p50 = median([r.p50_ms for r in runs["ours"]])
        judged(p99, f"<= 4x own p50 ({p99['ours'] / p50:.2f}x)", p99["ours"] / p50, 4.0, at_least=False)
        p99["p50"] = {"ours": p50}
        p99["note"] += f"; p50 {p50:.1f} ms"
        self._add(p99)

    def _serve_ours(self, env: dict[str, str], name: str, workers: int, log: Path) -> Server:
        return Server(
            name,
            [PY, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers)],
            env,
            "/readyz",
            log,
            api_key=self.key,
        )

    def _serve_floor(self, env: dict[str, str], name: str, workers: int, log: Path) -> Server:
        return Server(
            name,
            [
                PY,
                "-m",
                "uvicorn",
                "bench.floor:app",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env,
            "/floor/task/1",
            log,
            create_path="/floor/create",
        )


def format_verdict(row: dict) -> str:
    if row.get("met") is None:
        return row.get("target") or ""
    return f"{row['target']} {'MET' if row['met'] else 'NOT MET'}"


def format_row(row: dict) -> str:
    if row["ours"] is None:
        return f"{row['title']:<58} {'-':>10} {'-':>10} {'-':>7}  {row['note']}"
    floor = f"{row['floor']:>10.1f}" if row.get("floor") is not None else f"{'-':>10}"
    ratio = f"{row['ratio']:>6.2f}x" if row.get("ratio") is not None else f"{'-':>7}"
    note = f"  {row['note']}" if row.get("note") else ""
    return f"{row['title']:<58} {row['ours']:>10.1f} {floor} {ratio}  {format_verdict(row):<38} {row['unit']}{note}"


def header() -> str:
    return f"{'row':<58} {'ours':>10} {'floor':>10} {'ratio':>7}  {'target (ratio: ours / floor)':<38} unit"


# ---------------------------------------------------------------- profile


def profile(bench: Bench, key: str, env: dict[str, str], seconds: float) -> dict:
    """py-spy on the running service while the row's workload repeats, then
    the same workload on a service with every SQL statement timed."""
    out: dict[str, Any] = {"row": key}
    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    if Path(spy).exists():
        raw = RESULTS / f"profile-{key}.txt"
        # The service runs 1 worker: uvicorn serves in the process it was started as (no child to find).
        with subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(bench.ours.pid),
                "--rate",
                "250",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--duration",
                str(int(seconds) + 2),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        ) as spy_proc:
            time.sleep(1.0)
            if key in bench.load_workloads:
                # A wrk run as long as the sampling: the operations are its requests.
                done = bench.load_workloads[key](seconds)
            else:
                deadline, done = time.monotonic() + seconds, 0
                while time.monotonic() < deadline:
                    bench.workloads[key]()
                    done += 1
            spy_proc.wait(timeout=60)
        if raw.exists():
            out["pyspy"] = summarize_stacks(raw)
            out["pyspy"]["file"] = str(raw.relative_to(ROOT))
            out["pyspy"]["operations"] = done
            # py-spy samples only while Python runs (not while it awaits PostgreSQL).
            out["pyspy"]["cpu_share"] = out["pyspy"]["samples"] / (250 * (seconds + 2))
            out["pyspy"]["cpu_ms_per_op"] = out["pyspy"]["samples"] / 250 / max(done, 1) * 1000
    else:
        out["pyspy"] = {"error": "py-spy not installed (pip install py-spy)"}
    return out


def summarize_stacks(raw: Path, top: int = 20) -> dict:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    self_count: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        names = [_frame(f) for f in frames]
        self_count[names[-1]] = self_count.get(names[-1], 0) + count
        for name in set(names):
            incl[name] = incl.get(name, 0) + count
    roots = (
        "<module>",
        "_run_module_as_main",
        "_run_code",
        "main (app/cli.py)",
        "run (uvicorn",
        "Server.run",
        "asyncio_run",
        "Runner.run (",
        "BaseEventLoop.run",
        "Handle._run",
        "Context.run",
    )
    rank = [kv for kv in sorted(incl.items(), key=lambda kv: -kv[1]) if not kv[0].startswith(roots)][:top]
    rank_self = sorted(self_count.items(), key=lambda kv: -kv[1])[:top]
    ours = [
        kv
        for kv in sorted(incl.items(), key=lambda kv: -kv[1])
        if "(app/" in kv[0] and not kv[0].startswith(("main (app/cli.py)", "<module> (app/cli.py)"))
    ][:top]
    return {
        "samples": total,
        "inclusive": [(n, c / total) for n, c in rank],
        "self": [(n, c / total) for n, c in rank_self],
        "app": [(n, c / total) for n, c in ours],
    }


def _frame(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)", paths shortened
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def sql_breakdown(bench: Bench, key: str, env: dict[str, str], seconds: float, log: Path) -> dict:
    """The same workload, one request at a time, on a service whose SQL is timed (bench/traced_service.py)."""
    trace = RESULTS / f"sql-{key}.json"
    traced = Server(
        "traced service",
        [PY, "-m", "bench.traced_service", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1"],
        {**env, "BENCH_SQL_TRACE": str(trace)},
        "/readyz",
        log,
        api_key=bench.key,  # the export's workload sends the server's own key
    )
    saved = bench.ours
    bench.ours = traced
    try:
        workload = bench.workloads[key]
        workload()  # warm-up (its statements are counted too: divided by done + 1 below)
        started, done = time.perf_counter(), 0
        while time.perf_counter() - started < seconds:
            workload()
            done += 1
        wall = time.perf_counter() - started
    finally:
        bench.ours = saved
        traced.stop()
    stats = json.loads(trace.read_text())
    statements = sorted(((s, c, t) for s, (c, t) in stats.items()), key=lambda x: -x[2])
    db = sum(t for _, _, t in statements)
    return {
        "operations": done,
        "wall_s": wall,
        "db_s": db * done / (done + 1),
        "statements": [
            {"sql": s, "calls_per_op": c / (done + 1), "ms_per_op": t / (done + 1) * 1000}
            for s, c, t in statements[:15]
        ],
    }


# ---------------------------------------------------------------- the run


@contextmanager
def database(admin_dsn: str, keep: bool) -> Iterator[str]:
    name = f"tasklogs_bench_{os.getpid()}"

    def admin(sql: str) -> None:
        asyncio.run(on_connection(admin_dsn, lambda conn: conn.execute(sql)))

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def load(dsn: str, rows: list[tuple] | None, *, reference: bool = False) -> float:
    return await on_connection(dsn, lambda conn: _load_into(conn, rows, reference=reference))


async def _load_into(conn: asyncpg.Connection, rows: list[tuple] | None, *, reference: bool) -> float:
    started = time.perf_counter()
    if reference:
        await data.load_reference(conn)
    if rows:
        await data.copy_logs(conn, rows)
    # Statistics and visibility maps as autovacuum would leave them on a live database, and the
    # loaded pages written out now rather than by a checkpoint during the rows. Only tables that
    # hold rows: autovacuum never visits a table nothing was written to, and an empty table once
    # vacuumed counts as empty (reltuples 0) for the planner. The write rows then fill the history
    # and the outbox from nothing, and on this machine's PostgreSQL (autovacuum off) no ANALYZE
    # follows: each connection's cached plans stay those made for empty tables. (Before
    # migration 0013, the outbox's foreign-key check into the history stayed a sequential scan
    # of it: 592 million rows read in one `--only bulk` run.)
    for table in await conn.fetch("SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public'"):
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table['name']})"):
            await conn.execute(f"VACUUM ANALYZE {table['name']}")
    await conn.execute("CHECKPOINT")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, 5 s load runs, no extra bulk sizes")
    parser.add_argument("--repeats", type=int, help="measured repeats per row (default 5, --quick 3)")
    parser.add_argument("--duration", type=float, help="seconds per concurrency run (default 10, --quick 5)")
    parser.add_argument(
        "--pg",
        default=os.environ.get("BENCH_PG", "postgresql://root@127.0.0.1:5432/postgres"),
        help="PostgreSQL to create the benchmark database on (default: local, user root)",
    )
    parser.add_argument(
        "--profile",
        default="auto",
        help="row keys (comma-separated) to profile with py-spy and timed SQL, 'single' (the "
        "32-project single-create row under wrk), 'auto' (the row closest to its target against "
        "the floor) or 'none'",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated rows to run: timesheets,task,bulk,single,search,outbox "
        "(single, or its alias concurrency: the wrk rows; search: part 9's search, task list and export rows; "
        "outbox: part 10's share of the outbox in a create)",
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--output", default=str(RESULTS / "latest.json"))
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    only = {"single" if name == "concurrency" else name for name in args.only.split(",") if name}
    groups = {"timesheets", "task", "bulk", "single", "search", "outbox"}
    only = only or groups
    if only - groups:
        sys.exit(f"--only: unknown rows {sorted(only - groups)}")
    # Only the read rows read the generated history; without them the run skips generating and loading it
    # (the write rows then insert into a small table: use a full run for figures to compare).
    with_history = bool(only & {"timesheets", "task", "search"})
    started = time.monotonic()
    bench = Bench(args)
    servers: list[Server] = []
    host = args.pg.split("@", 1)[-1].split("/", 1)[0].split(":")[0]
    if host not in ("127.0.0.1", "localhost"):
        sys.exit("the benchmark only uses a PostgreSQL on 127.0.0.1")
    try:
        with database(args.pg, args.keep_db) as name:
            dsn = args.pg.rsplit("/", 1)[0] + "/" + name
            bench.dsn = dsn
            # The service's defaults, whatever the caller's shell says; only the database is ours.
            env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLOGS_")}
            env |= {
                "TASKLOGS_DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
                "BENCH_FLOOR_DSN": dsn,
                # Only raises the per-request ceiling, for the 10,000-in-one-request bulk row.
                "TASKLOGS_BULK_MAX_ITEMS": "10000",
                # Only widens the export's window, for the 1,000,000-log export over two years.
                "TASKLOGS_EXPORT_MAX_DAYS": "800",
                # Only let the outbox rows subscribe a webhook receiver of their own on 127.0.0.1.
                "TASKLOGS_WEBHOOK_ALLOW_HTTP": "true",
                "TASKLOGS_WEBHOOK_ALLOW_PRIVATE": "true",
            }
            bench.env = env
            print(f"database {name}; {os.cpu_count()} cores; {platform.python_version()}", flush=True)
            if "single" in only:
                wrk.ensure_installed()
            tasklogs(env, "migrate")
            # Its own rate limit far above what the load reaches: the limiter still counts every request.
            bench.key = tasklogs(env, "apikey", "create", "--name", "bench", "--rate-limit", "1000000").strip()
            if with_history:
                print("generating 1,000,000 logs ...", flush=True)
                t0 = time.perf_counter()
                dataset = data.generate()
                # The client holds a million generated rows until they are loaded:
                # kept out of its garbage collector, whose full passes would otherwise
                # land inside timed requests (more often in the side with larger answers).
                gc.freeze()
                bench.extra["generate_s"] = time.perf_counter() - t0
                first, rest = dataset.first, dataset.rest
                del dataset
            else:
                print("no read rows: reference data only, no generated history", flush=True)
                first, rest = [], []
            bench.extra["load_first_s"] = asyncio.run(load(dsn, first, reference=True))
            print(
                f"  loaded the reference data and {len(first):,} logs in {bench.extra['load_first_s']:.1f} s",
                flush=True,
            )
            del first
            bench.ours = bench._serve_ours(env, "service", 1, RESULTS / "service.log")
            servers.append(bench.ours)
            bench.floor = bench._serve_floor(env, "floor", 1, RESULTS / "floor.log")
            servers.append(bench.floor)
            bench.extra["rss_start_kb"] = {"ours": memory_kb(bench.ours.pid), "floor": memory_kb(bench.floor.pid)}
            print()
            print(header(), flush=True)
            if "timesheets" in only:
                bench.timesheets("100k")
            if "search" in only:
                bench.search_first_page("100k")
            if rest:
                bench.extra["load_rest_s"] = asyncio.run(load(dsn, rest))
                print(f"  loaded the other {len(rest):,} in {bench.extra['load_rest_s']:.1f} s", flush=True)
            del rest
            if "timesheets" in only:
                bench.timesheets("1M")
            if "task" in only:
                bench.task_logs()
            if "search" in only:
                bench.search_first_page("1M")
                bench.search_month_pages()
                bench.task_logs_median_of_three()
                bench.export_million()
            if "bulk" in only:
                bench.bulk()
            if "outbox" in only:
                outbox.rows(bench)
            if "single" in only:
                bench.concurrency(env)
            rss = {"ours": memory_kb(bench.ours.pid), "floor": memory_kb(bench.floor.pid)}
            hwm = {"ours": memory_kb(bench.ours.pid, "VmHWM"), "floor": memory_kb(bench.floor.pid, "VmHWM")}
            bench.extra["rss_end_kb"], bench.extra["rss_peak_kb"] = rss, hwm
            bench._add(
                {
                    "key": "memory_rss",
                    "title": "Service RSS after the run (VmRSS, all processes)",
                    "unit": "MB",
                    "ours": rss["ours"] / 1024,
                    "floor": rss["floor"] / 1024,
                    "ratio": rss["ours"] / rss["floor"],
                    "target_ratio": None,
                    "target": "< 250 MB",
                    "met": rss["ours"] / 1024 < 250,
                    "note": f"peak {hwm['ours'] / 1024:.0f} MB",
                }
            )
            keys = [k for k in args.profile.split(",") if k and k != "none"]
            if keys == ["auto"]:
                # The row that uses the most of its target against the floor.
                candidates = [(r["use"], r["profile"]) for r in bench.rows if r.get("use") and r.get("profile")]
                keys = [max(candidates)[1]] if candidates else []
            bench.extra["profiles"] = {}
            for key in keys:
                if key not in bench.workloads and key not in bench.load_workloads:
                    print(f"\ncannot profile {key}: not measured in this run", flush=True)
                    continue
                print(f"\nprofiling {key} ...", flush=True)
                seconds = 6.0 if args.quick else 12.0
                try:
                    found = bench.extra["profiles"][key] = profile(bench, key, env, seconds)
                    # The SQL of a single create, one at a time (under wrk the statements would be timed
                    # with the waits of 32 concurrent requests in them).
                    sql_key = "single_one" if key == "single" else key
                    found["sql"] = sql_breakdown(bench, sql_key, env, seconds, RESULTS / "traced-service.log")
                    print_profile(found)
                except Exception as exc:  # the measured rows are kept whatever the profile does
                    print(f"profile of {key} failed: {exc!r}", flush=True)
    finally:
        for server in servers:
            server.stop()
        bench.http.close()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "app", "migrations"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "commit": commit + (" + uncommitted changes in app/ or migrations/" if dirty else ""),
        "python": platform.python_version(),
        "quick": args.quick,
        "repeats": bench.repeats,
        "duration_s": bench.duration,
        "runtime_s": time.monotonic() - started,
        "rows": bench.rows,
        **bench.extra,
    }
    Path(args.output).write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwrote {args.output} ({result['runtime_s']:.0f} s)")
    return 0


def print_profile(prof: dict) -> None:
    spy = prof.get("pyspy", {})
    if "inclusive" in spy:
        print(
            f"py-spy: {spy['operations']} operations, {spy['samples']} samples ({spy['file']}), the service "
            f"busy {spy['cpu_share']:.0%} of the time, {spy['cpu_ms_per_op']:.1f} ms of Python per operation"
        )
        print("inclusive share of the samples, the service's own functions:")
        for name, share in spy["app"][:15]:
            print(f"  {share:6.1%}  {name}")
        print("inclusive share, all functions:")
        for name, share in spy["inclusive"][:25]:
            print(f"  {share:6.1%}  {name}")
        print("self share:")
        for name, share in spy["self"][:15]:
            print(f"  {share:6.1%}  {name}")
    sql = prof.get("sql")
    if sql:
        print(
            f"SQL, one request at a time: {sql['operations']} operations, "
            f"{sql['wall_s'] / sql['operations'] * 1000:.1f} ms each, of which SQL "
            f"{sql['db_s'] / sql['operations'] * 1000:.1f} ms"
        )
        for s in sql["statements"][:10]:
            print(f"  {s['ms_per_op']:8.2f} ms  x{s['calls_per_op']:.1f}  {s['sql'][:150]}")


if __name__ == "__main__":
    sys.exit(main())
