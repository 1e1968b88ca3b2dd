"""Part 10's rows: what the transactional outbox adds to a single create and
to a 1,000-item bulk create (target: at most 10 % of the request).

The product has no switch that writes without the outbox, and should not
get one for a benchmark. On PostgreSQL a write's events are queued by the
statement that appends its changes to the history (a CTE: the outbox INSERT
reads the appended rows), so that statement is the outbox's whole cost on
the request path. Measured in the same run, on the same database:

- the service's request: the median of single creates sent one at a time,
  and of 1,000-item bulk creates (each for a fresh writer);
- the statement with its outbox INSERT (the product's own append, through
  `history_repository(...).record`) against the same append alone
  (`appended_changes()` in a SELECT count(*)), both through SQLAlchemy on
  asyncpg, alternating, each in a transaction that is rolled back, with the
  `after` images of the changes the request rows just wrote (real sizes);
- the outbox's share: (with - without) / the request's median.

Delivery is not on the request path (the dispatcher fans events out after
commit), so it is not in the share. For reference, two more rows repeat
the request medians with a webhook subscribed to every event (a local
receiver answering 204), while `tasklogs serve`'s in-process dispatcher
fans out and delivers beside the requests on the same cores."""

import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.tasklogs.history import Change, append_parameters, appended_changes, history_repository
from bench import data

if TYPE_CHECKING:
    from bench.run import Bench

SINGLE_CREATES = 40
# Timed statements per side and size, after one untimed warm-up of each (which prepares it).
STATEMENT_SAMPLES = {1: 200, 1000: 20}
TARGET_PERCENT = 10.0


class StatementCost(NamedTuple):
    with_outbox_ms: float
    append_alone_ms: float

    @property
    def outbox_ms(self) -> float:
        return self.with_outbox_ms - self.append_alone_ms


def rows(bench: "Bench") -> None:
    single_ms, bulk_ms = _request_medians(bench)
    costs = asyncio.run(_statement_costs(bench.dsn))
    for size, request_ms, what in ((1, single_ms, "single create"), (1000, bulk_ms, "1,000-item bulk")):
        cost = costs[size]
        share = cost.outbox_ms / request_ms * 100
        bench.extra[f"outbox_{size}"] = {"request_ms": request_ms, **cost._asdict(), "outbox_ms": cost.outbox_ms}
        bench._add(
            {
                "key": f"outbox_{size}",
                "title": f"Outbox share of a {what}",
                "unit": "%",
                "ours": share,
                "floor": None,
                "ratio": None,
                "target": f"<= {TARGET_PERCENT:g} % of the request",
                "met": share <= TARGET_PERCENT,
                "note": (
                    f"outbox {cost.outbox_ms:.2f} ms of a {request_ms:.1f} ms request "
                    f"(append with its outbox INSERT {cost.with_outbox_ms:.2f} ms, alone {cost.append_alone_ms:.2f} ms)"
                ),
            }
        )
    try:
        subscribed_rows(bench, (single_ms, bulk_ms))
    except Exception as exc:  # rows for reference only: the share rows above stand whatever they do
        print(f"the rows with a webhook subscribed failed: {exc!r}", flush=True)


def _request_medians(bench: "Bench") -> tuple[float, float]:
    """The medians, in ms, of a single create and of a 1,000-item bulk create."""
    single = statistics.median(bench.single_one() for _ in range(SINGLE_CREATES))
    bulk = statistics.median([_bulk_once(bench) for _ in range(bench.warmup + bench.repeats)][bench.warmup :])
    return single * 1000, bulk * 1000


class _Accepting(BaseHTTPRequestHandler):
    """A webhook receiver that takes every delivery (204). HTTP/1.1, so the
    dispatcher keeps its connections open as it does with real receivers
    (over HTTPS a new connection per delivery would cost a TLS handshake)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per delivery would be the bench's own noise


class _Server(ThreadingHTTPServer):
    # The dispatcher opens up to TASKLOGS_WORKER_CONCURRENCY (16) connections at once; the default
    # backlog of 5 refused some of them, and each refusal was a failed attempt.
    request_queue_size = 128


def serve_accepting(ports: "multiprocessing.Queue[int]") -> None:
    server = _Server(("127.0.0.1", 0), _Accepting)
    ports.put(server.server_address[1])
    server.serve_forever()


def subscribed_rows(bench: "Bench", without: tuple[float, float]) -> None:
    """The request medians again with a webhook subscribed to every event of the company."""
    # In a process of its own: a thread of the client's would take the client's GIL while it times requests.
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=serve_accepting, args=(ports,), daemon=True)
    receiver.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/hook"
    _, answer = bench.request(
        "POST", f"{bench.ours.base}/webhooks/", ours=True, json={"url": url, "events": ["*"], "companyId": 1}
    )
    webhook = answer.json()["data"]["webhookId"]
    try:
        with_hook = _request_medians(bench)
    finally:
        bench.request("DELETE", f"{bench.ours.base}/webhooks/{webhook}/", ours=True)
        receiver.terminate()
        receiver.join()
    for (what, key), subscribed, alone in zip(
        (("single create", "single"), ("1,000-item bulk", "bulk")), with_hook, without, strict=True
    ):
        bench._add(
            {
                "key": f"outbox_subscribed_{key}",
                "title": f"{what}, a webhook subscribed (ours) / none (floor col.)",
                "unit": "ms",
                "ours": subscribed,
                "floor": alone,
                "ratio": subscribed / alone,
                "target": "for reference",
                "met": None,
                "note": "in-process dispatcher fanning out and delivering beside the requests",
            }
        )


def _bulk_once(bench: "Bench") -> float:
    employee = bench.writer()
    url = f"{bench.ours.base}/tasklogs/bulk/create/{employee}/"
    elapsed, answer = bench.request("POST", url, ours=True, json=data.writer_logs(employee, 1000))
    if len(answer.json()["data"]["created"]) != 1000:
        raise RuntimeError("the bulk row's request did not create its 1,000 logs")
    return elapsed


async def _statement_costs(dsn: str) -> dict[int, StatementCost]:
    engine = create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session:
            written = (
                await session.execute(
                    text(
                        "SELECT task_log_id, company_id, version, after FROM task_log_changes "
                        "WHERE action = 'create' ORDER BY seq DESC LIMIT 1000"
                    )
                )
            ).all()
        if len(written) < 1000:
            raise RuntimeError("the outbox rows need the 1,000 changes of a bulk create first")
        changes = [Change(r.task_log_id, r.company_id, "create", r.version, None, r.after) for r in written]

        async def with_outbox(session: AsyncSession, batch: list[Change]) -> None:
            await history_repository(session).record(batch, "bench")

        async def append_alone(session: AsyncSession, batch: list[Change]) -> None:
            # A data-modifying CTE runs whether or not the outer SELECT reads it.
            alone = select(func.count()).select_from(appended_changes())
            await session.execute(alone, append_parameters(batch, "bench", None))

        costs = {}
        for size, samples in STATEMENT_SAMPLES.items():
            batch = changes[:size]
            times: dict[str, list[float]] = {"with": [], "alone": []}
            for sample in range(samples + 1):
                order = [("with", with_outbox), ("alone", append_alone)]
                for name, statement in order if sample % 2 == 0 else reversed(order):
                    elapsed = await _rolled_back(sessions, statement, batch)
                    if sample:
                        times[name].append(elapsed)
            costs[size] = StatementCost(
                statistics.median(times["with"]) * 1000, statistics.median(times["alone"]) * 1000
            )
        return costs
    finally:
        await engine.dispose()


async def _rolled_back(
    sessions: async_sessionmaker[AsyncSession],
    statement: Callable[[AsyncSession, list[Change]], Awaitable[Any]],
    batch: list[Change],
) -> float:
    """The statement's time, from sending to its answer, in a transaction that leaves nothing behind."""
    async with sessions() as session:
        transaction = await session.begin()
        await session.execute(text("SELECT 1"))  # the transaction has begun before the clock starts
        started = time.perf_counter()
        await statement(session, batch)
        elapsed = time.perf_counter() - started
        await transaction.rollback()
    return elapsed
