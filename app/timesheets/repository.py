"""Timesheet sums in SQL, on PostgreSQL and SQLite alike.

Every report is one statement: a VALUES CTE of windows (one per local day,
bounds computed in Python with zoneinfo, so a DST day is simply a 23 or 25
hour window) joined to task_logs, each log contributing only its share inside
each window. A log that crosses local midnight therefore lands on both days,
and the database does the GROUP BY.

The task_logs side is sargable on the (user_id | task_id, start_time)
indexes: a log counts only if it starts in [range start - max_log_hours,
range end), logs being at most `max_log_hours` long.

The windows side is an equi-join, not "every log against every window"
(logs x 366 comparisons for a year): each log gets a day bucket, whole days
since an anchor computed from its start, and each window is listed under
the few buckets a log overlapping it can have (its own bucket shifted by
-2..+1 days for 24 h logs and windows of at most 25 h). The database then
hashes the windows on the bucket, and the exact overlap test runs only on
those few candidates.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, String, column, func, select, values
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sql import UTCDateTime, epoch_seconds, greatest, least, seconds_between
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


def _entity_columns(dimension: str) -> list[Any]:
    if dimension == "task":
        return [TaskLog.task_id.label("task_id"), Task.name.label("task_name"),
                Task.project_id.label("project_id"), Project.name.label("project_name")]
    if dimension == "project":
        return [Task.project_id.label("project_id"), Project.name.label("project_name")]
    if dimension == "employee":
        return [TaskLog.user_id.label("employee_id"), Employee.name.label("employee_name")]
    raise ValueError(dimension)


def _plain(result: Any) -> list[dict[str, Any]]:
    """Rows as dicts, `day` as a date and `seconds` as an int on both databases;
    rows without time (a log touching a window only at its edge) are dropped."""
    keys = list(result.keys())
    days: dict[str, date] = {}
    out = []
    for record in result.all():
        item = dict(zip(keys, record, strict=True))
        item["seconds"] = int(item["seconds"] or 0)
        if item["seconds"] <= 0:
            continue
        if "day" in item:
            text = item["day"]
            item["day"] = days.get(text) or days.setdefault(text, date.fromisoformat(text))
        out.append(item)
    return out


class TimesheetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _shares(self, scope: Scope, windows: Sequence[Window], max_log: timedelta) -> tuple[Any, Any, Select[Any]]:
        """(windows (with `day`, `ds`, `de`), share-in-window expression, FROM/WHERE of every report)."""
        range_start = min(x.start for x in windows)
        range_end = max(x.end for x in windows)
        # Day buckets counted from an anchor before any log that can count, so
        # the integer division is a floor on both databases.
        anchor = int((range_start - max_log).timestamp()) - DAY_SECONDS
        longest = max(x.end - x.start for x in windows)
        # A window can overlap a log only if it starts after (log start -
        # window length) and before (log start + max_log): those buckets.
        offsets = range(-math.ceil(longest / timedelta(days=1)), math.ceil(max_log / timedelta(days=1)) + 1)
        # One row per (window, bucket a log overlapping it can start in),
        # listed here rather than computed in SQL so that the bucket is a
        # plain column the database can hash (PostgreSQL) or index (SQLite).
        candidates = (
            values(column("bucket", Integer), column("day", String), column("ds", UTCDateTime),
                   column("de", UTCDateTime), name="candidates")
            .data([((int(x.start.timestamp()) - anchor) // DAY_SECONDS - offset, x.day.isoformat(), x.start, x.end)
                   for x in windows for offset in offsets])
            .cte("candidates")
        )
        bucket = (epoch_seconds(TaskLog.start_time) - anchor) // DAY_SECONDS
        share = seconds_between(greatest(TaskLog.start_time, candidates.c.ds),
                                least(TaskLog.end_time, candidates.c.de))
        stmt = (
            select()
            .select_from(candidates)
            # Equality on the bucket lets the database hash (or index) the
            # windows instead of comparing every log with every window.
            .join(TaskLog, (candidates.c.bucket == bucket) & (TaskLog.start_time < candidates.c.de)
                  & (TaskLog.end_time > candidates.c.ds))
            .join(Task, Task.id == TaskLog.task_id)
            .join(Project, Project.id == Task.project_id)
            .join(Employee, Employee.id == TaskLog.user_id)
            .where(
                # Sargable on the (user_id | task_id, start_time) indexes.
                TaskLog.start_time >= range_start - max_log,
                TaskLog.start_time < range_end,
                TaskLog.end_time > range_start,
            )
        )
        if scope.employee_id is not None:
            stmt = stmt.where(TaskLog.user_id == scope.employee_id)
        if scope.task_id is not None:
            stmt = stmt.where(TaskLog.task_id == scope.task_id)
        if scope.project_id is not None:
            stmt = stmt.where(Task.project_id == scope.project_id)
        if scope.company_id is not None:
            stmt = stmt.where(Employee.company_id == scope.company_id)
        return candidates, share, stmt

    async def sums(
        self, scope: Scope, windows: Sequence[Window], dimensions: Sequence[str], max_log: timedelta
    ) -> list[dict[str, Any]]:
        """Seconds per combination of the dimensions' keys (only combinations
        that have time). Rows carry `day` (ISO date) when a time dimension is
        asked for, and the ids and names of the entity dimensions."""
        if not windows:
            return []
        w, share, stmt = self._shares(scope, windows, max_log)
        keys: list[Any] = []
        if any(d in TIME_DIMENSIONS for d in dimensions):
            keys.append(w.c.day.label("day"))
        seen: set[str] = set()
        for dimension in dimensions:
            if dimension in TIME_DIMENSIONS:
                continue
            for col in _entity_columns(dimension):
                if col.key not in seen:
                    seen.add(col.key)
                    keys.append(col)
        stmt = stmt.add_columns(*keys, func.sum(share).label("seconds"))
        if keys:
            stmt = stmt.group_by(*keys)
        return _plain(await self.session.execute(stmt))

    async def log_shares(
        self, scope: Scope, windows: Sequence[Window], max_log: timedelta
    ) -> list[dict[str, Any]]:
        """Each log's share of each day it touches, in time order: the lines
        of a day view or an export (a log across midnight is two lines)."""
        if not windows:
            return []
        w, share, stmt = self._shares(scope, windows, max_log)
        stmt = stmt.add_columns(
            w.c.day.label("day"), TaskLog.id, TaskLog.task_id, Task.name.label("task_name"),
            Task.project_id, Project.name.label("project_name"), TaskLog.user_id,
            Employee.name.label("employee_name"), TaskLog.start_time, TaskLog.end_time, TaskLog.description,
            TaskLog.manual_add, share.label("seconds"),
        ).order_by(w.c.day, TaskLog.start_time, TaskLog.id)
        return _plain(await self.session.execute(stmt))

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

