"""Timesheet sums in SQL, on PostgreSQL and SQLite alike.

Every report is one statement: a table of windows (one per local day,
bounds computed in Python with zoneinfo, so a DST day is simply a 23 or 25
hour window) joined to task_logs, each log contributing only its share inside
each window. A log that crosses local midnight therefore lands on both days,
and the database does the GROUP BY.

The task_logs side is sargable on the (user_id | task_id, start_time)
indexes: a log counts only if it starts in [range start - max_log_hours,
range end), logs being at most `max_log_hours` long.

A log is never compared with every window (logs x 366 comparisons for a
year). On PostgreSQL the windows are sent as three sorted arrays and each
log finds its own windows by binary search (`width_bucket` of its start and
of its end in the windows' starts): one or two per log, with no join for
the planner to get wrong. (A join of windows and logs was hashed or not
depending on the planner's guess of the logs' count; its generic plan, the
one a prepared statement settles on, once became a nested loop over every
window for every log on a 100,000-log table.) Everything else is a
parameter too, so a statement's text depends only on the report's shape
(its groupings and which filters it has): each shape is built once per
process, compiled once and prepared once per connection.

SQLite gets the windows as a VALUES list (it has no arrays), built per
report, in an equi-join: each log gets a day bucket, whole days since an
anchor computed from its start, and each window is listed under the few
buckets a log overlapping it can have (its own bucket shifted by -2..+1
days for 24 h logs and windows of at most 25 h); the exact overlap test
runs only on those few candidates.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    FromClause,
    Integer,
    Select,
    any_,
    bindparam,
    column,
    func,
    literal_column,
    null,
    select,
    union_all,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import Grouping

from app.core.sql import UTCDateTime, dialect_of, epoch_seconds, greatest, least, prebuilt, seconds_between
from app.models import Company, Employee, Project, Task, TaskLog

# The dimensions a report can group by. Time dimensions all group on the
# window's day (and are folded into weeks or months by the service, a few
# hundred rows at most); entity dimensions group on their ids, with the
# names carried along so one statement answers the whole report.
TIME_DIMENSIONS = ("day", "week", "month")
DAY_SECONDS = 86400


@dataclass(frozen=True)
class Window:
    """One local day of the report, as a UTC half-open interval."""

    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Scope:
    """Whose logs a report counts; every given filter applies (AND)."""

    employee_id: int | None = None
    project_id: int | None = None
    task_id: int | None = None
    company_id: int | None = None


@dataclass(frozen=True)
class _Shape:
    """What a report statement's text depends on: which filters it has, and
    what it answers (`dimensions`' sums, or each log's share when `lines`)."""

    employee: bool
    project: bool
    task: bool
    company: bool
    dimensions: tuple[str, ...] = ()
    lines: bool = False

    @classmethod
    def of(cls, scope: Scope, dimensions: Sequence[str] = (), *, lines: bool = False) -> "_Shape":
        return cls(scope.employee_id is not None, scope.project_id is not None, scope.task_id is not None,
                   scope.company_id is not None, tuple(dimensions), lines)


# Every employee report starts with this look-up: built once.
_EMPLOYEE = (
    select(Employee.company_id, Employee.name, func.coalesce(Employee.timezone, Company.timezone).label("timezone"))
    .join(Company, Company.id == Employee.company_id)
    .where(Employee.id == bindparam("employee_id"))
)
# The windows' columns, as the candidates table has them.
_CANDIDATE_COLUMNS = (("bucket", BigInteger()), ("day", Date()), ("ds", UTCDateTime()), ("de", UTCDateTime()))


@dataclass(frozen=True)
class _EmployeeRow:
    company_id: int
    name: str
    timezone: str


def _with_employee_row(sums: Select[Any]) -> Any:
    """The report's sum rows, then the employee's own row (company, name,
    zone) with every sum column empty; a sum row has no company. An unknown
    employee simply adds no row."""
    report = sums.subquery("report")
    return union_all(
        select(*report.c, *[null().label(c.name) for c in _EMPLOYEE.selected_columns]),
        _EMPLOYEE.with_only_columns(*[null().label(c.name) for c in report.c], *_EMPLOYEE.selected_columns),
    )


@dataclass(frozen=True)
class _Buckets:
    """Day buckets: whole days since `anchor` (Unix seconds). A log overlapping
    a window starts in that window's bucket shifted by one of `shifts`."""

    anchor: int
    shifts: range

    @classmethod
    def of(cls, windows: Sequence[Window], max_log: timedelta) -> "_Buckets":
        # An anchor before any log that can count, so the integer division
        # is a floor on both databases.
        anchor = int((min(x.start for x in windows) - max_log).timestamp()) - DAY_SECONDS
        longest = max(x.end - x.start for x in windows)
        # A window can overlap a log only if it starts after (log start -
        # window length) and before (log start + max_log): those buckets.
        return cls(anchor, range(-math.ceil(longest / timedelta(days=1)), math.ceil(max_log / timedelta(days=1)) + 1))

    def rows(self, windows: Sequence[Window]) -> list[tuple[int, date, datetime, datetime]]:
        """One row (bucket, day, start, end) per window and shift."""
        return [((int(x.start.timestamp()) - self.anchor) // DAY_SECONDS - shift, x.day, x.start, x.end)
                for x in windows for shift in self.shifts]


class TimesheetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.is_sqlite = dialect_of(session) == "sqlite"

    async def _run(self, shape: _Shape, scope: Scope, windows: Sequence[Window], max_log: timedelta, *,
                   with_employee: bool = False) -> list[dict[str, Any]]:
        range_start, range_end = min(x.start for x in windows), max(x.end for x in windows)
        params: dict[str, Any] = {
            "earliest_start": range_start - max_log, "range_start": range_start, "range_end": range_end,
            "employee_id": scope.employee_id, "project_id": scope.project_id, "task_id": scope.task_id,
            "company_id": scope.company_id,
        }
        # Day buckets are SQLite's way to the windows only (PostgreSQL searches the arrays).
        buckets = _Buckets.of(windows, max_log) if self.is_sqlite else None

        def build(dialect: str) -> Any:
            stmt = self._statement(shape, buckets.rows(windows) if buckets is not None else None)
            return _with_employee_row(stmt) if with_employee else stmt

        # One statement per shape (a few dozen at most), built once on PostgreSQL.
        key = f"timesheets.{shape!r}" + (".with_employee" if with_employee else "")
        stmt = prebuilt(self.session, key, build, carries_rows=True)
        if buckets is not None:
            params["anchor"] = buckets.anchor
        else:
            params.update(days=[x.day for x in windows], starts=[x.start for x in windows],
                          ends=[x.end for x in windows])
        # A shape without a filter has no place for its id: SQLAlchemy ignores that parameter.
        result = await self.session.execute(stmt, params)
        keys = list(result.keys())
        rows = [dict(zip(keys, record, strict=True)) for record in result.all()]
        for row in rows:
            # PostgreSQL sums bigints as numeric.
            row["seconds"] = int(row["seconds"] or 0)
        # Rows without time (a log touching a window only at its edge) are dropped.
        return rows if with_employee else [row for row in rows if row["seconds"] > 0]

    def _member(self, ident: Any, ids: Select[Any]) -> ColumnElement[bool]:
        """`ident IN (ids)`. PostgreSQL gets `= ANY(ARRAY(ids))`: the ids are
        read first and the (user_id | task_id, start_time) index is probed
        once per id, where a semi-join may scan the whole table; SQLite
        probes the index per id for a plain IN already."""
        if self.is_sqlite:
            return ident.in_(ids)
        return ident == any_(func.array(ids.scalar_subquery()))

    def _statement(self, shape: _Shape, sqlite_candidates: list[tuple[Any, ...]] | None) -> Select[Any]:
        """The report's statement; SQLite's carries its windows' candidate
        rows (`_Buckets.rows`), PostgreSQL's takes the windows as arrays."""
        candidates: FromClause
        if sqlite_candidates is None:
            candidates = _windows_of_each_log()
            stmt = select().select_from(TaskLog).join(
                candidates, (TaskLog.start_time < candidates.c.de) & (TaskLog.end_time > candidates.c.ds))
        else:
            # Listed in Python, so that the bucket is a plain column SQLite can index.
            candidates = (
                values(*[column(name, type_) for name, type_ in _CANDIDATE_COLUMNS], name="candidates")
                .data(sqlite_candidates).cte("candidates")
            )
            bucket = (epoch_seconds(TaskLog.start_time) - bindparam("anchor", type_=BigInteger())) // DAY_SECONDS
            stmt = select().select_from(candidates).join(
                TaskLog, (candidates.c.bucket == bucket) & (TaskLog.start_time < candidates.c.de)
                & (TaskLog.end_time > candidates.c.ds))
        share = seconds_between(greatest(TaskLog.start_time, candidates.c.ds),
                                least(TaskLog.end_time, candidates.c.de))
        stmt = (
            stmt
            .where(
                # Sargable on the (user_id | task_id, start_time) indexes.
                TaskLog.start_time >= bindparam("earliest_start", type_=UTCDateTime()),
                TaskLog.start_time < bindparam("range_end", type_=UTCDateTime()),
                TaskLog.end_time > bindparam("range_start", type_=UTCDateTime()),
            )
        )
        if shape.employee:
            stmt = stmt.where(TaskLog.user_id == bindparam("employee_id"))
        if shape.task:
            stmt = stmt.where(TaskLog.task_id == bindparam("task_id"))
        if shape.project:
            stmt = stmt.where(self._member(TaskLog.task_id, select(Task.id).where(
                Task.project_id == bindparam("project_id"))))
        if shape.company:
            stmt = stmt.where(self._member(TaskLog.user_id, select(Employee.id).where(
                Employee.company_id == bindparam("company_id"))))
        if shape.lines:
            return (
                stmt.join(Task, Task.id == TaskLog.task_id)
                .join(Project, Project.id == Task.project_id)
                .join(Employee, Employee.id == TaskLog.user_id)
                .add_columns(
                    candidates.c.day.label("day"), TaskLog.id, TaskLog.task_id, Task.name.label("task_name"),
                    Task.project_id, Project.name.label("project_name"), TaskLog.user_id,
                    Employee.name.label("employee_name"), TaskLog.start_time, TaskLog.end_time,
                    TaskLog.description, TaskLog.manual_add, share.label("seconds"),
                )
                .order_by(candidates.c.day, TaskLog.start_time, TaskLog.id)
            )
        return _grouped(stmt, candidates, share, shape.dimensions)

    async def sums(
        self, scope: Scope, windows: Sequence[Window], dimensions: Sequence[str], max_log: timedelta
    ) -> list[dict[str, Any]]:
        """Seconds per combination of the dimensions' keys (only combinations
        that have time). Rows carry `day` (a date) when a time dimension is
        asked for, and the ids and names of the entity dimensions."""
        if not windows:
            return []
        return await self._run(_Shape.of(scope, dimensions), scope, windows, max_log)

    async def employee_and_sums(
        self, scope: Scope, windows: Sequence[Window], dimensions: Sequence[str], max_log: timedelta
    ) -> tuple[Any, list[dict[str, Any]]]:
        """`employee(scope.employee_id)` and `sums(...)` in one round trip:
        the sums' rows and, as one more row, the employee's."""
        rows = await self._run(_Shape.of(scope, dimensions), scope, windows, max_log, with_employee=True)
        employee = next((r for r in rows if r["company_id"] is not None), None)
        sums = [r for r in rows if r["company_id"] is None and r["seconds"] > 0]
        return (_EmployeeRow(employee["company_id"], employee["name"], employee["timezone"]) if employee
                else None), sums

    async def log_shares(
        self, scope: Scope, windows: Sequence[Window], max_log: timedelta
    ) -> list[dict[str, Any]]:
        """Each log's share of each day it touches, in time order: the lines
        of a day view or an export (a log across midnight is two lines)."""
        if not windows:
            return []
        return await self._run(_Shape.of(scope, lines=True), scope, windows, max_log)

    async def employee(self, employee_id: int) -> Any:
        """(company_id, name, timezone: the employee's own, else their company's), or None."""
        return (await self.session.execute(_EMPLOYEE, {"employee_id": employee_id})).one_or_none()

    async def project(self, project_id: int) -> Any:
        """(id, company_id, name, allocated_hours, allocation_exceeded, logged_seconds, timezone of its company)."""
        stmt = (
            select(Project.id, Project.company_id, Project.name, Project.allocated_hours,
                   Project.allocation_exceeded, Project.logged_seconds, Company.timezone)
            .join(Company, Company.id == Project.company_id)
            .where(Project.id == project_id)
        )
        return (await self.session.execute(stmt)).one_or_none()

    async def company(self, company_id: int) -> Any:
        stmt = select(Company.id, Company.name, Company.timezone).where(Company.id == company_id)
        return (await self.session.execute(stmt)).one_or_none()


def _windows_of_each_log() -> FromClause:
    """PostgreSQL: for each log (a LATERAL subquery of task_logs), the
    windows it has time in. The windows come as three arrays sorted by
    start, one window's end being the next one's start; `width_bucket`
    finds by binary search the window holding the log's first instant and
    the one holding its last, and the log has time in those and any
    between (a day's log: one window, or two across midnight)."""
    # In parentheses: PostgreSQL subscripts `($1::date[])[i]`, not `$1::date[][i]`.
    days = Grouping(bindparam("days", type_=ARRAY(Date())))
    starts = Grouping(bindparam("starts", type_=ARRAY(DateTime(timezone=True))))
    ends = Grouping(bindparam("ends", type_=ARRAY(DateTime(timezone=True))))
    # 0 for a log that began before the first window: it starts in window 1.
    first = func.greatest(func.width_bucket(TaskLog.start_time, starts), literal_column("1"))
    last = func.width_bucket(TaskLog.end_time - literal_column("INTERVAL '1 microsecond'"), starts)
    index = func.generate_series(first, last).table_valued(column("i", Integer())).render_derived(name="w")
    return (
        select(days[index.c.i].label("day"), starts[index.c.i].label("ds"), ends[index.c.i].label("de"))
        .select_from(index)
        .lateral("candidates")
    )


def _grouped(stmt: Select[Any], candidates: FromClause, share: Any, dimensions: Sequence[str]) -> Select[Any]:
    """The logs' shares summed per day, task and employee id as the
    dimensions need; names (and projects) are joined to those sums, a few
    thousand rows at most, rather than to each log."""
    by_time = any(d in TIME_DIMENSIONS for d in dimensions)
    by_task = "task" in dimensions or "project" in dimensions
    by_employee = "employee" in dimensions
    keys: list[Any] = []
    if by_time:
        keys.append(candidates.c.day.label("day"))
    if by_task:
        keys.append(TaskLog.task_id.label("task_id"))
    if by_employee:
        keys.append(TaskLog.user_id.label("employee_id"))
    stmt = stmt.add_columns(*keys, func.sum(share).label("seconds"))
    if keys:
        stmt = stmt.group_by(*keys)
    if not (by_task or by_employee):
        return stmt
    sums = stmt.subquery("sums")
    named: list[Any] = [sums.c.day] if by_time else []
    outer = select().select_from(sums)
    if by_task:
        outer = outer.join(Task, Task.id == sums.c.task_id).join(Project, Project.id == Task.project_id)
        if "task" in dimensions:
            named += [sums.c.task_id, Task.name.label("task_name")]
        named += [Task.project_id.label("project_id"), Project.name.label("project_name")]
    if by_employee:
        outer = outer.join(Employee, Employee.id == sums.c.employee_id)
        named += [sums.c.employee_id, Employee.name.label("employee_name")]
    # Grouped again: a project's tasks fold into one row per project.
    return outer.add_columns(*named, func.sum(sums.c.seconds).label("seconds")).group_by(*named)
