"""The rules of timesheets and working-hours reports.

Every report, whichever path asks for it (`/timesheets/`, the weekly grid,
Dyzo's working-hours paths, the exports), goes through the same two steps:
`_prepare` checks the input and the caller's right to see the time, and
picks the report's time zone and local days; then either `timesheet`
(grouped sums, one GROUP BY) or `log_lines` (each log's share of each day)
asks the database once. The zone comes from the employee's (or project's,
or company's) row, read first through the reference repository: the report's
days cannot be known before it.

Days are local days of ONE zone per report: the employee's (their own,
else their company's) for an employee's report, the company's for a
project-wide or company-wide one, unless `timezone` says otherwise. Weeks
start on the company's first weekday (`companies.week_start`), read with
that same row, unless `weekStart` says otherwise."""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from app.allocation.repository import allocation_repository
from app.allocation.service import figures
from app.auth.principal import Principal
from app.core.errors import FieldError, Forbidden, InputRejected, NotFound
from app.core.settings import Settings
from app.core.timeutil import hours, hours_minutes, is_known_zone, iso_utc, local_day, utcnow, zone
from app.reference.repository import ProjectContext, ReferenceRepository
from app.timesheets.repository import TIME_DIMENSIONS, Scope, TimeSum, WeekSubmission, Window, timesheet_repository

GROUP_BY = ("day", "week", "month", "task", "project", "employee")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_DAYS = 366
# Far from the calendar's edges: a local day's UTC bounds, minus the longest
# log, must stay representable. No real timesheet falls outside.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
_TIME_RANK = {"day": 1, "week": 2, "month": 3}


def totals(seconds: int) -> dict[str, Any]:
    return {"totalSeconds": seconds, "totalHours": hours(seconds), "totalTime": hours_minutes(seconds)}


# ---------------------------------------------------------------- input


@dataclass(frozen=True)
class Period:
    """The report's first and last local day (inclusive), with the names the
    client gave those bounds, so an error names the parameter it sent.

    A missing bound is filled from the span containing the other one (or
    today, in the report's zone): `default_span="month"` gives the calendar
    month, `"week"` the week starting on the company's first weekday."""

    start: date | None
    end: date | None
    start_field: str = "startDate"
    end_field: str = "endDate"
    default_span: str = "month"


@dataclass(frozen=True)
class TimesheetQuery:
    """What a report is asked for. `company_id` makes it company-wide (for
    leaders, admins and keys); otherwise `employee_id` or `project_id` is needed."""

    period: Period
    employee_id: int | None = None
    project_id: int | None = None
    task_id: int | None = None
    company_id: int | None = None
    group_by: Sequence[str] = ("day",)
    timezone: str | None = None
    week_start: str | None = None  # a weekday's name; default: the company's
    approved_only: bool = False


@dataclass
class Subject:
    """Whose time a report counts, once the caller's right to see it is checked."""

    scope: Scope
    timezone: str
    label: str  # in file names: "10", "project-7", "company-1"
    week_start: str = "monday"  # the (first) subject's company's first weekday
    employee_name: str | None = None
    project: ProjectContext | None = None
    # A plain employee asking for a project's report sees only their own time in it.
    own_time_only: bool = False


@dataclass
class _Prepared:
    subject: Subject
    start: date
    end: date
    group_by: tuple[str, ...]
    week_start: int

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def windows(self) -> Sequence[Window]:
        return _local_days(self.start, self.end, self.subject.timezone)

    def filters(self) -> dict[str, Any]:
        scope = self.subject.scope
        return {
            "employeeId": scope.employee_id,
            "projectId": scope.project_id,
            "taskId": scope.task_id,
            "companyId": scope.company_id,
            "startDate": self.start.isoformat(),
            "endDate": self.end.isoformat(),
            "groupBy": list(self.group_by),
            "timezone": self.subject.timezone,
            "weekStart": WEEKDAYS[self.week_start],
            "ownTimeOnly": self.subject.own_time_only,
            "approvedOnly": scope.approved_only,
        }


def _parse_group_by(values: Sequence[str]) -> tuple[tuple[str, ...], FieldError | None]:
    # `groupBy=day&groupBy=task` and `groupBy=day,task` mean the same.
    parts = tuple(p.strip().lower() for v in values for p in v.split(",") if p.strip()) or ("day",)
    unknown = [p for p in parts if p not in GROUP_BY]
    if unknown:
        return parts, FieldError("groupBy", f"Unknown grouping {unknown[0]!r}; use {', '.join(GROUP_BY)}.")
    if len(parts) > 2:
        return parts, FieldError("groupBy", "At most two groupings (e.g. groupBy=day&groupBy=task).")
    if len(parts) == 2:
        first, second = parts
        if first == second:
            return parts, FieldError("groupBy", f"{first!r} is given twice.")
        if first in _TIME_RANK and second in _TIME_RANK and _TIME_RANK[second] > _TIME_RANK[first]:
            # day-then-month would give every day one child; only coarse-to-fine nests.
            return parts, FieldError(
                "groupBy", f"{second!r} cannot be nested inside {first!r}; put the longer period first."
            )
    return parts, None


def _parse_week_start(value: str | None) -> tuple[int | None, FieldError | None]:
    """The weekday's index (monday 0), None when not given (the company's then)."""
    if value is None:
        return None, None
    name = value.strip().lower()
    for index, weekday in enumerate(WEEKDAYS):
        if name in (weekday, weekday[:3]):
            return index, None
    return 0, FieldError("weekStart", f"Unknown weekday {value!r}; use monday ... sunday.")


def _out_of_range(value: date | None, name: str) -> FieldError | None:
    if value is not None and not EARLIEST <= value <= LATEST:
        return FieldError(name, f"{name} must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}.")
    return None


def _check_period(start: date, end: date, period: Period) -> list[FieldError]:
    if end < start:
        return [FieldError(period.end_field, f"{period.end_field} must not be before {period.start_field}.")]
    if (end - start).days + 1 > MAX_DAYS:
        return [
            FieldError(
                period.end_field, f"A report covers at most {MAX_DAYS} days; this one has {(end - start).days + 1}."
            )
        ]
    return []


def _fill_period(period: Period, tz_name: str, week_start: int) -> tuple[date, date]:
    """Both bounds, the missing ones from the span containing the other (or
    today); a week begins on weekday `week_start` (monday 0)."""
    if period.start is not None and period.end is not None:
        return period.start, period.end
    anchor = period.start or period.end or utcnow().astimezone(zone(tz_name)).date()
    if period.default_span == "week":
        first = anchor - timedelta(days=(anchor.weekday() - week_start) % 7)
        last = first + timedelta(days=6)
    else:
        first = anchor.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return period.start or first, period.end or last


async def _subject(session: AsyncSession, query: TimesheetQuery, actor: Principal) -> Subject:
    """Whose time, in which zone and weeks, after the access rules: another
    company's employee, project, task or company is 404 (exactly like an
    unknown id); an employee asking for a colleague's time is 403."""
    reference = ReferenceRepository(session)
    subject = Subject(Scope(task_id=query.task_id), "UTC", "")
    zones: list[str] = []
    week_starts: list[str] = []
    if query.employee_id is not None:
        employee = await reference.employee_context(query.employee_id)
        if employee is None or not actor.sees(employee.company_id):
            raise NotFound("Employee", query.employee_id, "USER_NOT_FOUND")
        if not actor.reads_company_logs and not actor.is_self(query.employee_id):
            raise Forbidden("You may only see your own time.")
        subject.scope = Scope(employee_id=query.employee_id, task_id=query.task_id)
        subject.label, subject.employee_name = str(query.employee_id), employee.name
        zones.append(employee.timezone)
        week_starts.append(employee.week_start)
    if query.project_id is not None:
        project = await reference.project_context(query.project_id)
        if project is None or not actor.sees(project.company_id):
            raise NotFound("Project", query.project_id, "PROJECT_NOT_FOUND")
        subject.project = project
        subject.scope = Scope(subject.scope.employee_id, query.project_id, query.task_id)
        subject.label = subject.label or f"project-{query.project_id}"
        zones.append(project.timezone)
        week_starts.append(project.week_start)
    if query.task_id is not None:
        task = (await reference.task_contexts({query.task_id})).get(query.task_id)
        if task is None or not actor.sees(task.company_id):
            raise NotFound("Task", query.task_id, "TASK_NOT_FOUND")
    if query.company_id is not None:
        calendar = await reference.company_calendar(query.company_id)
        if calendar is None or not actor.sees(query.company_id):
            raise NotFound("Company", query.company_id, "COMPANY_NOT_FOUND")
        if not actor.reads_company_logs:
            raise Forbidden("Only team leaders, admins and service keys see a company's working hours.")
        scope = subject.scope
        subject.scope = Scope(scope.employee_id, scope.project_id, scope.task_id, query.company_id)
        subject.label = subject.label or f"company-{query.company_id}"
        zones.append(calendar.timezone)
        week_starts.append(calendar.week_start)
    if subject.scope.employee_id is None and not actor.reads_company_logs:
        # The same rule as a task's log list: a plain employee's view of a
        # project is their own share of it, not a refusal.
        scope = subject.scope
        subject.scope = Scope(actor.employee_id, scope.project_id, scope.task_id, scope.company_id)
        subject.own_time_only = True
    subject.timezone = query.timezone or (zones[0] if zones else "UTC")
    subject.week_start = week_starts[0] if week_starts else "monday"
    subject.scope = replace(subject.scope, approved_only=query.approved_only)
    return subject


async def _prepare(session: AsyncSession, query: TimesheetQuery, actor: Principal) -> _Prepared:
    """Check the input (every bad parameter at once, before touching the
    database), then the caller's right to see the time."""
    group_by, asked_week_start = _checked_input(query)
    subject = await _subject(session, query, actor)
    week_start = WEEKDAYS.index(subject.week_start) if asked_week_start is None else asked_week_start
    return _Prepared(subject, *_fill_period(query.period, subject.timezone, week_start), group_by, week_start)


def _checked_input(query: TimesheetQuery) -> tuple[tuple[str, ...], int | None]:
    """The grouping and the week's first day (None: the company's); every bad
    parameter is named at once."""
    errors: list[FieldError] = []
    group_by, problem = _parse_group_by(query.group_by)
    errors += [problem] if problem else []
    week_start, problem = _parse_week_start(query.week_start)
    errors += [problem] if problem else []
    if query.timezone is not None and not is_known_zone(query.timezone):
        errors.append(
            FieldError("timezone", f"Unknown time zone {query.timezone!r}; use an IANA name such as 'Europe/Berlin'.")
        )
    if query.employee_id is None and query.project_id is None and query.company_id is None:
        errors.append(FieldError("employeeId", "Give employeeId or projectId (or both)."))
    period = query.period
    bounds = [_out_of_range(period.start, period.start_field), _out_of_range(period.end, period.end_field)]
    errors += [e for e in bounds if e is not None]
    if period.start is not None and period.end is not None and not any(bounds):
        errors += _check_period(period.start, period.end, period)
    if errors:
        raise InputRejected(errors)
    return group_by, week_start


# ---------------------------------------------------------------- grouped reports


@dataclass
class _Group:
    sort: tuple[Any, ...]
    label: dict[str, Any]
    seconds: int = 0
    children: dict[Any, "_Group"] = field(default_factory=dict)


class _GroupKey(NamedTuple):
    """Which group a sum row falls in, where that group sorts, and its JSON keys."""

    key: Any
    sort: tuple[Any, ...]
    label: dict[str, Any]


def _key(dimension: str, row: TimeSum, week_start: int) -> _GroupKey:
    """The group of a sum row (or an empty day's) in one dimension. The row
    carries the keys of every dimension of its report."""
    if dimension in TIME_DIMENSIONS:
        day = row.day
        assert day is not None
        if dimension == "day":
            return _GroupKey(day, (day,), {"date": day.isoformat()})
        if dimension == "week":
            first = day - timedelta(days=(day.weekday() - week_start) % 7)
            return _GroupKey(first, (first,), {"weekStart": first.isoformat()})
        first = day.replace(day=1)
        return _GroupKey(first, (first,), {"month": first.strftime("%Y-%m")})
    if dimension == "task":
        assert row.task_name is not None
        return _GroupKey(
            row.task_id,
            (row.task_name.casefold(), row.task_id),
            {
                "taskId": row.task_id,
                "taskName": row.task_name,
                "projectId": row.project_id,
                "projectName": row.project_name,
            },
        )
    if dimension == "project":
        assert row.project_name is not None
        return _GroupKey(
            row.project_id,
            (row.project_name.casefold(), row.project_id),
            {"projectId": row.project_id, "projectName": row.project_name},
        )
    assert row.employee_name is not None
    return _GroupKey(
        row.employee_id,
        (row.employee_name.casefold(), row.employee_id),
        {"employeeId": row.employee_id, "employeeName": row.employee_name},
    )


def _identity(dimension: str, row: TimeSum) -> Any:
    """What tells a row's group in `dimension` apart, before its key is worked out."""
    if dimension in TIME_DIMENSIONS:
        return row.day
    if dimension == "task":
        return row.task_id
    if dimension == "project":
        return row.project_id
    return row.employee_id


def _fold(sums: list[TimeSum], prepared: _Prepared) -> list[dict[str, Any]]:
    """Sum rows into the requested one- or two-level grouping. Periods (days,
    weeks, months) are listed even without time, with zero, at both levels:
    a week grouped by day has seven rows."""
    dims, week_start = prepared.group_by, prepared.week_start
    if dims == ("day",):
        # The commonest report (a timesheet's default) needs no grouping tree.
        by_day: dict[date | None, int] = {}
        for row in sums:
            by_day[row.day] = by_day.get(row.day, 0) + row.seconds
        return [{"date": day.isoformat(), **totals(by_day.get(day, 0))} for day in prepared.days]
    # A company's year is tens of thousands of sum rows but only 366 days and
    # a few hundred entities: work out each key and label once.
    memo: dict[tuple[str, Any], _GroupKey] = {}

    def group(groups: dict[Any, _Group], dimension: str, row: TimeSum) -> _Group:
        ident = (dimension, _identity(dimension, row))
        if ident not in memo:
            memo[ident] = _key(dimension, row, week_start)
        found = memo[ident]
        if found.key not in groups:
            groups[found.key] = _Group(found.sort, found.label)
        return groups[found.key]

    top: dict[Any, _Group] = {}
    for row in sums:
        outer = group(top, dims[0], row)
        outer.seconds += row.seconds
        if len(dims) == 2:
            group(outer.children, dims[1], row).seconds += row.seconds
    # Periods without time are listed too: an empty sum per day puts them in.
    calendar = [TimeSum(seconds=0, day=d) for d in prepared.days]
    if dims[0] in TIME_DIMENSIONS:
        for day in calendar:
            group(top, dims[0], day)
    if len(dims) == 2 and dims[1] in TIME_DIMENSIONS:
        for key, outer in top.items():
            for day in calendar:
                if dims[0] not in TIME_DIMENSIONS or _key(dims[0], day, week_start).key == key:
                    group(outer.children, dims[1], day)

    def view(groups: dict[Any, _Group], nested: bool) -> list[dict[str, Any]]:
        out = []
        for each in sorted(groups.values(), key=lambda g: g.sort):
            row = {**each.label, **totals(each.seconds)}
            if nested:
                row["children"] = view(each.children, False)
            out.append(row)
        return out

    return view(top, len(dims) == 2)


@dataclass
class Report:
    """A grouped report: `rows` as the JSON answer shows them."""

    prepared: _Prepared
    rows: list[dict[str, Any]]
    total_seconds: int

    @property
    def subject(self) -> Subject:
        return self.prepared.subject

    @property
    def group_by(self) -> tuple[str, ...]:
        return self.prepared.group_by

    def total(self) -> dict[str, Any]:
        return totals(self.total_seconds)

    def filters(self) -> dict[str, Any]:
        return self.prepared.filters()

    def file_name(self, extension: str) -> str:
        p = self.prepared
        return f"timesheet-{p.subject.label}-{p.start.isoformat()}-{p.end.isoformat()}.{extension}"


async def timesheet(session: AsyncSession, settings: Settings, query: TimesheetQuery, *, actor: Principal) -> Report:
    """Working time grouped by one or two of day, week, month, task, project
    and employee; one GROUP BY in the database, after the subject's row."""
    prepared = await _prepare(session, query, actor)
    windows = _report_windows(prepared.start, prepared.end, prepared.subject.timezone, prepared.group_by)
    sums = await timesheet_repository(session).sums(
        prepared.subject.scope, windows, prepared.group_by, timedelta(hours=settings.max_log_hours)
    )
    return Report(prepared, _fold(sums, prepared), sum(row.seconds for row in sums))


# Reports ask for the same months again and again. At most 64 ranges of at
# most MAX_DAYS days are kept: a few MB at worst.
@lru_cache(maxsize=64)
def _local_days(start: date, end: date, tz_name: str) -> tuple[Window, ...]:
    """One window per local day from `start` to `end`. Building a month's
    windows took 35 µs, 2 % of the CPU of an employee's month report."""
    tz = zone(tz_name)
    windows = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        bounds = local_day(day, tz)
        windows.append(Window(day, bounds.start, bounds.end))
    return tuple(windows)


def _report_windows(start: date, end: date, tz_name: str, group_by: Sequence[str]) -> Sequence[Window]:
    """The local days; without a period dimension only the range's edges
    cut logs, so one window for the whole range does."""
    windows = _local_days(start, end, tz_name)
    if not any(d in TIME_DIMENSIONS for d in group_by):
        return [Window(windows[0].day, windows[0].start, windows[-1].end)]
    return windows


async def week_grid(
    session: AsyncSession,
    settings: Settings,
    employee_id: int | None,
    week_start: date | None,
    timezone: str | None,
    *,
    actor: Principal,
) -> dict[str, Any]:
    """The weekly timesheet people fill in: one row per task (with its
    project), one cell per day, row totals and day (column) totals, and the
    week's submission status. The week is the seven days from `week_start`
    (any weekday; default: this week's, starting on the company's first
    weekday). Its status is that of the employee's submission of the week
    starting on that same day: a grid starting on another day than the
    submitted week's is OPEN, whatever its days hold."""
    if employee_id is None:
        if actor.employee_id is None:
            raise InputRejected([FieldError("employeeId", "Give the employeeId whose week to show.")])
        employee_id = actor.employee_id
    problem = _out_of_range(week_start, "weekStart")
    if problem:
        raise InputRejected([problem])
    end = week_start + timedelta(days=6) if week_start else None
    query = TimesheetQuery(
        Period(week_start, end, "weekStart", "weekStart", default_span="week"),
        employee_id=employee_id,
        group_by=("task", "day"),
        timezone=timezone,
    )
    report = await timesheet(session, settings, query, actor=actor)
    days = report.prepared.days
    submission = await timesheet_repository(session).week_submission(employee_id, days[0])
    rows = [{**{k: v for k, v in row.items() if k != "children"}, "days": row["children"]} for row in report.rows]
    column = [sum(row["days"][i]["totalSeconds"] for row in rows) for i in range(len(days))]
    return {
        "employeeId": employee_id,
        "employeeName": report.subject.employee_name,
        "weekStart": days[0].isoformat(),
        "weekEnd": days[-1].isoformat(),
        "timezone": report.subject.timezone,
        "rows": rows,
        "dayTotals": [
            {"date": d.isoformat(), "weekday": WEEKDAYS[d.weekday()], **totals(s)}
            for d, s in zip(days, column, strict=True)
        ],
        "total": report.total(),
        **_week_status(submission),
    }


def _week_status(submission: WeekSubmission | None) -> dict[str, Any]:
    """OPEN when nothing was submitted. `approvedSeconds` is the week's total
    at its last approval, kept after a reopen: beside `total` it shows what
    changed since."""
    if submission is None:
        return {"status": "OPEN", "submissionId": None, "approvedSeconds": None}
    return {
        "status": submission.status,
        "submissionId": submission.submission_id,
        "approvedSeconds": submission.approved_seconds,
    }


async def project_time_spent(
    session: AsyncSession,
    settings: Settings,
    project_id: int,
    period: Period,
    timezone: str | None,
    *,
    actor: Principal,
    approved_only: bool = False,
) -> tuple[Report, dict[str, Any]]:
    """Time per employee on a project over the period, and the project's
    allocation figures (those count all its time, not only the period's,
    approved or not)."""
    query = TimesheetQuery(
        period, project_id=project_id, group_by=("employee",), timezone=timezone, approved_only=approved_only
    )
    report = await timesheet(session, settings, query, actor=actor)
    project = report.subject.project
    assert project is not None  # a project's report has its project
    logged = await allocation_repository(session).logged_seconds("project", project.project_id, project.logged_seconds)
    allocation = figures(project.allocated_hours, logged, project.allocation_exceeded)
    return report, {"projectId": project.project_id, "projectName": project.name, **allocation}


# ---------------------------------------------------------------- log lines


@dataclass
class LogLines:
    """Each log's share of each local day it touches, in time order."""

    prepared: _Prepared
    lines: list[dict[str, Any]]

    @property
    def total_seconds(self) -> int:
        return sum(line["totalSeconds"] for line in self.lines)

    def file_name(self, extension: str) -> str:
        p = self.prepared
        return f"timesheet-{p.subject.label}-{p.start.isoformat()}-{p.end.isoformat()}.{extension}"


async def log_lines(session: AsyncSession, settings: Settings, query: TimesheetQuery, *, actor: Principal) -> LogLines:
    prepared = await _prepare(session, query, actor)
    windows = prepared.windows()
    by_day = {w.day: w for w in windows}
    tz = zone(prepared.subject.timezone)
    shares = await timesheet_repository(session).log_shares(
        prepared.subject.scope, windows, timedelta(hours=settings.max_log_hours)
    )
    lines = []
    for share in shares:
        window = by_day[share.day]
        start, end = share.start_time, share.end_time
        part_start, part_end = max(start, window.start), min(end, window.end)
        lines.append(
            {
                "date": share.day.isoformat(),
                "taskLogId": share.task_log_id,
                "taskId": share.task_id,
                "taskName": share.task_name,
                "projectId": share.project_id,
                "projectName": share.project_name,
                "userId": share.employee_id,
                "userName": share.employee_name,
                "startTime": iso_utc(start),
                "endTime": iso_utc(end),
                # The part of the log inside this day, on the wall clock of the report's zone.
                "localStart": part_start.astimezone(tz).isoformat(),
                "localEnd": part_end.astimezone(tz).isoformat(),
                "durationSeconds": int((end - start).total_seconds()),
                **totals(share.seconds),
                "description": share.description,
                "manualAdd": bool(share.manual_add),
            }
        )
    return LogLines(prepared, lines)


async def day_working_hours(
    session: AsyncSession, settings: Settings, user_id: int, day: date, timezone: str | None, *, actor: Principal
) -> dict[str, Any]:
    """One employee's local day: its total and the logs in it (a log across
    midnight shows with its share of this day)."""
    query = TimesheetQuery(Period(day, day, "date", "date"), employee_id=user_id, timezone=timezone)
    result = await log_lines(session, settings, query, actor=actor)
    return {
        "userId": user_id,
        "userName": result.prepared.subject.employee_name,
        "date": day.isoformat(),
        "timezone": result.prepared.subject.timezone,
        **totals(result.total_seconds),
        "logs": result.lines,
    }


def _month(value: str) -> tuple[date, date]:
    try:
        if len(value) != 7:  # strptime would take "2024-1"
            raise ValueError(value)
        first = datetime.strptime(value, "%Y-%m").date()
    except ValueError as exc:
        raise InputRejected([FieldError("month", f"{value!r} is not a month; use YYYY-MM.")]) from exc
    problem = _out_of_range(first, "month")
    if problem:
        raise InputRejected([problem])
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


async def employee_month_lines(
    session: AsyncSession,
    settings: Settings,
    company_id: int,
    user_id: int,
    month: str,
    *,
    actor: Principal,
    approved_only: bool = False,
) -> LogLines:
    """An employee's logs of one local month (for the CSV export); the
    employee must belong to the path's company."""
    first, last = _month(month)
    reference = ReferenceRepository(session)
    if not actor.sees(company_id) or await reference.company_timezone(company_id) is None:
        raise NotFound("Company", company_id, "COMPANY_NOT_FOUND")
    employee = await reference.employee_context(user_id)
    if employee is None or employee.company_id != company_id:
        raise NotFound("Employee", user_id, "USER_NOT_FOUND")
    query = TimesheetQuery(Period(first, last, "month", "month"), employee_id=user_id, approved_only=approved_only)
    return await log_lines(session, settings, query, actor=actor)
