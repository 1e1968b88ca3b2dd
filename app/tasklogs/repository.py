"""Task log persistence: set-based statements only (one INSERT for a whole
batch, one GROUP BY for a set of day windows), never a query per item."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    String,
    Text,
    and_,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sql import (
    RowsTable,
    UTCDateTime,
    dialect_insert_for,
    dialect_of,
    greatest,
    least,
    prebuilt,
    seconds_between,
)
from app.models import Employee, Task, TaskLog

LogKey = tuple[int, int, datetime]  # (task_id, user_id, start_time): the duplicate rule
KEY_COLUMNS = ("task_id", "user_id", "start_time")

# The write path uses the table's columns, not the mapped class: Core
# statements skip the ORM's bookkeeping of the rows they return.
_LOGS = TaskLog.__table__.c
_INSERTED = (_LOGS.id, _LOGS.task_id, _LOGS.user_id, _LOGS.start_time, _LOGS.created_at, _LOGS.updated_at)

# Sets of rows the write path hands to single statements.
NEW_LOGS = RowsTable("new", [
    ("task_id", BigInteger()), ("user_id", BigInteger()), ("start_time", UTCDateTime()),
    ("end_time", UTCDateTime()), ("description", Text()), ("manual_add", Boolean()),
    ("created_by", String()), ("updated_by", String()),
])
KEYS = RowsTable("k", [("task_id", BigInteger()), ("user_id", BigInteger()), ("start_time", UTCDateTime())])
WINDOWS = RowsTable("w", [("user_id", BigInteger()), ("day", String()), ("ds", UTCDateTime()),
                          ("de", UTCDateTime()), ("lo", UTCDateTime())])
WRITTEN = RowsTable("w", [("id", BigInteger()), ("user_id", BigInteger()), ("ds", UTCDateTime()),
                          ("de", UTCDateTime()), ("lo", UTCDateTime())])


@dataclass(frozen=True)
class DayWindow:
    user_id: int
    day: date
    start: datetime
    end: datetime


# Columns a task log is shown with; project and user name come from joins.
VIEW_COLUMNS = (
    TaskLog.id,
    TaskLog.task_id,
    Task.project_id,
    TaskLog.user_id,
    Employee.name.label("user_name"),
    TaskLog.start_time,
    TaskLog.end_time,
    TaskLog.description,
    TaskLog.manual_add,
    TaskLog.created_at,
    TaskLog.updated_at,
    TaskLog.created_by,
    TaskLog.updated_by,
    TaskLog.version,
    Employee.company_id,
)


def _view_select() -> Any:
    return (
        select(*VIEW_COLUMNS)
        .join(Task, Task.id == TaskLog.task_id)
        .join(Employee, Employee.id == TaskLog.user_id)
    )


class TaskLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_new(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """Insert the rows (values of NEW_LOGS' columns) whose (task, user,
        start) key is free; the database decides, so concurrent uploads of the
        same entries cannot both win. Returns (id, task_id, user_id,
        start_time, created_at, updated_at) of the rows actually inserted."""
        if not rows:
            return []
        if dialect_of(self.session) == "sqlite":
            # The rows as parameters: SQLAlchemy sends them as multi-row INSERTs.
            stmt = prebuilt(self.session, "task_logs.insert_rows", _insert_rows)
            names = [c for c, _ in NEW_LOGS.columns]
            return list((await self.session.execute(stmt, [dict(zip(names, r, strict=True)) for r in rows])).all())
        stmt = prebuilt(self.session, "task_logs.insert_new", lambda d: _insert_new(d, rows))
        return list((await self.session.execute(stmt, NEW_LOGS.params("postgresql", rows))).all())

    async def ids_by_key(self, keys: Iterable[LogKey]) -> dict[LogKey, int]:
        keys = list(keys)
        if not keys:
            return {}

        def build(dialect: str) -> Any:
            k = KEYS.source(dialect, keys)
            return select(_LOGS.id, _LOGS.task_id, _LOGS.user_id, _LOGS.start_time).join(
                k, (_LOGS.task_id == k.c.task_id) & (_LOGS.user_id == k.c.user_id)
                & (_LOGS.start_time == k.c.start_time)
            )

        stmt = prebuilt(self.session, "task_logs.ids_by_key", build, carries_rows=True)
        rows = (await self.session.execute(stmt, KEYS.params(dialect_of(self.session), keys))).all()
        return {(t, u, s): i for i, t, u, s in rows}

    async def get_view(self, log_id: int, *, lock: bool = False) -> Any:
        stmt = _view_select().where(TaskLog.id == log_id)
        if lock:
            stmt = stmt.with_for_update(of=TaskLog)
        return (await self.session.execute(stmt)).one_or_none()

    async def list_for_task(
        self, task_id: int, offset: int | None, limit: int | None, *, user_id: int | None = None
    ) -> list[Any]:
        stmt = _view_select().where(TaskLog.task_id == task_id).order_by(TaskLog.start_time, TaskLog.id)
        if user_id is not None:
            stmt = stmt.where(TaskLog.user_id == user_id)
        if limit is not None:
            stmt = stmt.offset(offset or 0).limit(limit)
        return list((await self.session.execute(stmt)).all())

    async def task_summary(self, task_id: int, *, user_id: int | None = None) -> tuple[int, int]:
        """(count, total seconds) of a task's logs (of one employee's, when given)."""
        stmt = select(func.count(), func.sum(seconds_between(TaskLog.start_time, TaskLog.end_time))).where(
            TaskLog.task_id == task_id
        )
        if user_id is not None:
            stmt = stmt.where(TaskLog.user_id == user_id)
        count, seconds = (await self.session.execute(stmt)).one()
        return int(count), int(seconds or 0)

    async def update(self, log_id: int, changes: dict[str, Any]) -> None:
        await self.session.execute(
            update(TaskLog).where(TaskLog.id == log_id)
            .values(**changes, updated_at=func.now(), version=TaskLog.version + 1)
        )

    async def restore(self, row: dict[str, Any]) -> None:
        """Put a deleted log back under its own id."""
        await self.session.execute(insert(TaskLog).values(**row, updated_at=func.now()))

    async def delete(self, log_id: int) -> None:
        await self.session.execute(delete(TaskLog).where(TaskLog.id == log_id))

    async def seconds_in_windows(
        self, windows: list[DayWindow], longest_log: timedelta
    ) -> dict[tuple[int, date], int]:
        """Each window's logged seconds: the part of every log of that user that
        falls inside [start, end). One GROUP BY over the (user_id, start_time)
        index; a log crossing a window edge counts only its share. No log is
        longer than `longest_log`, so only logs starting after `start -
        longest_log` can reach into a window: that bound keeps the index scan
        to the window instead of the employee's whole history."""
        if not windows:
            return {}
        rows = [(x.user_id, x.day.isoformat(), x.start, x.end, x.start - longest_log) for x in windows]

        def build(dialect: str) -> Any:
            w = WINDOWS.source(dialect, rows)
            share = seconds_between(greatest(_LOGS.start_time, w.c.ds), least(_LOGS.end_time, w.c.de))
            # A correlated subquery per window, not a join: the planner knows
            # nothing about the windows and would rather scan the whole table;
            # this way each window is one range scan of the index.
            in_window = (
                select(func.sum(share))
                .where(_LOGS.user_id == w.c.user_id, _LOGS.start_time >= w.c.lo, _LOGS.start_time < w.c.de,
                       _LOGS.end_time > w.c.ds)
                .scalar_subquery()
            )
            return select(w.c.user_id, w.c.day, in_window)

        stmt = prebuilt(self.session, "task_logs.seconds_in_windows", build, carries_rows=True)
        totals = (await self.session.execute(stmt, WINDOWS.params(dialect_of(self.session), rows))).all()
        return {(u, date.fromisoformat(d)): int(s or 0) for u, d, s in totals}

    async def overlapping(self, written: list[tuple[int, int, datetime, datetime]], longest_log: timedelta
                          ) -> list[tuple[int, int]]:
        """(log, other log of the same employee it overlaps) for the `written`
        logs, given as (id, user_id, start, end). Touching end-to-start is not
        an overlap: intervals are half-open. No log is longer than
        `longest_log`, so the other log starts in [start - longest_log, end):
        one short range scan of the (user_id, start_time) index per written
        log, whatever the span of the batch."""
        if not written:
            return []
        rows = [(i, u, start, end, start - longest_log) for i, u, start, end in written]

        def build(dialect: str) -> Any:
            w = WRITTEN.source(dialect, rows)
            near = (_LOGS.user_id == w.c.user_id, _LOGS.id != w.c.id, _LOGS.start_time >= w.c.lo,
                    _LOGS.start_time < w.c.de, _LOGS.end_time > w.c.ds)
            if dialect == "sqlite":  # no LATERAL; its joins are nested loops anyway
                stmt = select(w.c.id, _LOGS.id).join(TaskLog.__table__, and_(*near))
            else:
                # A range scan per written log, whatever the planner guesses: a
                # plain join (or a LATERAL it may flatten into one) of a hundred
                # rows gets hash-joined with a scan of the whole table. OFFSET 0
                # keeps the LATERAL subquery as it is written.
                other = select(_LOGS.id).where(*near).offset(0).lateral("other")
                stmt = select(w.c.id, other.c.id).select_from(w).join(other, true())
            return stmt.order_by(*stmt.selected_columns)

        stmt = prebuilt(self.session, "task_logs.overlapping", build, carries_rows=True)
        pairs = (await self.session.execute(stmt, WRITTEN.params(dialect_of(self.session), rows))).all()
        return [(a, b) for a, b in pairs]


def _insert_rows(dialect: str) -> Any:
    return (
        dialect_insert_for(dialect)(TaskLog.__table__)
        .on_conflict_do_nothing(index_elements=list(KEY_COLUMNS)).returning(*_INSERTED)
    )


def _insert_new(dialect: str, rows: list[tuple[Any, ...]]) -> Any:
    src = NEW_LOGS.source(dialect, rows)
    names = [c for c, _ in NEW_LOGS.columns]
    return (
        dialect_insert_for(dialect)(TaskLog.__table__)
        .from_select(names, select(*[src.c[c] for c in names]).order_by(src.c.n))
        .on_conflict_do_nothing(index_elements=list(KEY_COLUMNS))
        .returning(*_INSERTED)
    )
