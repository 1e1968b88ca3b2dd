"""Persistence of running timers: one row per employee whose timer runs."""

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.rows import named_as
from app.core.sql import dialect_insert
from app.models import Company, Employee, RunningTimer, Task


class TimerRow(NamedTuple):
    """A running timer with what its answers and access checks need."""

    id: int
    user_id: int
    task_id: int
    project_id: int
    start_time: datetime
    description: str
    company_id: int
    timezone: str  # the employee's effective zone: theirs, else the company's


_VIEW = named_as(
    TimerRow,
    (
        select(
            RunningTimer.id,
            RunningTimer.user_id,
            RunningTimer.task_id,
            Task.project_id,
            RunningTimer.start_time,
            RunningTimer.description,
            Employee.company_id,
            func.coalesce(Employee.timezone, Company.timezone).label("timezone"),
        )
        .join(Task, Task.id == RunningTimer.task_id)
        .join(Employee, Employee.id == RunningTimer.user_id)
        .join(Company, Company.id == Employee.company_id)
    ),
)


class TimerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _one(self, where: Any, lock: bool) -> TimerRow | None:
        stmt = _VIEW.where(where)
        if lock:
            # Only the timer's row: a stop and an edit of the same timer take turns.
            stmt = stmt.with_for_update(of=RunningTimer)
        row = (await self.session.execute(stmt)).first()
        return None if row is None else TimerRow._make(row)

    async def running_of(self, user_id: int, *, lock: bool = False) -> TimerRow | None:
        return await self._one(RunningTimer.user_id == user_id, lock)

    async def get(self, timer_id: int, *, lock: bool = False) -> TimerRow | None:
        return await self._one(RunningTimer.id == timer_id, lock)

    async def start(
        self, user_id: int, task_id: int, start_time: datetime, description: str, author: str
    ) -> int | None:
        """The new timer's id, or None when the employee's timer already runs:
        the unique employee column decides, also between concurrent starts
        (the later one waits for the first to commit, then inserts nothing)."""
        stmt = (
            dialect_insert(self.session)(RunningTimer)
            .values(
                user_id=user_id,
                task_id=task_id,
                start_time=start_time,
                description=description,
                created_by=author,
            )
            .on_conflict_do_nothing(index_elements=["user_id"])
            .returning(RunningTimer.id)
        )
        timer_id: int | None = await self.session.scalar(stmt)
        return timer_id

    async def change(self, timer_id: int, values: dict[str, Any]) -> None:
        await self.session.execute(
            update(RunningTimer).where(RunningTimer.id == timer_id).values(**values, updated_at=func.now())
        )

    async def remove(self, timer_id: int) -> None:
        await self.session.execute(delete(RunningTimer).where(RunningTimer.id == timer_id))

    async def page(
        self, company_id: int | None, user_id: int | None, offset: int, limit: int
    ) -> tuple[list[TimerRow], int]:
        """Running timers, longest-running first, of one company (None: all)
        or one employee, and how many there are in all."""
        where = []
        if company_id is not None:
            where.append(Employee.company_id == company_id)
        if user_id is not None:
            where.append(RunningTimer.user_id == user_id)
        total = await self.session.scalar(
            select(func.count())
            .select_from(RunningTimer)
            .join(Employee, Employee.id == RunningTimer.user_id)
            .where(*where)
        )
        rows = await self.session.execute(
            _VIEW.where(*where).order_by(RunningTimer.start_time, RunningTimer.id).offset(offset).limit(limit)
        )
        return [TimerRow._make(r) for r in rows], int(total or 0)
