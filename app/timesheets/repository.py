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
year); how a log finds its windows is where the two databases differ, so
`TimesheetRepository` holds what they share and `PostgresTimesheetRepository`
and `SqliteTimesheetRepository` only the way to the windows
(`timesheet_repository` picks one from the session's dialect, once).

PostgreSQL gets the windows as three sorted arrays and each log finds its
own windows by binary search (`width_bucket` of its start and of its end in
the windows' starts): one or two per log, with no join for the planner to
get wrong. (A join of windows and logs was hashed or not depending on the
planner's guess of the logs' count; its generic plan, the one a prepared
statement settles on, once became a nested loop over every window for
every log on a 100,000-log table.)

SQLite has no arrays: it gets the windows as a VALUES list in an
equi-join: each log gets a day bucket, whole days since an anchor computed
from its start, and each window is listed under the few buckets a log
overlapping it can have (its own bucket shifted by -2..+1 days for 24 h
logs and windows of at most 25 h); the exact overlap test runs only on
those few candidates.

A report may count only the logs of approved weeks (`Scope.approved_only`):
an EXISTS on timesheet_submissions, the same text on both databases, asks
for an APPROVED week of the log's employee holding the log's start.

Statements are built by module-level functions cached on their own
arguments (the report's shape: which filters, which groupings; on SQLite
also how many candidate rows the VALUES list has). Every value, windows
included, is a bound parameter, so one statement serves every report of its
shape, whatever its dates, zone or ids, and PostgreSQL prepares it once per
connection.
"""

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

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
    exists,
    func,
    literal_column,
    select,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import Grouping

from app.core.rows import named_as
from app.core.sql import UTCDateTime, epoch_seconds, greatest, least, seconds_between
from app.models import Employee, Project, Task, TaskLog, TimesheetSubmission

# The dimensions a report can group by. Time dimensions all group on the
# window's day (and are folded into weeks or months by the service, a few
# hundred rows at most); entity dimensions group on their ids, with the
# names carried along so one statement answers the whole report.
TIME_DIMENSIONS = ("day", "week", "month")
DAY_SECONDS = 86400
# A submitted week is seven local days: at most 7 days and a DST hour long.
# A week starting earlier than this before a report's earliest possible log
# cannot hold it, so the approved-week probe reads only the report's weeks.
LONGEST_WEEK = timedelta(days=8)


@dataclass(frozen=True)
class Window:
    """One local day of the report, as a UTC half-open interval."""

    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Scope:
    """Whose logs a report counts; every given filter applies (AND).
    `approved_only`: only logs starting in one of their employee's APPROVED
    weeks (starts_at <= start < ends_at of the submission)."""

    employee_id: int | None = None
    project_id: int | None = None
    task_id: int | None = None
    company_id: int | None = None
    approved_only: bool = False


@dataclass(frozen=True, slots=True)
class TimeSum:
    """Seconds logged in one combination of a report's keys. Only the keys of
    the report's dimensions are set: `day` for a time dimension, the task
    (with its project) for `task`, the project for `project`, the employee
    for `employee`."""

    seconds: int
    day: date | None = None
    task_id: int | None = None
    task_name: str | None = None
    project_id: int | None = None
    project_name: str | None = None
    employee_id: int | None = None
    employee_name: str | None = None


@dataclass(frozen=True, slots=True)
class LogShare:
    """One log's share (`seconds`) of one local day it touches."""

    day: date
    task_log_id: int
    task_id: int
    task_name: str
    project_id: int
    project_name: str
    employee_id: int
    employee_name: str
    start_time: datetime
    end_time: datetime
    description: str
    manual_add: bool
    seconds: int


@dataclass(frozen=True)
class ReportShape:
    """What a report statement's text depends on: which filters it has, and
    what it answers (`dimensions`' sums, or each log's share when `lines`).
    Hashable: it is the statement builders' cache key."""

    employee: bool
    project: bool
    task: bool
    company: bool
    approved_only: bool = False
    dimensions: tuple[str, ...] = ()
    lines: bool = False

    @classmethod
    def of(cls, scope: Scope, dimensions: Sequence[str] = (), *, lines: bool = False) -> "ReportShape":
        return cls(
            employee=scope.employee_id is not None,
            project=scope.project_id is not None,
            task=scope.task_id is not None,
            company=scope.company_id is not None,
            approved_only=scope.approved_only,
            dimensions=tuple(dimensions),
            lines=lines,
        )


class WeekSubmission(NamedTuple):
    """An employee's submission of one week, as the weekly grid shows it."""

    submission_id: int
    status: str
    approved_seconds: int | None


_WEEK_SUBMISSION = named_as(
    WeekSubmission,
    select(
        TimesheetSubmission.id.label("submission_id"),
        TimesheetSubmission.status,
        TimesheetSubmission.approved_seconds,
    ).where(
        TimesheetSubmission.user_id == bindparam("user_id"),
        TimesheetSubmission.week_start == bindparam("week_start", type_=Date()),
    ),
)


# `ident IN (ids)`, spelled the way each database runs best.
Membership = Callable[[Any, Select[Any]], ColumnElement[bool]]


class TimesheetRepository(ABC):
    """Report sums and log shares. Subclasses say only how a log finds the
    report's windows; build one with `timesheet_repository(session)`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sums(
        self, scope: Scope, windows: Sequence[Window], dimensions: Sequence[str], max_log: timedelta
    ) -> list[TimeSum]:
        """Seconds per combination of the dimensions' keys, only combinations
        that have time (a log touching a window only at its edge has none)."""
        if not windows:
            return []
        result = await self._execute(ReportShape.of(scope, dimensions), scope, windows, max_log)
        # Each shape has its own columns, named as TimeSum's fields. Read by
        # the result's own keys: asking a row for a column its shape lacks
        # costs an exception inside SQLAlchemy, per row and column.
        columns = tuple(result.keys())
        sums = []
        for record in result:
            row = dict(zip(columns, record, strict=True))
            # PostgreSQL sums bigints as numeric.
            seconds = int(row.pop("seconds") or 0)
            if seconds > 0:
                sums.append(TimeSum(seconds=seconds, **row))
        return sums

    async def log_shares(self, scope: Scope, windows: Sequence[Window], max_log: timedelta) -> list[LogShare]:
        """Each log's share of each day it touches, in time order: the lines
        of a day view or an export (a log across midnight is two lines)."""
        if not windows:
            return []
        result = await self._execute(ReportShape.of(scope, lines=True), scope, windows, max_log)
        columns = tuple(result.keys())  # named as LogShare's fields
        shares = [LogShare(**dict(zip(columns, record, strict=True))) for record in result]
        return [share for share in shares if share.seconds > 0]

    async def week_submission(self, user_id: int, week_start: date) -> WeekSubmission | None:
        """The employee's submission of the week starting on `week_start`
        (unique per employee and first day), or None."""
        row = (await self.session.execute(_WEEK_SUBMISSION, {"user_id": user_id, "week_start": week_start})).first()
        return None if row is None else WeekSubmission(*row)

    async def _execute(self, shape: ReportShape, scope: Scope, windows: Sequence[Window], max_log: timedelta) -> Any:
        range_start, range_end = min(x.start for x in windows), max(x.end for x in windows)
        # A shape without a filter has no place for its id: SQLAlchemy ignores that parameter.
        params: dict[str, Any] = {
            "earliest_start": range_start - max_log,
            "range_start": range_start,
            "range_end": range_end,
            "employee_id": scope.employee_id,
            "project_id": scope.project_id,
            "task_id": scope.task_id,
            "company_id": scope.company_id,
            "earliest_week_start": range_start - max_log - LONGEST_WEEK,
        }
        stmt, window_params = self._report(shape, windows, max_log)
        return await self.session.execute(stmt, params | window_params)

    @abstractmethod
    def _report(
        self, shape: ReportShape, windows: Sequence[Window], max_log: timedelta
    ) -> tuple[Select[Any], dict[str, Any]]:
        """The shape's statement, and the parameters that carry the windows."""


class PostgresTimesheetRepository(TimesheetRepository):
    def _report(
        self, shape: ReportShape, windows: Sequence[Window], max_log: timedelta
    ) -> tuple[Select[Any], dict[str, Any]]:
        return _postgres_report(shape), {
            "days": [x.day for x in windows],
            "starts": [x.start for x in windows],
            "ends": [x.end for x in windows],
        }


class SqliteTimesheetRepository(TimesheetRepository):
    def _report(
        self, shape: ReportShape, windows: Sequence[Window], max_log: timedelta
    ) -> tuple[Select[Any], dict[str, Any]]:
        buckets = _Buckets.of(windows, max_log)
        candidates = buckets.candidates(windows)
        params: dict[str, Any] = {"anchor": buckets.anchor}
        for n, candidate in enumerate(candidates):
            params |= candidate.params(n)
        return _sqlite_report(shape, len(candidates)), params


def timesheet_repository(session: AsyncSession) -> TimesheetRepository:
    """The repository for the session's database, decided once here."""
    if session.get_bind().dialect.name == "sqlite":
        return SqliteTimesheetRepository(session)
    return PostgresTimesheetRepository(session)


# ---------------------------------------------------------------- PostgreSQL


@functools.cache
def _postgres_report(shape: ReportShape) -> Select[Any]:
    candidates = _windows_of_each_log()
    logs = (
        select()
        .select_from(TaskLog)
        .join(candidates, (TaskLog.start_time < candidates.c.de) & (TaskLog.end_time > candidates.c.ds))
    )
    return _report_statement(shape, logs, candidates, _read_ids_first)


def _read_ids_first(ident: Any, ids: Select[Any]) -> ColumnElement[bool]:
    """`ident = ANY(ARRAY(ids))`: the ids are read first and the
    (user_id | task_id, start_time) index is probed once per id, where a
    semi-join may scan the whole table."""
    return ident == any_(func.array(ids.scalar_subquery()))


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


# ---------------------------------------------------------------- SQLite


class _Candidate(NamedTuple):
    """A window listed under one day bucket a log overlapping it can have."""

    bucket: int
    day: date
    start: datetime
    end: datetime

    def params(self, n: int) -> dict[str, Any]:
        """The values of the VALUES list's row `n` (see `_sqlite_report`)."""
        return {f"bucket_{n}": self.bucket, f"day_{n}": self.day, f"ds_{n}": self.start, f"de_{n}": self.end}


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

    def candidates(self, windows: Sequence[Window]) -> list[_Candidate]:
        """Each window under each bucket a log overlapping it can start in."""
        return [
            _Candidate((int(x.start.timestamp()) - self.anchor) // DAY_SECONDS - shift, x.day, x.start, x.end)
            for x in windows
            for shift in self.shifts
        ]


# A report's candidate count varies with its length (and the longest log), so
# SQLite's statements are kept for the most recent few hundred shapes.
@functools.lru_cache(maxsize=512)
def _sqlite_report(shape: ReportShape, candidate_rows: int) -> Select[Any]:
    """The shape's statement with a VALUES list of `candidate_rows` rows of
    bound parameters (`_Candidate.params`); the bucket is a plain column there,
    which SQLite can index for the equi-join."""
    rows = [
        (
            bindparam(f"bucket_{n}", type_=BigInteger()),
            bindparam(f"day_{n}", type_=Date()),
            bindparam(f"ds_{n}", type_=UTCDateTime()),
            bindparam(f"de_{n}", type_=UTCDateTime()),
        )
        for n in range(candidate_rows)
    ]
    candidates = (
        values(
            column("bucket", BigInteger()),
            column("day", Date()),
            column("ds", UTCDateTime()),
            column("de", UTCDateTime()),
            name="candidates",
        )
        .data(rows)
        .cte("candidates")
    )
    bucket = (epoch_seconds(TaskLog.start_time) - bindparam("anchor", type_=BigInteger())) // DAY_SECONDS
    logs = (
        select()
        .select_from(candidates)
        .join(
            TaskLog,
            (candidates.c.bucket == bucket)
            & (TaskLog.start_time < candidates.c.de)
            & (TaskLog.end_time > candidates.c.ds),
        )
    )
    # SQLite probes the index per id for a plain IN already.
    return _report_statement(shape, logs, candidates, lambda ident, ids: ident.in_(ids))


# ---------------------------------------------------------------- both


def _report_statement(shape: ReportShape, logs: Select[Any], candidates: FromClause, member: Membership) -> Select[Any]:
    """The report on `logs`, a select of task_logs already joined to the
    `candidates` windows (columns day, ds, de) each log may have time in."""
    share = seconds_between(greatest(TaskLog.start_time, candidates.c.ds), least(TaskLog.end_time, candidates.c.de))
    stmt = logs.where(
        # Sargable on the (user_id | task_id, start_time) indexes.
        TaskLog.start_time >= bindparam("earliest_start", type_=UTCDateTime()),
        TaskLog.start_time < bindparam("range_end", type_=UTCDateTime()),
        TaskLog.end_time > bindparam("range_start", type_=UTCDateTime()),
    )
    if shape.employee:
        stmt = stmt.where(TaskLog.user_id == bindparam("employee_id"))
    if shape.task:
        stmt = stmt.where(TaskLog.task_id == bindparam("task_id"))
    if shape.project:
        stmt = stmt.where(member(TaskLog.task_id, select(Task.id).where(Task.project_id == bindparam("project_id"))))
    if shape.company:
        stmt = stmt.where(
            member(TaskLog.user_id, select(Employee.id).where(Employee.company_id == bindparam("company_id")))
        )
    if shape.approved_only:
        stmt = stmt.where(_in_an_approved_week())
    if shape.lines:
        # Labelled as LogShare's fields.
        return (
            stmt.join(Task, Task.id == TaskLog.task_id)
            .join(Project, Project.id == Task.project_id)
            .join(Employee, Employee.id == TaskLog.user_id)
            .add_columns(
                candidates.c.day.label("day"),
                TaskLog.id.label("task_log_id"),
                TaskLog.task_id.label("task_id"),
                Task.name.label("task_name"),
                Task.project_id.label("project_id"),
                Project.name.label("project_name"),
                TaskLog.user_id.label("employee_id"),
                Employee.name.label("employee_name"),
                TaskLog.start_time.label("start_time"),
                TaskLog.end_time.label("end_time"),
                TaskLog.description.label("description"),
                TaskLog.manual_add.label("manual_add"),
                share.label("seconds"),
            )
            .order_by(candidates.c.day, TaskLog.start_time, TaskLog.id)
        )
    return _grouped(stmt, candidates, share, shape.dimensions)


def _in_an_approved_week() -> ColumnElement[bool]:
    """The log starts in an APPROVED week of its employee. On the
    (user_id, starts_at) index, bounded below by the report's first week:
    each log reads its employee's weeks of the report's range at most,
    not all their weeks since they started."""
    week = TimesheetSubmission
    return exists(
        select(week.id).where(
            week.user_id == TaskLog.user_id,
            week.status == "APPROVED",
            week.starts_at >= bindparam("earliest_week_start", type_=UTCDateTime()),
            week.starts_at <= TaskLog.start_time,
            week.ends_at > TaskLog.start_time,
        )
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
