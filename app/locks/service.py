"""Locked periods: which logs no write may touch, and the company's lock
date that admins move.

A log is locked when its start falls
- on or before its company's `lockedThrough` local day (in the employee's
  zone), or
- in a week of the employee that is SUBMITTED or APPROVED (the week's UTC
  bounds stored at submission; app/submissions/).

Every write of a log (create, bulk, edit, delete, restore, a timer's stop)
asks `PeriodLocks` about the time it adds and the time it takes away, after
it took its employees' write turn, so a lock that commits meanwhile is seen:
moving the lock date (`set_lock_date`) and submitting a week take the same
turn first. The only way past a lock is to move it, which is recorded."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.errors import Conflict, FieldError, Forbidden, NotFound
from app.core.timeutil import iso_utc
from app.events.outbox import NewEvent, record_events
from app.locks.repository import LockRow, PeriodLockRepository
from app.models import Company
from app.reference.repository import ReferenceRepository

PERIOD_LOCKED = "PERIOD_LOCKED"


@dataclass(frozen=True)
class LockedWeek:
    submission_id: int
    week_start: date
    week_end: date
    starts_at: datetime
    ends_at: datetime
    status: str


@dataclass
class _EmployeeLocks:
    locked_through: date | None = None
    weeks: list[LockedWeek] = field(default_factory=list)


@dataclass(frozen=True)
class Refusal:
    """Why an instant is locked: the message and the error's extra data."""

    message: str
    extra: dict[str, Any]

    def conflict(self) -> Conflict:
        return Conflict(self.message, PERIOD_LOCKED, **self.extra)

    def field_error(self, field_name: str) -> FieldError:
        return FieldError(field_name, self.message, PERIOD_LOCKED)


class PeriodLocks:
    """What locks the logs of some employees near a write."""

    def __init__(self, rows: Iterable[LockRow]) -> None:
        self._by_user: dict[int, _EmployeeLocks] = defaultdict(_EmployeeLocks)
        for row in rows:
            if row.locked_through is None and row.submission_id is None:
                continue  # nothing locks this employee's time near the write
            locks = self._by_user[row.user_id]
            locks.locked_through = row.locked_through
            if row.submission_id is not None:
                assert row.week_start and row.week_end and row.starts_at and row.ends_at and row.status
                locks.weeks.append(
                    LockedWeek(row.submission_id, row.week_start, row.week_end, row.starts_at, row.ends_at, row.status)
                )

    @classmethod
    async def near(cls, session: AsyncSession, starts: Iterable[tuple[int, datetime]]) -> "PeriodLocks":
        """The locks of these (employee, log start) pairs; one statement."""
        pairs = list(starts)
        if not pairs:
            return cls(())
        instants = [start for _, start in pairs]
        rows = await PeriodLockRepository(session).locks_of(
            [user_id for user_id, _ in pairs], min(instants), max(instants)
        )
        return cls(rows)

    def locks_anyone(self) -> bool:
        """Whether any of the employees has a lock near the write (most
        writes: none, and their logs need no look-up one by one)."""
        return bool(self._by_user)

    def refusal(self, user_id: int, start: datetime, tz: ZoneInfo) -> Refusal | None:
        """Why a log of this employee starting at `start` is locked, or None."""
        locks = self._by_user.get(user_id)
        if locks is None:
            return None
        if locks.locked_through is not None and start.astimezone(tz).date() <= locks.locked_through:
            through = locks.locked_through.isoformat()
            return Refusal(
                f"Time up to and including {through} is locked (the company's lock date): "
                "logs starting then cannot be created, changed or deleted.",
                {"lockedThrough": through},
            )
        for week in locks.weeks:
            if week.starts_at <= start < week.ends_at:
                return Refusal(
                    f"Employee {user_id}'s week {week.week_start.isoformat()} to {week.week_end.isoformat()} is "
                    f"{week.status.lower()} (submission {week.submission_id}): its logs cannot be created, "
                    "changed or deleted unless it is rejected or reopened.",
                    {"submissionId": week.submission_id, "weekStart": week.week_start.isoformat()},
                )
        return None

    def refuse(self, user_id: int, start: datetime, tz: ZoneInfo) -> None:
        """409 PERIOD_LOCKED if a log of this employee starting at `start` is locked."""
        refusal = self.refusal(user_id, start, tz)
        if refusal is not None:
            raise refusal.conflict()


# ---------------------------------------------------------------- the company's lock date


def lock_view(company_id: int, locked_through: date | None) -> dict[str, Any]:
    return {"companyId": company_id, "lockedThrough": None if locked_through is None else locked_through.isoformat()}


async def set_lock_date(
    session: AsyncSession, company_id: int, locked_through: date | None, *, actor: Principal
) -> dict[str, Any]:
    """Move the company's lock date (None unlocks everything). Admins of the
    company, its keys and platform keys only; recorded in its history."""
    if not actor.sees(company_id) or not await ReferenceRepository(session).exists(Company, company_id):
        raise NotFound("Company", company_id, "COMPANY_NOT_FOUND")
    if not actor.acts_for_others:
        raise Forbidden("Only the company's admins may move its lock date.")
    locks = PeriodLockRepository(session)
    await locks.wait_for_writers(company_id)
    previous = await locks.locked_through(company_id)
    view = lock_view(company_id, locked_through)
    if previous != locked_through:
        before = lock_view(company_id, previous)["lockedThrough"]
        await locks.set_locked_through(company_id, locked_through)
        await locks.record_change(
            company_id, "lock", {"lockedThrough": before}, {"lockedThrough": view["lockedThrough"]}, actor.label
        )
        moved = view | {"previousLockedThrough": before, "changedBy": actor.label}
        await record_events(session, [NewEvent("lock.moved", company_id, moved)])
    return view


async def company_history(
    session: AsyncSession, company_id: int, page: int, page_size: int, *, actor: Principal
) -> tuple[list[dict[str, Any]], int]:
    """The company's recorded changes (its lock date's moves), oldest first."""
    if not actor.sees(company_id) or not await ReferenceRepository(session).exists(Company, company_id):
        raise NotFound("Company", company_id, "COMPANY_NOT_FOUND")
    if not actor.reads_company_logs:
        raise Forbidden("Only the company's team leaders and admins may read its history.")
    rows, total = await PeriodLockRepository(session).changes(company_id, (page - 1) * page_size, page_size)
    return [
        {
            "changeId": row.id,
            "companyId": row.company_id,
            "action": row.action,
            "before": row.before,
            "after": row.after,
            "changedBy": row.changed_by,
            "changedAt": iso_utc(row.changed_at),
        }
        for row in rows
    ], total
