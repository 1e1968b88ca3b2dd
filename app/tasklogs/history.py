"""The history of task logs, which is also the change feed for other services.

Order without a lock that every writer shares. Each change row carries its
transaction's id (`xid`) and a `seq` from a plain sequence, and the feed is
read in (xid, seq) order. On PostgreSQL the feed shows only transactions
below the oldest one still running (`pg_snapshot_xmin` of the statement's
own snapshot): every transaction under that horizon has finished, so no row
can appear later below a cursor already handed out. The cursor therefore
never skips and never repeats a change, while writers only append rows.

The order of the changes of one log is the order they were committed: a
change's xid is assigned by its transaction's first write, and an edit,
delete or restore writes first what orders it after the change before it
(the edit and delete lock the log's row; a restore reads the committed
delete before it writes anything). The idempotency record, which every
write may carry, is written last for the same reason (app/core/idempotency.py).

The price: a long transaction that has written in this database holds the
feed back (not the writers) until it ends.

SQLite has one writer at a time: `xid` is always 0 there and `seq` (the
rowid) is commit order.

Each change also queues its event for other services in the outbox
(app/events/outbox.py), pointing at the change row: on PostgreSQL in the
same statement as the append (the outbox INSERT reads the appended rows
from a CTE), so the outbox adds no round trip to a write; on SQLite in one
more statement, whatever the count."""

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.cursors import cursor_number
from app.core.observability import request_id_var
from app.core.sql import RowsTable, for_dialect
from app.core.timeutil import iso_utc
from app.events.outbox import OUTBOX, task_log_event_type
from app.models import TaskLogChange

_CHANGES = cast(Table, TaskLogChange.__table__)
CHANGES = RowsTable(
    "c",
    [
        ("task_log_id", BigInteger()),
        ("company_id", BigInteger()),
        ("action", String()),
        ("version", Integer()),
        ("before", JSON()),
        ("after", JSON()),
    ],
)
_APPENDED = ["task_log_id", "company_id", "action", "version", "actor", "request_id", "before", "after"]

# PostgreSQL: every transaction of this database below this id has finished,
# as the statement's own snapshot sees it: the lowest id the snapshot holds
# as running (else its xmax, the first id not yet given out), leaving out
# the transactions known to be another database's (pg_stat_activity), which
# cannot write our rows. Without that, any long transaction on the cluster
# would hold the feed back. A transaction of unknown database (one that
# ended since the snapshot, a prepared one) is kept: held back, never skipped.
_PG_FINISHED_BELOW: Any = literal_column("""COALESCE(
    (SELECT min(CAST(CAST(running AS text) AS bigint))
       FROM pg_snapshot_xip(pg_current_snapshot()) AS running
      WHERE CAST(CAST(running AS text) AS bigint) & 4294967295 NOT IN (
            SELECT CAST(CAST(backend_xid AS text) AS bigint) FROM pg_stat_activity
             WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())),
    CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint))""")


@dataclass
class Change:
    """One change of a log, as a write records it."""

    task_log_id: int
    company_id: int
    action: str  # create | update | delete | restore
    version: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class FeedCursor(NamedTuple):
    """A position in the change feed: after the change (xid, seq)."""

    xid: int
    seq: int

    def __str__(self) -> str:
        return f"{self.xid}-{self.seq}"

    @classmethod
    def parse(cls, text: str | None) -> "FeedCursor":
        """A cursor the feed gave out. A plain number N is a cursor of the
        feed before it was ordered by xid, whose rows all have xid 0."""
        if not text:
            return cls(0, 0)
        xid, _, seq = text.rpartition("-") if "-" in text else ("0", "", text)
        number = functools.partial(cursor_number, field="since", message="Not a cursor this feed gave out.")
        return cls(number(xid), number(seq))

    @classmethod
    def of(cls, change: TaskLogChange) -> "FeedCursor":
        return cls(change.xid, change.seq)


@functools.cache
def _feed(company: bool, horizon: bool) -> Any:
    """The feed after :xid, :seq, at most :limit changes; of :company_id
    when `company`; only finished transactions when `horizon`."""
    after = tuple_(TaskLogChange.xid, TaskLogChange.seq) > tuple_(bindparam("xid"), bindparam("seq"))
    stmt = select(TaskLogChange).where(after)
    if company:
        stmt = stmt.where(TaskLogChange.company_id == bindparam("company_id"))
    if horizon:
        stmt = stmt.where(TaskLogChange.xid < _PG_FINISHED_BELOW)
    return stmt.order_by(TaskLogChange.xid, TaskLogChange.seq).limit(bindparam("limit"))


_OUTBOX_OF_CHANGE = ["type", "company_id", "task_log_id", "change_seq"]


@functools.cache
def appended_changes() -> Any:
    """PostgreSQL: the append of the changes as arrays (one prepared statement
    whatever the count), a CTE returning what their events need. Apart from
    `_append_rows`, bench/run.py's outbox rows time it alone, to tell what
    the outbox adds to the statement."""
    src = CHANGES.source("postgresql")
    rows = select(
        src.c.task_log_id,
        src.c.company_id,
        src.c.action,
        src.c.version,
        bindparam("actor", type_=String()),
        bindparam("request_id", type_=String()),
        src.c.before,
        src.c.after,
    ).order_by(src.c.n)
    return (
        insert(_CHANGES)
        .from_select(_APPENDED, rows)
        .returning(_CHANGES.c.seq, _CHANGES.c.task_log_id, _CHANGES.c.company_id, _CHANGES.c.action)
        .cte("appended")
    )


def append_parameters(changes: list[Change], actor: str, request_id: str | None) -> dict[str, Any]:
    """PostgreSQL: the bound values of `appended_changes`."""
    rows = [(c.task_log_id, c.company_id, c.action, c.version, c.before, c.after) for c in changes]
    return {"actor": actor, "request_id": request_id, **CHANGES.params("postgresql", rows)}


@functools.cache
def _append_rows() -> Any:
    """PostgreSQL: the changes appended and their events in the outbox, in one statement."""
    appended = appended_changes()
    events = select(
        task_log_event_type(appended.c.action), appended.c.company_id, appended.c.task_log_id, appended.c.seq
    ).order_by(appended.c.seq)
    return insert(OUTBOX).from_select(_OUTBOX_OF_CHANGE, events).add_cte(appended)


@functools.cache
def _events_of_newest_changes() -> Any:
    """SQLite: the events of the :count changes just appended. They are the
    table's newest: SQLite gives a new row the highest rowid plus one, and
    the transaction holds the database's only write lock."""
    newest = select(func.max(_CHANGES.c.seq)).scalar_subquery()
    rows = (
        select(task_log_event_type(_CHANGES.c.action), _CHANGES.c.company_id, _CHANGES.c.task_log_id, _CHANGES.c.seq)
        .where(_CHANGES.c.seq > newest - bindparam("count"))
        .order_by(_CHANGES.c.seq)
    )
    return insert(OUTBOX).from_select(_OUTBOX_OF_CHANGE, rows)


class HistoryRepository:
    """Shared SQL; `history_repository(session)` picks the database's own."""

    # Whether the feed must hold back transactions that may still commit.
    feed_needs_horizon = False

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, changes: list[Change], actor: str) -> None:
        """Append the changes (their xid and seq are the database's defaults)."""
        if changes:
            await self._append(changes, actor, request_id_var.get())

    async def _append(self, changes: list[Change], actor: str, request_id: str | None) -> None:
        await self.session.execute(
            insert(_CHANGES),
            [
                {
                    "task_log_id": c.task_log_id,
                    "company_id": c.company_id,
                    "action": c.action,
                    "version": c.version,
                    "actor": actor,
                    "request_id": request_id,
                    "before": c.before,
                    "after": c.after,
                }
                for c in changes
            ],
        )
        # SQLite runs in-process: a second statement costs no round trip.
        await self.session.execute(_events_of_newest_changes(), {"count": len(changes)})

    async def latest_of_log(self, task_log_id: int) -> TaskLogChange | None:
        """The log's last change (its owner and company as they are now)."""
        stmt = (
            select(TaskLogChange)
            .where(TaskLogChange.task_log_id == task_log_id)
            .order_by(TaskLogChange.xid.desc(), TaskLogChange.seq.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    async def page_of_log(self, task_log_id: int, after: FeedCursor, limit: int) -> list[TaskLogChange]:
        """At most `limit` changes of the log after the position, oldest first
        (a range of the (task_log_id, seq) index)."""
        stmt = (
            select(TaskLogChange)
            .where(
                TaskLogChange.task_log_id == task_log_id,
                tuple_(TaskLogChange.xid, TaskLogChange.seq) > tuple_(bindparam("xid"), bindparam("seq")),
            )
            .order_by(TaskLogChange.xid, TaskLogChange.seq)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt, {"xid": after.xid, "seq": after.seq})).all())

    async def last_delete(self, task_log_id: int, since: datetime) -> TaskLogChange | None:
        """The log's deletion, if that is its last change and happened after `since`."""
        stmt = (
            select(TaskLogChange)
            .where(TaskLogChange.task_log_id == task_log_id)
            .order_by(TaskLogChange.xid.desc(), TaskLogChange.seq.desc())
            .limit(1)
        )
        last = (await self.session.scalars(stmt)).first()
        if last is None or last.action != "delete" or last.at < since:
            return None
        return last

    async def feed(self, after: FeedCursor, limit: int, company_id: int | None) -> list[TaskLogChange]:
        stmt = _feed(company_id is not None, self.feed_needs_horizon)
        params = {"xid": after.xid, "seq": after.seq, "limit": limit, "company_id": company_id}
        return list((await self.session.scalars(stmt, params)).all())


class _PostgresHistory(HistoryRepository):
    feed_needs_horizon = True

    async def _append(self, changes: list[Change], actor: str, request_id: str | None) -> None:
        await self.session.execute(_append_rows(), append_parameters(changes, actor, request_id))


def history_repository(session: AsyncSession) -> HistoryRepository:
    return for_dialect(session, postgresql=_PostgresHistory, sqlite=HistoryRepository)


def change_view(change: TaskLogChange) -> dict[str, Any]:
    return {
        "cursor": str(FeedCursor.of(change)),
        "taskLogId": change.task_log_id,
        "action": change.action,
        "version": change.version,
        "actor": change.actor,
        "requestId": change.request_id,
        "at": iso_utc(change.at),
        "before": change.before,
        "after": change.after,
    }
