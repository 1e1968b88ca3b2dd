"""The service's own CPU per request, with no server and no socket: the ASGI
app called in one process, the requests' CPU read from that process's clock.
For judging a change by what it costs when the machine's noise moves the
wall-time ratios of `bench.run` more than the change does (bench/RESULTS.md).

    .venv/bin/python -m bench.inprocess                      # the working tree
    .venv/bin/python -m bench.inprocess --against HEAD~2     # and a commit (a git worktree), turn about
    .venv/bin/python -m bench.inprocess --against A,B        # and several commits

On a PostgreSQL database of its own (dropped after; the reference data and the
first 100,000 logs of `bench.run`), three workloads:

- create: single creates (`POST /tasklog/create/`), each a new log of one of
  the writers, on the 32 projects without an allocation (the wrk rows' own);
- bulk: 1,000-item bulk creates of new logs, a fresh writer each;
- timesheet: row 4's employee month (`GET /timesheets/`).

Each round runs every tree once per workload, each run in a fresh process
(the trees' order reversed every other round): a warm-up, then the timed
requests, whose CPU is divided by their number. The figure per tree is the
median of the rounds. The in-process worker is off
(`TASKLOGS_WORKER_INPROCESS=false`): what it costs depends on how the events
fall into its rounds, which moved a run's figure by 10 % and more;
`bench.deliveries` measures it. There is no floor: the figures compare one version of the service
with another, on the same database, in the same minutes."""

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
WORKLOADS = ("create", "bulk", "timesheet")


# ---------------------------------------------------------------- the worker (one run, one tree)


async def _run_requests(plan: dict[str, Any]) -> float:
    """CPU seconds per timed request of the plan, on the app of the tree
    first on sys.path (PYTHONPATH)."""
    from app.main import create_app

    app = create_app()
    headers = [(b"host", b"127.0.0.1"), (b"x-api-key", plan["key"].encode()), (b"content-type", b"application/json")]

    async def call(request: dict[str, Any]) -> None:
        body = request["body"].encode()
        path, _, query = request["path"].partition("?")
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request["method"],
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        await app(scope, receive, send)
        if sent[0]["status"] != 200:
            raise SystemExit(f"{request['method']} {request['path']}: {sent[0]['status']} {sent[-1].get('body')!r}")

    async with app.router.lifespan_context(app):
        for request in plan["warm"]:
            await call(request)
        gc.collect()
        started = time.process_time()
        for request in plan["timed"]:
            await call(request)
        return (time.process_time() - started) / len(plan["timed"])


# ---------------------------------------------------------------- the plans


class Writers:
    """Hands out writers that have no logs yet (bench/data.py's)."""

    def __init__(self) -> None:
        from bench import data

        self.next = data.WRITER_BASE

    def take(self, count: int) -> list[int]:
        taken = list(range(self.next, self.next + count))
        self.next += count
        return taken


def plan(workload: str, writers: Writers, key: str) -> dict[str, Any]:
    from bench import data

    def post(path: str, body: Any) -> dict[str, Any]:
        return {"method": "POST", "path": path, "body": json.dumps(body)}

    if workload == "create":
        requests = [
            post("/tasklog/create/", {**item, "userId": writer, "taskId": data.spread_project_task(writer % 32)})
            for writer in writers.take(4)
            for item in data.writer_logs(writer, 300)
        ]
        warm, timed = requests[:200], requests[200:]
    elif workload == "bulk":
        requests = [post(f"/tasklogs/bulk/create/{w}/", data.writer_logs(w, 1000)) for w in writers.take(13)]
        warm, timed = requests[:3], requests[3:]
    else:
        first, last = (d.isoformat() for d in data.REPORT_MONTH)
        path = f"/timesheets/?employeeId={data.REPORT_EMPLOYEE}&startDate={first}&endDate={last}"
        month = {"method": "GET", "path": path, "body": ""}
        warm, timed = [month] * 300, [month] * 2000
    return {"key": key, "warm": warm, "timed": timed}


def run_tree(tree: Path, dsn: str, the_plan: dict[str, Any]) -> float:
    """One run in a fresh process, on `tree`'s code."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(the_plan, f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLOGS_")}
    env |= {
        "PYTHONPATH": str(tree),
        "TASKLOGS_DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        "TASKLOGS_LOG_LEVEL": "warning",
        # The request path alone (see the module's note).
        "TASKLOGS_WORKER_INPROCESS": "false",
    }
    try:
        # Run as a script, so `app` is imported from PYTHONPATH (the tree measured), not from here.
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", f.name],
            env=env,
            cwd=tree,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"run on {tree} failed:\n{exc.stdout}\n{exc.stderr}") from exc
    finally:
        os.unlink(f.name)
    return float(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--against", default="", help="commits to compare with (comma-separated), each in a git worktree"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated: " + ", ".join(WORKLOADS))
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(asyncio.run(_run_requests(json.loads(Path(args.worker).read_text()))))
        return 0

    from bench import data, run

    workloads = [w for w in args.only.split(",") if w]
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    trees = {"working tree": ROOT}
    worktrees = []
    for commit in [c for c in args.against.split(",") if c]:
        worktree = Path(tempfile.mkdtemp(prefix="tasklogs-against-"))
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), commit], cwd=ROOT, check=True)
        worktrees.append(worktree)
        trees[commit] = worktree
    try:
        with run.database(PG_ADMIN, args.keep_db) as name:
            dsn = f"postgresql://root@127.0.0.1:5432/{name}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLOGS_")}
            env["TASKLOGS_DATABASE_URL"] = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
            run.tasklogs(env, "migrate")
            key = run.tasklogs(env, "apikey", "create", "--name", "inprocess", "--rate-limit", "1000000").strip()
            print(f"database {name}: loading the reference data and 100,000 logs ...", flush=True)
            asyncio.run(run.load(dsn, data.generate().first, reference=True))
            writers = Writers()
            figures: dict[str, dict[str, list[float]]] = {w: {t: [] for t in trees} for w in workloads}
            for round_no in range(args.rounds):
                order = list(trees.items()) if round_no % 2 == 0 else list(trees.items())[::-1]
                for workload in workloads:
                    for label, tree in order:
                        seconds = run_tree(tree, dsn, plan(workload, writers, key))
                        figures[workload][label].append(seconds)
                        print(f"round {round_no + 1}, {workload}, {label}: {_shown(workload, seconds)}", flush=True)
            print()
            for workload in workloads:
                medians = {label: statistics.median(values) for label, values in figures[workload].items()}
                ours = medians["working tree"]
                line = ", ".join(
                    f"{label} {_shown(workload, m)}"
                    + ("" if m is ours else f" (the working tree's is {ours / m:.3f}x)")
                    for label, m in medians.items()
                )
                print(f"{workload}: CPU per request, median of {args.rounds}: {line}")
    finally:
        for worktree in worktrees:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=False)
    return 0


def _shown(workload: str, seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if workload == "bulk" else f"{seconds * 1e6:.0f} µs"


if __name__ == "__main__":
    raise SystemExit(main())
