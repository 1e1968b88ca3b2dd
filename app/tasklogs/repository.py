"""Task log persistence: set-based statements only (one INSERT for a whole
batch, one GROUP BY for a set of day windows), never a query per item."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    String,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    null,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sql import (
    RowsTable,
    UTCDateTime,
    dialect_insert_for,
    dialect_of,
    epoch_seconds,
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
])
KEYS = RowsTable("k", [("task_id", BigInteger()), ("user_id", BigInteger()), ("start_time", UTCDateTime())])
USER_RANGES = RowsTable("r", [("user_id", BigInteger()), ("lo", UTCDateTime()), ("hi", UTCDateTime())])


# Columns a task log is shown with, in the order task_log_view reads them;
# project and user name come from joins. Core columns: the rows are plain.
_LOG_TABLE, _TASKS, _EMPLOYEES = TaskLog.__table__, Task.__table__.c, Employee.__table__.c
VIEW_COLUMNS = (
    _LOG_TABLE.c.id,
    _LOG_TABLE.c.task_id,
    _TASKS.project_id,
    _LOG_TABLE.c.user_id,
    _EMPLOYEES.name.label("user_name"),
    _LOG_TABLE.c.start_time,
    _LOG_TABLE.c.end_time,
    _LOG_TABLE.c.description,
    _LOG_TABLE.c.manual_add,
    _LOG_TABLE.c.created_at,
    _LOG_TABLE.c.updated_at,
    _LOG_TABLE.c.created_by,
    _LOG_TABLE.c.updated_by,
    _LOG_TABLE.c.version,
    _EMPLOYEES.company_id,
)


def _view_select() -> Any:
    return (
        select(*VIEW_COLUMNS)
        .join(Task.__table__, _TASKS.id == _LOG_TABLE.c.task_id)
        .join(Employee.__table__, _EMPLOYEES.id == _LOG_TABLE.c.user_id)
    )


class TaskLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_or_find(
        self, rows: list[tuple[Any, ...]], author: str
    ) -> tuple[dict[int, Any], dict[int, int]]:
        """Insert the rows (values of NEW_LOGS' columns, each with a distinct
        (task, user, start) key), written by `author`, whose key is free, and
        find the stored logs of the others. The database decides, so
        concurrent uploads of the same entries cannot both win. Returns, by
        the row's position, the inserted logs (id, created_at, updated_at)
        and the stored logs' ids."""
        if not rows:
            return {}, {}
        if dialect_of(self.session) == "sqlite":
            # The rows as parameters: SQLAlchemy sends them as multi-row INSERTs.
            names = [c for c, _ in NEW_LOGS.columns]
            stmt = prebuilt(self.session, "task_logs.insert_rows", _insert_rows)
            result = await self.session.execute(
                stmt, [dict(zip(names, r, strict=True), created_by=author, updated_by=author) for r in rows])
            position = {r[:3]: i for i, r in enumerate(rows)}
            inserted = {position[(r.task_id, r.user_id, r.start_time)]: r for r in result}
            return inserted, await self._stored(rows, [i for i in range(len(rows)) if i not in inserted])
        # One statement: logs already stored are found first and not offered
        # to the INSERT (a re-sent batch then costs a look-up, not a thousand
        # conflicting inserts); the INSERT still skips what a concurrent
        # writer stored meanwhile. Rows come back by position, with only what
        # the caller lacks: a re-sent thousand is a thousand pairs of ids.
        stmt = prebuilt(self.session, "task_logs.insert_or_find", _insert_or_find)
        inserted, stored = {}, {}
        params = {"author": author, **NEW_LOGS.params("postgresql", rows)}
        for row in await self.session.execute(stmt, params):
            if row[2] is None:  # no created_at: a stored log
                stored[row[1] - 1] = row[0]
            else:
                inserted[row[1] - 1] = row
        if len(inserted) + len(stored) == len(rows):
            return inserted, stored
        # Stored by a writer that committed after this statement began: the
        # INSERT skipped it, and the statement's snapshot cannot see it.
        late = [i for i in range(len(rows)) if i not in inserted and i not in stored]
        return inserted, stored | await self._stored(rows, late)

    async def _stored(self, rows: list[tuple[Any, ...]], positions: list[int]) -> dict[int, int]:
        """The stored logs' ids of the rows at these positions, by position."""
        ids = await self.ids_by_key(rows[i][:3] for i in positions)
        return {i: ids[rows[i][:3]] for i in positions if rows[i][:3] in ids}

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
            stmt = stmt.with_for_update(of=_LOG_TABLE)
        return (await self.session.execute(stmt)).one_or_none()

    async def list_for_task(
        self, task_id: int, offset: int | None, limit: int | None, *, user_id: int | None = None
    ) -> list[Any]:
        paged, mine = limit is not None, user_id is not None
        stmt = prebuilt(self.session, f"task_logs.list_for_task.{paged}.{mine}", lambda d: _task_list(paged, mine))
        params = {"task_id": task_id, "user_id": user_id, "offset": offset or 0, "limit": limit}
        return list((await self.session.execute(stmt, params)).all())

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

    async def logs_starting_between(self, ranges: list[tuple[int, datetime, datetime]]) -> list[Any]:
        """(id, user_id, start, end) of the logs of each (user, lo, hi) range
        that start in [lo, hi), by user and start, the instants in seconds
        since 1970 (integers: cheaper to fetch and to add up than datetimes):
        one range scan of the (user_id, start_time) index per user."""
        if not ranges:
            return []

        def build(dialect: str) -> Any:
            r = USER_RANGES.source(dialect, ranges)
            columns = (_LOGS.id, _LOGS.user_id, epoch_seconds(_LOGS.start_time).label("start"),
                       epoch_seconds(_LOGS.end_time).label("end"))
            within = (_LOGS.user_id == r.c.user_id, _LOGS.start_time >= r.c.lo, _LOGS.start_time < r.c.hi)
            if dialect == "sqlite":  # no LATERAL; its joins are nested loops anyway
                return select(*columns).join(r, and_(*within)).order_by(_LOGS.user_id, _LOGS.start_time, _LOGS.id)
            # A range scan per user, whatever the planner guesses of the ranges
            # (a plain join, or a LATERAL it flattens into one, may get hashed
            # against a scan of the whole table). OFFSET 0 keeps it as written.
            logs = select(*columns, _LOGS.start_time).where(*within).offset(0).lateral("logs")
            return (select(logs.c.id, logs.c.user_id, logs.c.start, logs.c.end).select_from(r).join(logs, true())
                    .order_by(logs.c.user_id, logs.c.start_time, logs.c.id))

        stmt = prebuilt(self.session, "task_logs.logs_starting_between", build, carries_rows=True)
        return list((await self.session.execute(stmt, USER_RANGES.params(dialect_of(self.session), ranges))).all())

def _task_list(paged: bool, mine: bool) -> Any:
    """A task's logs as shown, oldest first; of :user_id only when `mine`, a
    page (:offset, :limit) when `paged`. Built once: a task can have tens of
    thousands of logs, and each request would otherwise build it anew."""
    stmt = _view_select().where(_LOGS.task_id == bindparam("task_id")).order_by(_LOGS.start_time, _LOGS.id)
    if mine:
        stmt = stmt.where(_LOGS.user_id == bindparam("user_id"))
    if paged:
        stmt = stmt.offset(bindparam("offset")).limit(bindparam("limit"))
    return stmt


def _insert_rows(dialect: str) -> Any:
    return (
        dialect_insert_for(dialect)(TaskLog.__table__)
        .on_conflict_do_nothing(index_elements=list(KEY_COLUMNS)).returning(*_INSERTED)
    )


def _insert_or_find(dialect: str) -> Any:
    # A CTE, so the arrays are sent and unnested once for its three uses.
    src = select(NEW_LOGS.source(dialect, [])).cte("src")
    names = [c for c, _ in NEW_LOGS.columns]
    author = bindparam("author", type_=String())

    def same_key(logs: Any) -> Any:
        return (logs.c.task_id == src.c.task_id) & (logs.c.user_id == src.c.user_id) & (
            logs.c.start_time == src.c.start_time)

    stored = select(_LOGS.id, src.c.n).join(src, same_key(TaskLog.__table__)).cte("stored")
    # Inserted in key order: concurrent overlapping batches then take the
    # unique-index locks in the same order and cannot deadlock.
    fresh = (
        select(*[src.c[c] for c in names], author.label("created_by"), author.label("updated_by"))
        .where(src.c.n.not_in(select(stored.c.n)))
        .order_by(src.c.task_id, src.c.user_id, src.c.start_time)
    )
    inserted = (
        dialect_insert_for(dialect)(TaskLog.__table__).from_select([*names, "created_by", "updated_by"], fresh)
        .on_conflict_do_nothing(index_elements=list(KEY_COLUMNS))
        .returning(*_INSERTED).cte("inserted")
    )
    # (id, position, created_at, updated_at); a stored log has no created_at.
    return union_all(
        select(inserted.c.id, src.c.n, inserted.c.created_at, inserted.c.updated_at).join(src, same_key(inserted)),
        select(stored.c.id, stored.c.n, null(), null()),
    )
