"""Locks and sums for allocated-hours tracking."""

from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sql import seconds_between
from app.models import Employee, Project, Task, TaskLog


@dataclass
class Budget:
    """A project or task with an allocation, as locked for this transaction."""

    kind: str  # "project" | "task"
    id: int
    project_id: int
    company_id: int
    name: str
    allocated_hours: Decimal
    exceeded: bool


class AllocationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_budgets(self, project_ids: set[int], task_ids: set[int]) -> list[Budget]:
        """Lock the rows of the touched projects and tasks that have an
        allocation, in id order so concurrent writers cannot deadlock. The
        lock makes 'was it already over?' and 'is it over now?' one atomic
        decision, which is what makes the alert fire exactly once.

        FOR NO KEY UPDATE, not FOR UPDATE: inserting a log takes a KEY SHARE
        lock on its task (the foreign key), and two writers that each hold
        one would deadlock asking for FOR UPDATE on the same task."""
        budgets: list[Budget] = []
        if project_ids:
            projects = (
                select(Project.id, Project.company_id, Project.name, Project.allocated_hours,
                       Project.allocation_exceeded)
                .where(Project.id.in_(project_ids), Project.allocated_hours.is_not(None))
                .order_by(Project.id)
                .with_for_update(key_share=True)
            )
            for pid, cid, name, hours, exceeded in (await self.session.execute(projects)).all():
                # hours is NOT NULL: filtered above
                budgets.append(Budget("project", pid, pid, cid, name, cast(Decimal, hours), exceeded))
        if task_ids:
            tasks = (
                select(Task.id, Task.project_id, Project.company_id, Task.name, Task.allocated_hours,
                       Task.allocation_exceeded)
                .join(Project, Project.id == Task.project_id)
                .where(Task.id.in_(task_ids), Task.allocated_hours.is_not(None))
                .order_by(Task.id)
                .with_for_update(of=Task, key_share=True)
            )
            for tid, pid, cid, name, hours, exceeded in (await self.session.execute(tasks)).all():
                budgets.append(Budget("task", tid, pid, cid, name, cast(Decimal, hours), exceeded))
        return budgets

    async def logged_seconds_by_task(self, project_ids: set[int]) -> dict[tuple[int, int], int]:
        """{(project_id, task_id): seconds} over every task of the given projects."""
        if not project_ids:
            return {}
        stmt = (
            select(Task.project_id, TaskLog.task_id, func.sum(seconds_between(TaskLog.start_time, TaskLog.end_time)))
            .join(Task, Task.id == TaskLog.task_id)
            .where(Task.project_id.in_(project_ids))
            .group_by(Task.project_id, TaskLog.task_id)
        )
        return {(p, t): int(s or 0) for p, t, s in (await self.session.execute(stmt)).all()}

    async def set_exceeded(self, kind: str, ids: list[int], exceeded: bool) -> None:
        if not ids:
            return
        model = Project if kind == "project" else Task
        await self.session.execute(update(model).where(model.id.in_(ids)).values(allocation_exceeded=exceeded))

    async def active_admins(self, company_ids: set[int]) -> dict[int, list[int]]:
        """{company_id: [admin employee ids]} for the active admins."""
        if not company_ids:
            return {}
        stmt = (
            select(Employee.company_id, Employee.id)
            .where(Employee.company_id.in_(company_ids), Employee.is_admin.is_(True), Employee.is_active.is_(True))
            .order_by(Employee.id)
        )
        admins: dict[int, list[int]] = {}
        for cid, eid in (await self.session.execute(stmt)).all():
            admins.setdefault(cid, []).append(eid)
        return admins
