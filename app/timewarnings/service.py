"""Dyzo's time warnings, kept true by every task log write.

Stored per employee and condition: OVER_LOGGED (a local day's total above
TASKLOGS_MAX_DAILY_HOURS) and OVERLAPPING_LOG (two logs of one employee that
overlap, one warning per pair). Every write calls `keep_time_warnings` once,
from the task log service's day report, with what that report already
worked out (the touched days' totals, the written logs' overlaps): conditions
found true open their warning (or reopen it when the system had resolved
it); an edit, a delete or a restore that removes a condition resolves its
warning with `resolvedBy: "system"`. A write that finds no condition true
and removes no time (a create, a restore) costs no statement at all; one
that finds one true costs one upsert, and an edit or a delete one UPDATE
more for what it may have resolved.

UNDER_LOGGED (a past working day below TASKLOGS_MIN_DAILY_HOURS) is about
days that may have no log, which no write ever touches: it is computed when
listed, never stored (so it has no id and cannot be acted on)."""

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.errors import FieldError, Forbidden, InputRejected, NotFound
from app.core.settings import Settings
from app.core.timeutil import LocalDay, local_day, utcnow, zone
from app.events.outbox import event_of, record_events
from app.models import Company, Employee
from app.reference.repository import EmployeeContext
from app.tasklogs.repository import NearbyLog, UserRange, task_log_repository
from app.timewarnings.repository import (
    OVER_LOGGED,
    OVERLAPPING_LOG,
    UNDER_LOGGED,
    ChangedWarning,
    HeldCondition,
    TimeWarningRepository,
    WarningFilters,
    WarningRow,
)

Action = Literal["ignore", "resolve", "reopen"]
Status = Literal["open", "ignored", "resolved"]


async def keep_time_warnings(
    session: AsyncSession,
    settings: Settings,
    *,
    totals: Mapping[tuple[int, date], int],
    overlaps: Sequence[tuple[int, int]],
    logs: Mapping[int, Sequence[NearbyLog]],
    employees: Mapping[int, EmployeeContext],
    removed: AbstractSet[int],
) -> None:
    """Bring the stored warnings of a write's days and logs in line with
    what the write found: `totals` of the (employee, local day) pairs it
    touched, the `overlaps` (log, other log) of the logs it wrote, the
    employees' stored `logs` near the write (the overlaps' logs among them),
    the write's `employees` (their zones and companies, as the write loaded
    them: every employee of `totals` is among them), and the ids of logs
    whose old time it `removed` (an edit, a delete).
    Only a write that removed time can resolve a warning: a create or a
    restore only adds time."""
    limit = settings.max_daily_hours * 3600
    held = [
        HeldCondition(user_id, OVER_LOGGED, day.isoformat(), day, total)
        for (user_id, day), total in totals.items()
        if total > limit
    ]
    pairs: set[str] = set()
    if overlaps:
        by_id = {log.id: log for user_logs in logs.values() for log in user_logs}
        for log_id, other_id in overlaps:
            first, second = sorted((log_id, other_id))
            subject = f"{first}-{second}"
            if subject in pairs:
                continue
            pairs.add(subject)
            user_id = by_id[log_id].user_id
            # The day the overlap begins, in the employee's zone.
            begins = datetime.fromtimestamp(max(by_id[first].start, by_id[second].start), UTC)
            day = begins.astimezone(zone(employees[user_id].timezone if user_id in employees else "UTC")).date()
            held.append(HeldCondition(user_id, OVERLAPPING_LOG, subject, day, None, first, second))
    repo = TimeWarningRepository(session)
    opened = await repo.hold(held)
    resolved: list[ChangedWarning] = []
    if removed:
        # The removed logs' employees are among those whose days the write touched.
        resolved = await repo.resolve_gone(
            (key for key, total in totals.items() if total <= limit), {user_id for user_id, _ in totals}, removed, pairs
        )
    if opened or resolved:  # rare: most writes change no warning
        companies = {user_id: employee.company_id for user_id, employee in employees.items()}
        await _tell(session, companies, opened, resolved)


async def _tell(
    session: AsyncSession, companies: Mapping[int, int], opened: Sequence[Any], resolved: Sequence[Any]
) -> None:
    """Queue warning.opened / warning.resolved in the write's transaction (the
    outbox), each for its employee's company (`companies`, by employee id)."""
    if not opened and not resolved:
        return
    events = [
        event_of(event_type, companies[w.user_id], _identity_and_condition(w))
        for event_type, warnings in (("warning.opened", opened), ("warning.resolved", resolved))
        for w in warnings
    ]
    await record_events(session, events)


def _identity_and_condition(warning: Any) -> dict[str, Any]:
    """What an event tells of a warning, and what the list view starts with:
    which warning, whose day, and its condition (JSON as stored)."""
    return {
        "warningId": warning.id,
        "type": warning.type,
        "userId": warning.user_id,
        "date": warning.day.isoformat(),
        "totalSeconds": warning.total_seconds,
        "taskLogIds": [i for i in (warning.first_log_id, warning.second_log_id) if i is not None],
        "status": warning.status,
    }


def warning_view(row: WarningRow) -> dict[str, Any]:
    return {
        **_identity_and_condition(row),
        "resolvedBy": row.resolved_by,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "actionBy": row.action_by,
        "note": row.note,
    }


@dataclass
class WarningPage:
    warnings: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


# Longest window of computed UNDER_LOGGED days one list may ask for.
UNDER_LOGGED_MAX_DAYS = 62


async def list_time_warnings(
    session: AsyncSession,
    settings: Settings,
    filters: WarningFilters,
    page: int,
    page_size: int,
    *,
    actor: Principal,
) -> WarningPage:
    """A company's warnings, newest day first. Admins, keys and team leaders
    see the company's; employees their own (asking for another employee's
    gives an empty list). UNDER_LOGGED days are computed (see the module)."""
    if not actor.sees(filters.company_id):
        raise NotFound("Company", filters.company_id, "COMPANY_NOT_FOUND")
    if not actor.reads_company_logs:
        if filters.user_id is not None and filters.user_id != actor.employee_id:
            return WarningPage([], 0, page, page_size)
        filters = replace(filters, user_id=actor.employee_id)
    if filters.type == UNDER_LOGGED:
        found = await _under_logged_days(session, settings, filters)
        start = (page - 1) * page_size
        return WarningPage(found[start : start + page_size], len(found), page, page_size)
    rows, total = await TimeWarningRepository(session).page(filters, (page - 1) * page_size, page_size)
    return WarningPage([warning_view(r) for r in rows], total, page, page_size)


async def _under_logged_days(
    session: AsyncSession, settings: Settings, filters: WarningFilters
) -> list[dict[str, Any]]:
    """Past working days (TASKLOGS_WORKING_DAYS, in each employee's zone) of
    the company's active employees whose total is below
    TASKLOGS_MIN_DAILY_HOURS, between start_date and end_date (default: the
    last 7 days). Always open: they are not stored."""
    if settings.min_daily_hours <= 0 or filters.status != "open":
        return []
    today = utcnow().date()
    last = filters.end_date or today - timedelta(days=1)
    first = filters.start_date or last - timedelta(days=6)
    if (last - first).days >= UNDER_LOGGED_MAX_DAYS:
        raise InputRejected(
            [
                FieldError(
                    "start_date",
                    f"UNDER_LOGGED is computed for at most {UNDER_LOGGED_MAX_DAYS} days at a time.",
                    "RANGE_TOO_LONG",
                )
            ]
        )
    employees = await _active_employees(session, filters.company_id, filters.user_id)
    window = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    working = [day for day in window if day.isoweekday() in settings.working_days]
    days: dict[int, list[LocalDay]] = {}
    for user_id, zone_name in employees:
        tz = zone(zone_name)
        local_today = utcnow().astimezone(tz).date()
        days[user_id] = [local_day(day, tz) for day in working if day < local_today]
    longest = timedelta(hours=settings.max_log_hours)
    ranges = [UserRange(user_id, ds[0].start - longest, ds[-1].end) for user_id, ds in days.items() if ds]
    by_user: dict[int, list[NearbyLog]] = {}
    for log in await task_log_repository(session).logs_starting_between(ranges):
        by_user.setdefault(log.user_id, []).append(log)
    minimum = settings.min_daily_hours * 3600
    found: list[dict[str, Any]] = []
    for user_id, user_days in days.items():
        for local in user_days:
            lo, hi = int(local.start.timestamp()), int(local.end.timestamp())
            seconds = sum(max(0, min(log.end, hi) - max(log.start, lo)) for log in by_user.get(user_id, []))
            if seconds < minimum:
                found.append(
                    {
                        "warningId": None,
                        "type": UNDER_LOGGED,
                        "userId": user_id,
                        "date": local.day.isoformat(),
                        "totalSeconds": seconds,
                        "taskLogIds": [],
                        "status": "open",
                        "resolvedBy": None,
                        "createdAt": None,
                        "updatedAt": None,
                        "actionBy": None,
                        "note": None,
                    }
                )
    found.sort(key=lambda w: (w["date"], -w["userId"]), reverse=True)
    return found


async def _active_employees(session: AsyncSession, company_id: int, user_id: int | None) -> list[tuple[int, str]]:
    """(id, effective zone) of the company's active employees (or the one)."""
    stmt = (
        select(Employee.id, Employee.timezone, Company.timezone)
        .join(Company, Company.id == Employee.company_id)
        .where(Employee.company_id == company_id, Employee.is_active.is_(True))
        .order_by(Employee.id)
    )
    if user_id is not None:
        stmt = stmt.where(Employee.id == user_id)
    return [(r[0], r[1] or r[2]) for r in await session.execute(stmt)]


_OUTCOME: dict[Action, Status] = {"ignore": "ignored", "resolve": "resolved", "reopen": "open"}


async def act_on_time_warnings(
    session: AsyncSession, warning_ids: list[int], action: Action, note: str | None, *, actor: Principal
) -> list[dict[str, Any]]:
    """Ignore, resolve or reopen warnings, all or none: an unknown id, or
    another company's, is a 422 naming it. Admins and keys act on their
    company's warnings; employees (team leaders too) only resolve their own."""
    repo = TimeWarningRepository(session)
    found = await repo.lock(warning_ids)
    missing = [
        FieldError(f"warningIds[{i}]", f"Time warning {wid} does not exist.", "WARNING_NOT_FOUND")
        for i, wid in enumerate(warning_ids)
        if wid not in found or not actor.sees(found[wid].company_id)
    ]
    if missing:
        raise InputRejected(missing)
    if not actor.acts_for_others:
        if action != "resolve":
            raise Forbidden("Employees may only resolve their own time warnings.")
        if any(not actor.is_self(row.user_id) for row in found.values()):
            raise Forbidden("You may only resolve your own time warnings.")
    status = _OUTCOME[action]
    updated = await repo.set_status(
        warning_ids, status, actor.label if status == "resolved" else None, actor.label, note
    )
    # Only a change of status is news: resolving a resolved warning tells nothing.
    changed = [updated[wid] for wid in dict.fromkeys(warning_ids) if found[wid].status != status]
    await _tell(
        session,
        {row.user_id: row.company_id for row in found.values()},
        [w for w in changed if w.status == "open"],
        [w for w in changed if w.status == "resolved"],
    )
    return [warning_view(updated[wid]) for wid in dict.fromkeys(warning_ids)]
