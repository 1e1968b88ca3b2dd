"""Persistence of locked periods: the company's lock date and its history,
and what locks an employee's logs (that date, and their submitted or
approved weeks). The statements are the same on both databases."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.rows import named_as
from app.core.sql import UTCDateTime, among, ids_param
from app.models import Company, CompanyChange, Employee, TimesheetSubmission

# The statuses in which a week's logs are locked.
LOCKING_STATUSES = ("SUBMITTED", "APPROVED")


class LockRow(NamedTuple):
    """One employee's company lock date, with one of their locking weeks near
    the write (all week columns None when there is none)."""

    user_id: int
    locked_through: date | None
    submission_id: int | None
    week_start: date | None
    week_end: date | None
    starts_at: datetime | None
    ends_at: datetime | None
    status: str | None


class CompanyChangeRow(NamedTuple):
    id: int
    company_id: int
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_by: str
    changed_at: datetime


_LOCKS = named_as(
    LockRow,
    (
        select(
            Employee.id.label("user_id"),
            Company.locked_through,
            TimesheetSubmission.id.label("submission_id"),
            TimesheetSubmission.week_start,
            TimesheetSubmission.week_end,
            TimesheetSubmission.starts_at,
            TimesheetSubmission.ends_at,
            TimesheetSubmission.status,
        )
        .join(Company, Company.id == Employee.company_id)
        .outerjoin(
            TimesheetSubmission,
            and_(
                TimesheetSubmission.user_id == Employee.id,
                TimesheetSubmission.status.in_(LOCKING_STATUSES),
                # Weeks holding a start in [earliest, latest]; on the (user_id, starts_at) index.
                TimesheetSubmission.starts_at <= bindparam("latest", type_=UTCDateTime()),
                TimesheetSubmission.ends_at > bindparam("earliest", type_=UTCDateTime()),
            ),
        )
        .where(among(Employee.id, ids_param("user_ids")))
    ),
)

_COMPANY_CHANGES = named_as(
    CompanyChangeRow,
    (
        select(
            CompanyChange.id,
            CompanyChange.company_id,
            CompanyChange.action,
            CompanyChange.before,
            CompanyChange.after,
            CompanyChange.changed_by,
            CompanyChange.changed_at,
        )
        .where(CompanyChange.company_id == bindparam("company_id"))
        .order_by(CompanyChange.id)
    ),
)


class PeriodLockRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def locks_of(self, user_ids: Sequence[int], earliest: datetime, latest: datetime) -> list[LockRow]:
        """The lock date of each employee's company and their locked weeks
        holding an instant in [earliest, latest]. Read in a statement of its
        own, after the write took its employees' turn (write_contexts), so it
        sees a lock that committed while the write waited."""
        rows = await self.session.execute(
            _LOCKS, {"user_ids": sorted(set(user_ids)), "earliest": earliest, "latest": latest}
        )
        return [LockRow(*row) for row in rows]

    async def wait_for_writers(self, company_id: int) -> None:
        """Take every employee's write turn in the company (the lock a write
        takes on its employees, in id order): writes in flight finish first,
        and those that come later read the new lock date."""
        await self.session.execute(
            select(Employee.id)
            .where(Employee.company_id == company_id)
            .order_by(Employee.id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE, as write_contexts
        )

    async def locked_through(self, company_id: int) -> date | None:
        """The company's lock date, its row locked against another move
        (FOR NO KEY UPDATE: foreign key checks of writes do not wait)."""
        return await self.session.scalar(
            select(Company.locked_through).where(Company.id == company_id).with_for_update(key_share=True)
        )

    async def set_locked_through(self, company_id: int, day: date | None) -> None:
        await self.session.execute(update(Company).where(Company.id == company_id).values(locked_through=day))

    async def record_change(
        self, company_id: int, action: str, before: dict[str, Any], after: dict[str, Any], author: str
    ) -> None:
        await self.session.execute(
            insert(CompanyChange).values(
                company_id=company_id, action=action, before=before, after=after, changed_by=author
            )
        )

    async def changes(self, company_id: int, offset: int, limit: int) -> tuple[list[CompanyChangeRow], int]:
        rows = await self.session.execute(_COMPANY_CHANGES.offset(offset).limit(limit), {"company_id": company_id})
        total = await self.session.scalar(
            select(func.count()).select_from(CompanyChange).where(CompanyChange.company_id == company_id)
        )
        return [CompanyChangeRow(*row) for row in rows], int(total or 0)
