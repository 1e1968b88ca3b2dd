"""Persistence of time warnings: set-based upserts and resolutions for the
write path, pages and locked look-ups for the Dyzo paths."""

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, case, func, literal, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.rows import named_as
from app.core.sql import dialect_insert
from app.models import Employee, TimeWarning

OVER_LOGGED = "OVER_LOGGED"
OVERLAPPING_LOG = "OVERLAPPING_LOG"
UNDER_LOGGED = "UNDER_LOGGED"
SYSTEM = "system"  # resolved_by when a write removed the condition


class HeldCondition(NamedTuple):
    """A condition a write found true: its warning opens, stays as it is, or
    reopens if the system had resolved it."""

    user_id: int
    type: str
    subject: str
    day: date
    total_seconds: int | None = None
    first_log_id: int | None = None
    second_log_id: int | None = None


class WarningRow(NamedTuple):
    id: int
    type: str
    user_id: int
    day: date
    total_seconds: int | None
    first_log_id: int | None
    second_log_id: int | None
    status: str
    resolved_by: str | None
    action_by: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime


class LockedWarning(NamedTuple):
    """A warning an action names, locked until the action's transaction ends:
    whose it is, and its status before the action."""

    id: int
    user_id: int
    status: str
    company_id: int


class ChangedWarning(NamedTuple):
    """A warning a write opened (or reopened) or resolved: what its event tells."""

    id: int
    type: str
    user_id: int
    day: date
    total_seconds: int | None
    first_log_id: int | None
    second_log_id: int | None
    status: str


_W = TimeWarning
_CHANGED = named_as(
    ChangedWarning,
    (_W.id, _W.type, _W.user_id, _W.day, _W.total_seconds, _W.first_log_id, _W.second_log_id, _W.status),
)


def _changed(row: Any) -> ChangedWarning:
    return ChangedWarning(**{name: getattr(row, name) for name in ChangedWarning._fields})


_ROW = named_as(
    WarningRow,
    (
        _W.id,
        _W.type,
        _W.user_id,
        _W.day,
        _W.total_seconds,
        _W.first_log_id,
        _W.second_log_id,
        _W.status,
        _W.resolved_by,
        _W.action_by,
        _W.note,
        _W.created_at,
        _W.updated_at,
    ),
)
# A company's warnings are its employees'.
_OF_EMPLOYEE = Employee.id == _W.user_id
_VIEW = select(*_ROW).join(Employee, _OF_EMPLOYEE)

# Not already resolved by the system: open, ignored, or resolved by a person
# while the condition still held (so that its return can reopen it).
_NOT_SYSTEM_RESOLVED = or_(_W.status != "resolved", _W.resolved_by.is_(None), _W.resolved_by != SYSTEM)


@dataclass(frozen=True)
class WarningFilters:
    company_id: int
    status: str
    user_id: int | None = None
    type: str | None = None
    start_date: date | None = None
    end_date: date | None = None


class TimeWarningRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def hold(self, conditions: Sequence[HeldCondition]) -> list[ChangedWarning]:
        """One statement for all: new conditions open a warning; a warning the
        system resolved reopens; open, ignored and person-resolved ones keep
        their status (their total and day follow the write). The warnings
        this write opened or reopened: they carry this call's token in
        `opened_by`, which the statement hands back."""
        if not conditions:
            return []
        token = secrets.token_hex(16)
        # In key order, so concurrent writers lock shared warnings in the same order (no deadlock).
        rows = [
            c._asdict() | {"opened_by": token} for c in sorted(conditions, key=lambda c: (c.user_id, c.type, c.subject))
        ]
        insert = dialect_insert(self.session)(TimeWarning).values(rows)
        came_back = and_(_W.status == "resolved", _W.resolved_by == SYSTEM)
        excluded = insert.excluded
        stmt = insert.on_conflict_do_update(
            index_elements=["user_id", "type", "subject"],
            set_={
                "day": excluded.day,
                "total_seconds": excluded.total_seconds,
                "status": case((came_back, "open"), else_=_W.status),
                "resolved_by": case((came_back, null()), else_=_W.resolved_by),
                "opened_by": case((came_back, excluded.opened_by), else_=_W.opened_by),
                "updated_at": func.now(),
            },
            # Rows whose status, day and total stay as they are are not rewritten.
            where=or_(
                came_back,
                _W.day != excluded.day,
                _W.total_seconds.is_distinct_from(excluded.total_seconds),
            ),
        ).returning(*_CHANGED, (_W.opened_by == literal(token)).label("opened"))
        result = await self.session.execute(stmt)
        return [_changed(row) for row in result if row.opened]

    async def resolve_gone(
        self,
        days: Iterable[tuple[int, date]],
        user_ids: Iterable[int],
        log_ids: Iterable[int],
        still_overlapping: Iterable[str],
    ) -> list[ChangedWarning]:
        """In one statement, resolved by the system: the OVER_LOGGED warnings of
        these (employee, day) pairs, whose totals are back within the limit,
        and the OVERLAPPING_LOG warnings naming any of these logs (which are
        logs of `user_ids`) but for the pairs that still overlap. The
        warnings it resolved."""
        gone = [
            and_(_W.type == OVER_LOGGED, _W.user_id == user_id, _W.subject == day.isoformat()) for user_id, day in days
        ]
        ids = sorted(set(log_ids))
        if ids:
            # The employees first, so the (user_id, type, subject) index finds the
            # rows: nothing indexes the log ids, and every warning would be read.
            pairs = and_(
                _W.user_id.in_(sorted(set(user_ids))),
                _W.type == OVERLAPPING_LOG,
                or_(_W.first_log_id.in_(ids), _W.second_log_id.in_(ids)),
            )
            held = sorted(set(still_overlapping))
            gone.append(and_(pairs, _W.subject.not_in(held)) if held else pairs)
        if not gone:
            return []
        result = await self.session.execute(
            update(TimeWarning)
            .where(or_(*gone), _NOT_SYSTEM_RESOLVED)
            .values(status="resolved", resolved_by=SYSTEM, updated_at=func.now())
            .returning(*_CHANGED)
        )
        return [_changed(row) for row in result]

    async def page(self, filters: WarningFilters, offset: int, limit: int) -> tuple[list[WarningRow], int]:
        """A company's warnings, newest day first, and how many match."""
        where = [Employee.company_id == filters.company_id, _W.status == filters.status]
        if filters.user_id is not None:
            where.append(_W.user_id == filters.user_id)
        if filters.type is not None:
            where.append(_W.type == filters.type)
        if filters.start_date is not None:
            where.append(_W.day >= filters.start_date)
        if filters.end_date is not None:
            where.append(_W.day <= filters.end_date)
        total = await self.session.scalar(
            select(func.count()).select_from(_W).join(Employee, _OF_EMPLOYEE).where(*where)
        )
        rows = await self.session.execute(
            _VIEW.where(*where).order_by(_W.day.desc(), _W.id.desc()).offset(offset).limit(limit)
        )
        return [WarningRow._make(r) for r in rows], int(total or 0)

    async def lock(self, ids: Sequence[int]) -> dict[int, LockedWarning]:
        """The warnings an action names, locked until its transaction ends, so
        that what it checks (whose they are, their status) still holds when
        `set_status` writes them."""
        rows = await self.session.execute(
            select(_W.id, _W.user_id, _W.status, Employee.company_id)
            .join(Employee, _OF_EMPLOYEE)
            .where(_W.id.in_(sorted(set(ids))))
            .with_for_update(of=TimeWarning)
        )
        return {r.id: LockedWarning._make(r) for r in rows}

    async def set_status(
        self, ids: Sequence[int], status: str, resolved_by: str | None, action_by: str, note: str | None
    ) -> dict[int, WarningRow]:
        """One UPDATE for all; the warnings as it left them (its RETURNING)."""
        rows = await self.session.execute(
            update(TimeWarning)
            .where(_W.id.in_(sorted(set(ids))))
            .values(status=status, resolved_by=resolved_by, action_by=action_by, note=note, updated_at=func.now())
            .returning(*_ROW)
        )
        return {r.id: WarningRow._make(r) for r in rows}
