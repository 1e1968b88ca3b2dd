"""Locks, running totals and alert state of projects and tasks."""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Employee, Project, Task


@dataclass
class Budget:
    """A project or task as locked for this transaction, with its running total."""

    kind: str  # "project" | "task"
    id: int
    project_id: int
    company_id: int
    name: str
    allocated_hours: Decimal | None
    exceeded: bool
    logged_seconds: int


class AllocationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def budgets(self, project_ids: set[int], task_ids: set[int], *, lock: bool = True) -> list[Budget]:
        """The projects and tasks, locked in id order so concurrent writers
        cannot deadlock (`lock=False` only reads them: for a write that moves
        no time). While locked, 'was it already over?', the new running total
        and 'is it over now?' are one atomic decision: that is what makes the
        alert fire exactly once and the totals exact.

        FOR NO KEY UPDATE, not FOR UPDATE: inserting a log takes a KEY SHARE
        lock on its task (the foreign key), and two writers that each hold
        one would deadlock asking for FOR UPDATE on the same task."""
        budgets: list[Budget] = []
        if project_ids:
            projects = (
                select(Project.id, Project.company_id, Project.name, Project.allocated_hours,
                       Project.allocation_exceeded, Project.logged_seconds)
                .where(Project.id.in_(project_ids)).order_by(Project.id)
            )
            if lock:
                projects = projects.with_for_update(key_share=True)
            for pid, cid, name, hours, exceeded, logged in (await self.session.execute(projects)).all():
                budgets.append(Budget("project", pid, pid, cid, name, hours, exceeded, logged))
        if task_ids:
            tasks = (
                select(Task.id, Task.project_id, Project.company_id, Task.name, Task.allocated_hours,
                       Task.allocation_exceeded, Task.logged_seconds)
                .join(Project, Project.id == Task.project_id)
                .where(Task.id.in_(task_ids)).order_by(Task.id)
            )
            if lock:
                tasks = tasks.with_for_update(of=Task, key_share=True)
            for tid, pid, cid, name, hours, exceeded, logged in (await self.session.execute(tasks)).all():
                budgets.append(Budget("task", tid, pid, cid, name, hours, exceeded, logged))
        return budgets

    async def save(self, kind: str, changed: list[Budget]) -> None:
        """Write back running totals and alert state: one statement per table."""
        if not changed:
            return
        model = Project if kind == "project" else Task
        ids = [b.id for b in changed]
        await self.session.execute(
            update(model).where(model.id.in_(ids)).values(
                logged_seconds=case({b.id: b.logged_seconds for b in changed}, value=model.id),
                allocation_exceeded=case({b.id: b.exceeded for b in changed}, value=model.id),
            )
        )

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
