"""Persistence of timesheet submissions and their transitions. The
statements are the same on both databases (ON CONFLICT is spelled alike;
SQLite ignores the row locks, its writers take turns)."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.rows import named_as
from app.core.sql import dialect_insert
from app.models import Company, Employee, SubmissionEvent, TimesheetSubmission

SUBMITTED, APPROVED, REJECTED = "SUBMITTED", "APPROVED", "REJECTED"


class Submitter(NamedTuple):
    """The employee whose week is submitted, with their company's week rule."""

    user_id: int
    company_id: int
    name: str
    timezone: str  # effective: theirs, else the company's
    company_week_start: str  # 'monday' .. 'sunday'


class SubmissionRow(NamedTuple):
    id: int
    company_id: int
    user_id: int
    week_start: date
    week_end: date
    starts_at: datetime
    ends_at: datetime
    status: str
    total_seconds: int
    approved_seconds: int | None
    submitted_at: datetime
    submitted_by: str
    reviewed_at: datetime | None
    reviewed_by: str | None
    comment: str | None


class TransitionRow(NamedTuple):
    id: int
    action: str
    status: str
    total_seconds: int
    comment: str | None
    acted_by: str
    acted_at: datetime


@dataclass(frozen=True)
class SubmissionFilters:
    """Which submissions a list shows; every given filter applies (AND)."""

    company_id: int | None = None
    user_id: int | None = None
    status: str | None = None
    week_from: date | None = None
    week_to: date | None = None


_COLUMNS = tuple(getattr(TimesheetSubmission, name) for name in SubmissionRow._fields)
_SUBMISSION = select(*_COLUMNS)
_SUBMITTER = named_as(
    Submitter,
    (
        select(
            Employee.id.label("user_id"),
            Employee.company_id,
            Employee.name,
            func.coalesce(Employee.timezone, Company.timezone).label("timezone"),
            Company.week_start.label("company_week_start"),
        )
        .join(Company, Company.id == Employee.company_id)
        # FOR NO KEY UPDATE of the employee, the lock every write of their logs
        # takes first (ReferenceRepository.write_contexts): a write in flight
        # commits before the submit reads the week, a later one reads the
        # submission and is refused.
        .with_for_update(key_share=True, of=[Employee])
    ),
)


class SubmissionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take_write_turn(self, user_id: int) -> Submitter | None:
        """The employee, their logs' writers made to wait (see _SUBMITTER);
        None if unknown."""
        row = (await self.session.execute(_SUBMITTER.where(Employee.id == user_id))).first()
        return None if row is None else Submitter(*row)

    async def submit(self, values: dict[str, Any]) -> SubmissionRow | None:
        """The employee's week, submitted: a new row, or their REJECTED row
        submitted again. None when the week is already SUBMITTED or APPROVED:
        the unique (user_id, week_start) decides, also between concurrent
        submits (the later one waits for the first to commit, then changes
        nothing)."""
        insert_ = dialect_insert(self.session)(TimesheetSubmission).values(**values)
        again = {
            name: values[name]
            for name in ("week_end", "starts_at", "ends_at", "status", "total_seconds", "submitted_at", "submitted_by")
        }
        stmt = insert_.on_conflict_do_update(
            index_elements=[TimesheetSubmission.user_id, TimesheetSubmission.week_start],
            # The last review's outcome stays in the history; approved_seconds stays until the next approval.
            set_={**again, "reviewed_at": None, "reviewed_by": None, "comment": None, "updated_at": func.now()},
            where=TimesheetSubmission.status == REJECTED,
        ).returning(*_COLUMNS)
        row = (await self.session.execute(stmt)).first()
        return None if row is None else SubmissionRow(*row)

    async def of_week(self, user_id: int, week_start: date) -> SubmissionRow | None:
        stmt = _SUBMISSION.where(TimesheetSubmission.user_id == user_id, TimesheetSubmission.week_start == week_start)
        row = (await self.session.execute(stmt)).first()
        return None if row is None else SubmissionRow(*row)

    async def get(self, submission_id: int, *, lock: bool = False) -> SubmissionRow | None:
        """One submission; with `lock`, its row held until the transaction
        ends, so two reviews of it take turns and the second sees the first's status."""
        stmt = _SUBMISSION.where(TimesheetSubmission.id == submission_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        return None if row is None else SubmissionRow(*row)

    async def review(self, submission_id: int, values: dict[str, Any]) -> SubmissionRow:
        stmt = (
            update(TimesheetSubmission)
            .where(TimesheetSubmission.id == submission_id)
            .values(**values, updated_at=func.now())
            .returning(*_COLUMNS)
        )
        return SubmissionRow(*(await self.session.execute(stmt)).one())

    async def record(
        self,
        submission_id: int,
        action: str,
        status: str,
        total_seconds: int,
        comment: str | None,
        author: str,
        at: datetime,
    ) -> None:
        await self.session.execute(
            insert(SubmissionEvent).values(
                submission_id=submission_id,
                action=action,
                status=status,
                total_seconds=total_seconds,
                comment=comment,
                acted_by=author,
                acted_at=at,
            )
        )

    async def history(self, submission_id: int) -> list[TransitionRow]:
        rows = await self.session.execute(
            select(*(getattr(SubmissionEvent, name) for name in TransitionRow._fields))
            .where(SubmissionEvent.submission_id == submission_id)
            .order_by(SubmissionEvent.id)
        )
        return [TransitionRow(*row) for row in rows]

    async def page(self, filters: SubmissionFilters, offset: int, limit: int) -> tuple[list[SubmissionRow], int]:
        """Submissions, latest week first, and how many match in all."""
        where = []
        if filters.company_id is not None:
            where.append(TimesheetSubmission.company_id == filters.company_id)
        if filters.user_id is not None:
            where.append(TimesheetSubmission.user_id == filters.user_id)
        if filters.status is not None:
            where.append(TimesheetSubmission.status == filters.status)
        if filters.week_from is not None:
            where.append(TimesheetSubmission.week_start >= filters.week_from)
        if filters.week_to is not None:
            where.append(TimesheetSubmission.week_start <= filters.week_to)
        total = await self.session.scalar(select(func.count()).select_from(TimesheetSubmission).where(*where))
        rows = await self.session.execute(
            _SUBMISSION.where(*where)
            .order_by(TimesheetSubmission.week_start.desc(), TimesheetSubmission.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return [SubmissionRow(*row) for row in rows], int(total or 0)

    async def reviewers(self, company_id: int) -> list[int]:
        """The company's active team leaders and admins, in id order."""
        rows = await self.session.scalars(
            select(Employee.id)
            .where(
                Employee.company_id == company_id,
                Employee.is_active.is_(True),
                or_(Employee.is_admin.is_(True), Employee.is_team_leader.is_(True)),
            )
            .order_by(Employee.id)
        )
        return list(rows)

    async def has_another_active_admin(self, company_id: int, employee_id: int) -> bool:
        found = await self.session.scalar(
            select(Employee.id)
            .where(
                Employee.company_id == company_id,
                Employee.id != employee_id,
                Employee.is_admin.is_(True),
                Employee.is_active.is_(True),
            )
            .limit(1)
        )
        return found is not None
