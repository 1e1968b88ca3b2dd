"""Task log persistence: set-based statements only (one INSERT for a whole
batch, one GROUP BY for a set of day windows), never a query per item."""

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
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
    tuple_,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles

from app.core.rows import named_as
from app.core.sql import (
    Condition,
    RowsTable,
    UTCDateTime,
    among,
    columns_as_arrays,
    dialect_insert_for,
    epoch_seconds,
    for_dialect,
    ids_param,
    seconds_between,
)
from app.models import Employee, Task, TaskLog

LogKey = tuple[int, int, datetime]  # (task_id, user_id, start_time): the duplicate rule
KEY_COLUMNS = ("task_id", "user_id", "start_time")

# The write path uses the table's columns, not the mapped class: Core
# statements skip the ORM's bookkeeping of the rows they return.
_LOGS = TaskLog.__table__.c

# Sets of rows the write path hands to single statements.
NEW_LOGS = RowsTable(
    "new",
    [
        ("task_id", BigInteger()),
        ("user_id", BigInteger()),
        ("start_time", UTCDateTime()),
        ("end_time", UTCDateTime()),
        ("description", Text()),
        ("manual_add", Boolean()),
    ],
)
KEYS = RowsTable("k", [("task_id", BigInteger()), ("user_id", BigInteger()), ("start_time", UTCDateTime())])
USER_RANGES = RowsTable("r", [("user_id", BigInteger()), ("lo", UTCDateTime()), ("hi", UTCDateTime())])


class UserRange(NamedTuple):
    """USER_RANGES' row: an employee's logs that start in [lo, hi)."""

    user_id: int
    lo: datetime
    hi: datetime


class NewLog(NamedTuple):
    """A log to insert: the values of NEW_LOGS' columns."""

    task_id: int
    user_id: int
    start_time: datetime
    end_time: datetime
    description: str
    manual_add: bool

    @property
    def key(self) -> LogKey:
        return (self.task_id, self.user_id, self.start_time)


class InsertedLog(NamedTuple):
    """What the database gave a log it inserted."""

    id: int
    created_at: datetime
    updated_at: datetime


class _OfferedAndNearby(NamedTuple):
    """PostgreSQL `_insert_or_find`'s one row. For each NEW_LOGS row it
    resolved, by 1-based position `n`: the id of the log it inserted or
    found, and the inserted log's created_at and updated_at (None for a
    stored log). Then `_NearbyLogs`' arrays with a `near_` prefix. Arrays
    are None when there are no rows."""

    id: list[int] | None
    n: list[int] | None
    created_at: list[datetime | None] | None
    updated_at: list[datetime | None] | None
    near_id: list[int] | None
    near_user_id: list[int] | None
    near_start: list[int] | None
    near_end: list[int] | None


class _NearbyLogs(NamedTuple):
    """`_nearby_logs_lateral`'s one row: NearbyLog's columns as arrays, by
    user and start (None when there are no logs)."""

    id: list[int] | None
    user_id: list[int] | None
    start: list[int] | None
    end: list[int] | None


class NearbyLog(NamedTuple):
    """A stored log near a write, its instants in whole seconds since 1970."""

    id: int
    user_id: int
    start: int
    end: int


class Offered(NamedTuple):
    """What `insert_or_find` made of the rows, by the row's position: the
    logs it inserted and the ids of the stored logs it found; and the logs
    stored in the ranges it was asked about, as they were before the insert
    (the inserted ones are not among them)."""

    inserted: dict[int, InsertedLog]
    stored: dict[int, int]
    nearby: list[NearbyLog]


class TaskLogRow(NamedTuple):
    """A task log as shown (see `task_log_view`), with its company."""

    id: int
    task_id: int
    project_id: int
    user_id: int
    user_name: str
    start_time: datetime
    end_time: datetime
    description: str
    manual_add: bool
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    version: int
    company_id: int


# The columns of TaskLogRow, in its order; project and user name come from
# joins. Core columns: the rows are plain.
_LOG_TABLE, _TASKS, _EMPLOYEES = TaskLog.__table__, Task.__table__.c, Employee.__table__.c
VIEW_COLUMNS = named_as(
    TaskLogRow,
    (
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
    ),
)


def _task_log_rows(result: Any) -> list[TaskLogRow]:
    """A list's rows as TaskLogRows. `.all()` fetches them in one call (row by
    row iteration cost a Python call per row, a tenth of a 1,000-log page)."""
    return list(map(TaskLogRow._make, result.all()))


def _view_select() -> Any:
    return (
        select(*VIEW_COLUMNS)
        .join(Task.__table__, _TASKS.id == _LOG_TABLE.c.task_id)
        .join(Employee.__table__, _EMPLOYEES.id == _LOG_TABLE.c.user_id)
    )


@dataclass(frozen=True)
class LogSearch:
    """The filters of a search of task logs, resolved by the service: access
    rules already applied (`company_id`, the employees), instants in UTC.
    A log is in the window when it overlaps [start, end)."""

    employee_ids: tuple[int, ...] | None = None
    project_ids: tuple[int, ...] | None = None
    task_ids: tuple[int, ...] | None = None
    company_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    # Logs are at most this long (the write rule), so a log overlapping the
    # window starts after `start - longest`: the scan of the time index
    # starts there instead of at the first log ever.
    starts_after: datetime | None = None
    manual_add: bool | None = None
    text: str | None = None
    updated_since: datetime | None = None
    descending: bool = False


class KeysetPosition(NamedTuple):
    """The last row a page gave: the next page starts after it."""

    start_time: datetime
    id: int


class _project_tasks(Condition):
    """`_project_tasks(task_id, ids)`: the log's task is one of the projects'
    tasks. PostgreSQL gets `task_id = ANY(ARRAY(SELECT ...))`: the tasks are
    read first and the logs by the (task_id, start_time) index, where an
    `IN (SELECT ...)` may be planned as a join over a scan of every log."""

    inherit_cache = True


def _project_task_ids(ids: Any) -> Any:
    return select(_TASKS.id).where(among(_TASKS.project_id, ids)).scalar_subquery()


@compiles(_project_tasks)
def _project_tasks_pg(element: _project_tasks, compiler: Any, **kw: Any) -> str:
    task_id, ids = element.clauses
    tasks = compiler.process(_project_task_ids(ids), **kw)
    return f"{compiler.process(task_id, **kw)} = ANY(ARRAY{tasks})"


@compiles(_project_tasks, "sqlite")
def _project_tasks_sqlite(element: _project_tasks, compiler: Any, **kw: Any) -> str:
    task_id, ids = element.clauses
    return f"{compiler.process(task_id, **kw)} IN {compiler.process(_project_task_ids(ids), **kw)}"


def _like_pattern(text: str) -> str:
    """`%text%` with LIKE's own wildcards escaped (escape character `\\`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SearchShape(NamedTuple):
    """What a search's statement is made of: which filters it has, not their
    values (those are its parameters). A page's statement is built once per
    shape and reused: building and keying it anew cost more than the rest of
    a small page's SQL work."""

    one_employee: bool  # `user_id = :employee_id`
    employees: bool  # `user_id = ANY(:employee_ids)`
    one_task: bool
    tasks: bool
    projects: bool
    company: bool
    end: bool
    start: bool
    starts_after: bool
    manual_add: bool
    text: bool
    updated_since: bool
    descending: bool
    after: bool  # a later page: after the position (:after_start, :after_id)

    @classmethod
    def of(cls, search: LogSearch, after: KeysetPosition | None) -> "SearchShape":
        def one_or_many(ids: tuple[int, ...] | None) -> tuple[bool, bool]:
            return (ids is not None and len(ids) == 1, ids is not None and len(ids) != 1)

        return cls(
            *one_or_many(search.employee_ids),
            *one_or_many(search.task_ids),
            projects=search.project_ids is not None,
            company=search.company_id is not None,
            end=search.end is not None,
            start=search.start is not None,
            starts_after=search.starts_after is not None,
            manual_add=search.manual_add is not None,
            text=search.text is not None,
            updated_since=search.updated_since is not None,
            descending=search.descending,
            after=after is not None,
        )


# Bounded: the shapes clients use are few, but a client could ask for many.
@functools.lru_cache(maxsize=256)
def _search_select(shape: SearchShape) -> Any:
    """The logs of a search of this shape as shown, in (start_time, id) order
    (or its reverse), after the position, at most :limit. Keyset, never
    OFFSET: a page costs the same wherever it is, and rows inserted before
    the position do not move the rows after it. Each filter is a condition
    the indexes serve: (user_id, start_time), (task_id, start_time) --
    projects through their tasks --, (start_time, id) and (updated_at)."""
    log = _LOG_TABLE.c
    stmt = _view_select()
    # One employee or task (the usual query) is a plain equality: the planner
    # then knows it reads one range of the index, where `= ANY(list)` has it
    # guess at a list and sort the rows by employee to join them.
    if shape.one_employee:
        stmt = stmt.where(log.user_id == bindparam("employee_id"))
    if shape.employees:
        stmt = stmt.where(among(log.user_id, ids_param("employee_ids")))
    if shape.one_task:
        stmt = stmt.where(log.task_id == bindparam("task_id"))
    if shape.tasks:
        stmt = stmt.where(among(log.task_id, ids_param("task_ids")))
    if shape.projects:
        stmt = stmt.where(_project_tasks(log.task_id, ids_param("project_ids")))
    if shape.company:
        stmt = stmt.where(_EMPLOYEES.company_id == bindparam("company_id"))
    if shape.end:
        stmt = stmt.where(log.start_time < bindparam("end", type_=UTCDateTime()))
    if shape.start:
        stmt = stmt.where(log.end_time > bindparam("start", type_=UTCDateTime()))
    if shape.starts_after:
        stmt = stmt.where(log.start_time > bindparam("starts_after", type_=UTCDateTime()))
    if shape.manual_add:
        stmt = stmt.where(log.manual_add == bindparam("manual_add", type_=Boolean()))
    if shape.text:
        stmt = stmt.where(log.description.ilike(bindparam("text", type_=Text()), escape="\\"))
    if shape.updated_since:
        stmt = stmt.where(log.updated_at >= bindparam("updated_since", type_=UTCDateTime()))
    if shape.after:
        here = tuple_(log.start_time, log.id)
        there = tuple_(bindparam("after_start", type_=UTCDateTime()), bindparam("after_id", type_=BigInteger()))
        stmt = stmt.where(here < there if shape.descending else here > there)
    order = (log.start_time.desc(), log.id.desc()) if shape.descending else (log.start_time, log.id)
    return stmt.order_by(*order).limit(bindparam("limit", type_=Integer()))


def _search_params(search: LogSearch) -> dict[str, Any]:
    return {
        "employee_ids": search.employee_ids,
        "employee_id": search.employee_ids[0] if search.employee_ids and len(search.employee_ids) == 1 else None,
        "task_ids": search.task_ids,
        "task_id": search.task_ids[0] if search.task_ids and len(search.task_ids) == 1 else None,
        "project_ids": search.project_ids,
        "company_id": search.company_id,
        "start": search.start,
        "end": search.end,
        "starts_after": search.starts_after,
        "manual_add": search.manual_add,
        "text": None if search.text is None else _like_pattern(search.text),
        "updated_since": search.updated_since,
    }


class TaskLogRepository:
    """Shared SQL; `task_log_repository(session)` picks the database's own
    implementation of what differs (the batch insert, the nearby logs)."""

    dialect = "postgresql"

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_or_find(self, rows: list[NewLog], author: str, near: Sequence[UserRange] = ()) -> Offered:
        """Insert the rows (each with a distinct (task, user, start) key),
        written by `author`, whose key is free, and find the stored logs of
        the others. The database decides, so concurrent uploads of the same
        entries cannot both win. Also reads `logs_starting_between(near)` as
        it was before the insert, in the same round trip: a write's day
        totals need the logs around it."""
        raise NotImplementedError

    async def logs_starting_between(self, ranges: Sequence[UserRange]) -> list[NearbyLog]:
        """The logs of each (user, lo, hi) range that start in [lo, hi), by
        user and start, instants in seconds since 1970 (integers: cheaper to
        fetch and to add up than datetimes): one range scan of the
        (user_id, start_time) index per user."""
        raise NotImplementedError

    async def _stored(self, rows: list[NewLog], positions: list[int]) -> dict[int, int]:
        """The stored logs' ids of the rows at these positions, by position."""
        ids = await self.ids_by_key(rows[i].key for i in positions)
        return {i: ids[rows[i].key] for i in positions if rows[i].key in ids}

    async def ids_by_key(self, keys: Iterable[LogKey]) -> dict[LogKey, int]:
        keys = list(keys)
        if not keys:
            return {}
        rows = await self.session.execute(_ids_by_key(self.dialect), KEYS.params(self.dialect, keys))
        return {(r.task_id, r.user_id, r.start_time): r.id for r in rows}

    async def get_view(self, log_id: int, *, lock: bool = False) -> TaskLogRow | None:
        row = (await self.session.execute(_one_log(lock), {"id": log_id})).one_or_none()
        return None if row is None else TaskLogRow._make(row)

    async def list_for_task(
        self, task_id: int, offset: int | None, limit: int | None, *, user_id: int | None = None
    ) -> list[TaskLogRow]:
        stmt = _task_list(paged=limit is not None, mine=user_id is not None)
        params = {"task_id": task_id, "user_id": user_id, "offset": offset or 0, "limit": limit}
        return _task_log_rows(await self.session.execute(stmt, params))

    async def search(self, search: LogSearch, after: KeysetPosition | None, limit: int) -> list[TaskLogRow]:
        """At most `limit` logs matching `search`, after the position."""
        params = {k: v for k, v in _search_params(search).items() if v is not None}
        params["limit"] = limit
        if after is not None:
            params["after_start"], params["after_id"] = after
        return _task_log_rows(await self.session.execute(_search_select(SearchShape.of(search, after)), params))

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
            update(TaskLog)
            .where(TaskLog.id == log_id)
            .values(**changes, updated_at=func.now(), version=TaskLog.version + 1)
        )

    async def restore(self, row: dict[str, Any]) -> None:
        """Put a deleted log back under its own id."""
        await self.session.execute(insert(TaskLog).values(**row, updated_at=func.now()))

    async def delete(self, log_id: int) -> None:
        await self.session.execute(delete(TaskLog).where(TaskLog.id == log_id))


class _PostgresTaskLogs(TaskLogRepository):
    async def insert_or_find(self, rows: list[NewLog], author: str, near: Sequence[UserRange] = ()) -> Offered:
        """One statement: logs already stored are found first and not offered
        to the INSERT (a re-sent batch then costs a look-up, not a thousand
        conflicting inserts); the INSERT still skips what a concurrent
        writer stored meanwhile. Rows come back by position, with only what
        the caller lacks: a re-sent thousand is a thousand pairs of ids. The
        nearby logs come in the same row; every part of one statement reads
        the snapshot it began with, so they are the logs before the insert."""
        if not rows:
            return Offered({}, {}, await self.logs_starting_between(near))
        inserted: dict[int, InsertedLog] = {}
        stored: dict[int, int] = {}
        params = {"author": author, **NEW_LOGS.params("postgresql", rows), **USER_RANGES.params("postgresql", near)}
        offered = _OfferedAndNearby._make((await self.session.execute(_insert_or_find(), params)).one())
        for log_id, n, created_at, updated_at in zip(
            offered.id or (), offered.n or (), offered.created_at or (), offered.updated_at or (), strict=True
        ):
            if created_at is None:  # a stored log
                stored[n - 1] = log_id
            else:
                assert updated_at is not None  # set with created_at
                inserted[n - 1] = InsertedLog(log_id, created_at, updated_at)
        nearby = _nearby_logs(_NearbyLogs(offered.near_id, offered.near_user_id, offered.near_start, offered.near_end))
        if len(inserted) + len(stored) == len(rows):
            return Offered(inserted, stored, nearby)
        # Stored by a writer that committed after this statement began: the
        # INSERT skipped it, and the statement's snapshot cannot see it.
        late = [i for i in range(len(rows)) if i not in inserted and i not in stored]
        return Offered(inserted, stored | await self._stored(rows, late), nearby)

    async def logs_starting_between(self, ranges: Sequence[UserRange]) -> list[NearbyLog]:
        if not ranges:
            return []
        params = USER_RANGES.params("postgresql", ranges)
        return _nearby_logs(_NearbyLogs._make((await self.session.execute(_nearby_logs_lateral(), params)).one()))


class _SqliteTaskLogs(TaskLogRepository):
    dialect = "sqlite"

    async def insert_or_find(self, rows: list[NewLog], author: str, near: Sequence[UserRange] = ()) -> Offered:
        """The nearby logs first (this transaction holds the one write lock,
        so they are the logs before the insert); then the rows as parameters
        (SQLAlchemy sends them as multi-row INSERTs); what the INSERT skipped
        is looked up after."""
        nearby = await self.logs_starting_between(near)
        if not rows:
            return Offered({}, {}, nearby)
        result = await self.session.execute(
            _insert_rows(), [row._asdict() | {"created_by": author, "updated_by": author} for row in rows]
        )
        position = {row.key: i for i, row in enumerate(rows)}
        inserted = {
            position[(r.task_id, r.user_id, r.start_time)]: InsertedLog(r.id, r.created_at, r.updated_at)
            for r in result
        }
        return Offered(inserted, await self._stored(rows, [i for i in range(len(rows)) if i not in inserted]), nearby)

    async def logs_starting_between(self, ranges: Sequence[UserRange]) -> list[NearbyLog]:
        if not ranges:
            return []
        params = USER_RANGES.params("sqlite", ranges)
        return [NearbyLog._make(row) for row in await self.session.execute(_nearby_logs_join(), params)]


def _nearby_logs(logs: _NearbyLogs) -> list[NearbyLog]:
    """PostgreSQL: the logs of a row of arrays, one NearbyLog each."""
    return list(map(NearbyLog, logs.id or (), logs.user_id or (), logs.start or (), logs.end or ()))


def task_log_repository(session: AsyncSession) -> TaskLogRepository:
    return for_dialect(session, postgresql=_PostgresTaskLogs, sqlite=_SqliteTaskLogs)


_NEARBY_COLUMNS = (
    _LOGS.id,
    _LOGS.user_id,
    epoch_seconds(_LOGS.start_time).label("start"),
    epoch_seconds(_LOGS.end_time).label("end"),
)


def _starting_in(r: Any) -> tuple[Any, ...]:
    return (_LOGS.user_id == r.c.user_id, _LOGS.start_time >= r.c.lo, _LOGS.start_time < r.c.hi)


@functools.cache
def _ids_by_key(dialect: str) -> Any:
    k = KEYS.source(dialect)
    return select(_LOGS.id, _LOGS.task_id, _LOGS.user_id, _LOGS.start_time).join(
        k, (_LOGS.task_id == k.c.task_id) & (_LOGS.user_id == k.c.user_id) & (_LOGS.start_time == k.c.start_time)
    )


@functools.cache
def _nearby_logs_join() -> Any:
    """SQLite: no LATERAL; its joins are nested loops anyway, one index range per range given."""
    r = USER_RANGES.source("sqlite")
    return select(*_NEARBY_COLUMNS).join(r, and_(*_starting_in(r))).order_by(_LOGS.user_id, _LOGS.start_time, _LOGS.id)


@functools.cache
def _nearby_logs_lateral() -> Any:
    """PostgreSQL: a range scan per user, whatever the planner guesses of the
    ranges (a plain join, or a LATERAL it flattens into one, may get hashed
    against a scan of the whole table). OFFSET 0 keeps it as written. One
    row of arrays, `_NearbyLogs` (see `columns_as_arrays`)."""
    r = USER_RANGES.source("postgresql")
    logs = select(*_NEARBY_COLUMNS, _LOGS.start_time).where(*_starting_in(r)).offset(0).lateral("logs")
    by_start = (logs.c.user_id, logs.c.start_time, logs.c.id)
    return (
        columns_as_arrays([logs.c.id, logs.c.user_id, logs.c.start, logs.c.end], *by_start)
        .select_from(r)
        .join(logs, true())
    )


@functools.cache
def _one_log(lock: bool) -> Any:
    """The log :id as shown; its row locked for the write when `lock`."""
    stmt = _view_select().where(_LOGS.id == bindparam("id"))
    return stmt.with_for_update(of=_LOG_TABLE) if lock else stmt


@functools.cache
def _task_list(*, paged: bool, mine: bool) -> Any:
    """A task's logs as shown, oldest first; of :user_id only when `mine`, a
    page (:offset, :limit) when `paged`. Built once: a task can have tens of
    thousands of logs, and each request would otherwise build it anew."""
    stmt = _view_select().where(_LOGS.task_id == bindparam("task_id")).order_by(_LOGS.start_time, _LOGS.id)
    if mine:
        stmt = stmt.where(_LOGS.user_id == bindparam("user_id"))
    if paged:
        stmt = stmt.offset(bindparam("offset")).limit(bindparam("limit"))
    return stmt


_INSERTED = (_LOGS.id, _LOGS.task_id, _LOGS.user_id, _LOGS.start_time, _LOGS.created_at, _LOGS.updated_at)


@functools.cache
def _insert_rows() -> Any:
    """SQLite: the rows' INSERT, skipping those whose key is taken."""
    return (
        dialect_insert_for("sqlite")(TaskLog.__table__)
        .on_conflict_do_nothing(index_elements=list(KEY_COLUMNS))
        .returning(*_INSERTED)
    )


@functools.cache
def _insert_or_find() -> Any:
    """PostgreSQL: `_OfferedAndNearby`, the logs that the NEW_LOGS arrays'
    rows became or repeat, and the logs stored in the USER_RANGES ranges, as
    one row of arrays (see `columns_as_arrays`)."""
    # A CTE, so the arrays are sent and unnested once for its three uses.
    src = select(NEW_LOGS.source("postgresql")).cte("src")
    names = [c for c, _ in NEW_LOGS.columns]
    author = bindparam("author", type_=String())

    def same_key(logs: Any) -> Any:
        return (
            (logs.c.task_id == src.c.task_id)
            & (logs.c.user_id == src.c.user_id)
            & (logs.c.start_time == src.c.start_time)
        )

    stored = select(_LOGS.id, src.c.n).join(src, same_key(TaskLog.__table__)).cte("stored")
    # Inserted in key order: concurrent overlapping batches then take the
    # unique-index locks in the same order and cannot deadlock.
    fresh = (
        select(*[src.c[c] for c in names], author.label("created_by"), author.label("updated_by"))
        .where(src.c.n.not_in(select(stored.c.n)))
        .order_by(src.c.task_id, src.c.user_id, src.c.start_time)
    )
    inserted = (
        dialect_insert_for("postgresql")(TaskLog.__table__)
        .from_select([*names, "created_by", "updated_by"], fresh)
        .on_conflict_do_nothing(index_elements=list(KEY_COLUMNS))
        .returning(*_INSERTED)
        .cte("inserted")
    )
    found = union_all(
        select(inserted.c.id, src.c.n, inserted.c.created_at, inserted.c.updated_at).join(src, same_key(inserted)),
        select(stored.c.id, stored.c.n, null().label("created_at"), null().label("updated_at")),
    ).subquery("found")
    offered = columns_as_arrays(list(found.c), found.c.n).subquery("offered")
    nearby = _nearby_logs_lateral().subquery("nearby")
    return select(*offered.c, *[c.label(f"near_{c.name}") for c in nearby.c]).select_from(offered.join(nearby, true()))
