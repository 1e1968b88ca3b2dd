"""Running totals and alert state of projects and tasks with an allocation.

Who waits for whom. A write reads its tasks and projects with FOR KEY SHARE
(app/reference/repository.py, `write_contexts`): a shared lock, which
writers never wait on among themselves. Only a project or task that has an
allocation keeps a running total, moved by writes under its row lock (FOR
NO KEY UPDATE), because "was it over before, is it over now" must be one
decision for the alert to fire exactly once; so writers of that one project
or task take turns, and nobody else does. Changing an allocation (`PUT`)
takes FOR UPDATE, which waits for the writers holding their shared lock,
and counts the total again from the logs."""

import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import BigInteger, and_, bindparam, case, func, literal, literal_column, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sql import RowsTable, among, for_dialect, ids_param, seconds_between
from app.models import Employee, Project, Task, TaskLog

BudgetKind = Literal["project", "task"]
BudgetKey = tuple[BudgetKind, int]
_MODELS: dict[BudgetKind, Any] = {"project": Project, "task": Task}


@dataclass
class Budget:
    """A project or task as this transaction sees it, with its running total
    (None without an allocation: no total is kept then)."""

    kind: BudgetKind
    id: int
    project_id: int
    company_id: int
    name: str
    allocated_hours: Decimal | None
    exceeded: bool
    logged_seconds: int | None

    @property
    def key(self) -> BudgetKey:
        return (self.kind, self.id)

    def is_over(self, logged_seconds: int) -> bool:
        return self.allocated_hours is not None and logged_seconds > self.allocated_hours * 3600


@dataclass
class Moved:
    """A budget after a write moved it, and whether it was over before."""

    budget: Budget
    was_over: bool

    @property
    def crossed(self) -> bool:
        return self.budget.exceeded and not self.was_over


class AllocationRepository:
    """Shared SQL; `allocation_repository(session)` picks the database's own."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def budgets(self, keys: set[BudgetKey]) -> list[Budget]:
        """The budgets as they stand, projects first, each kind in id order;
        nothing locked (for a write that moves no time)."""
        if not keys:
            return []
        params = {f"{kind}_ids": sorted(i for k, i in keys if k == kind) for kind in _MODELS}
        return [Budget(**row._mapping) for row in await self.session.execute(_both_budgets(), params)]

    async def move(self, seconds: dict[BudgetKey, int]) -> list[Moved]:
        """Add `seconds` to the running totals of those budgets (each has an
        allocation), locking their rows in id order (FOR NO KEY UPDATE: a
        log insert holds a KEY SHARE lock on its task, which FOR UPDATE would
        wait on and deadlock against), and set each one's alert state from
        its new total."""
        raise NotImplementedError

    async def lock_for_allocation_change(self, kind: BudgetKind, ids: set[int]) -> None:
        """FOR UPDATE on these rows: waits until every write that read them
        (with its shared lock) has committed, and holds new ones back, so
        their allocation and total can change without a write in between."""
        model = _MODELS[kind]
        await self.session.execute(
            select(model.id).where(model.id.in_(sorted(ids))).order_by(model.id).with_for_update()
        )

    async def recount(self, keys: set[BudgetKey]) -> list[Moved]:
        """Count the running totals of these budgets again from the logs (call
        after `lock_for_allocation_change`): the total of one with an
        allocation, NULL for one without, and the alert state that follows."""
        recounted = []
        for budget in await self.budgets(keys):
            was_over = budget.exceeded
            if budget.allocated_hours is None:
                budget.logged_seconds, budget.exceeded = None, False
            else:
                budget.logged_seconds = await self._sum_of_logs(budget.kind, budget.id)
                budget.exceeded = budget.is_over(budget.logged_seconds)
            model = _MODELS[budget.kind]
            await self.session.execute(
                update(model)
                .where(model.id == budget.id)
                .values(logged_seconds=budget.logged_seconds, allocation_exceeded=budget.exceeded)
            )
            recounted.append(Moved(budget, was_over))
        return recounted

    async def logged_seconds(self, kind: BudgetKind, ident: int, running_total: int | None) -> int:
        """The logged time of a project or task: its running total where one is
        kept, else the sum of its logs."""
        if running_total is not None:
            return running_total
        return await self._sum_of_logs(kind, ident)

    async def _sum_of_logs(self, kind: BudgetKind, ident: int) -> int:
        return int(await self.session.scalar(_sum_of_logs(kind), {"id": ident}) or 0)

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
        for row in await self.session.execute(stmt):
            admins.setdefault(row.company_id, []).append(row.id)
        return admins


class _PostgresAllocations(AllocationRepository):
    async def move(self, seconds: dict[BudgetKey, int]) -> list[Moved]:
        """One statement locks, moves and re-evaluates every budget, so the
        rows are held for that statement and the commit only."""
        by_kind = {kind: sorted((i, s) for (k, i), s in seconds.items() if k == kind) for kind in _MODELS}
        kinds = tuple(kind for kind, rows in by_kind.items() if rows)
        params: dict[str, Any] = {}
        for kind in kinds:
            params |= _DELTAS[kind].params("postgresql", by_kind[kind])
        rows = await self.session.execute(_move(kinds), params)
        return [
            Moved(
                Budget(
                    kind=row.kind,
                    id=row.id,
                    project_id=row.project_id,
                    company_id=row.company_id,
                    name=row.name,
                    allocated_hours=row.allocated_hours,
                    exceeded=row.exceeded,
                    logged_seconds=row.logged_seconds,
                ),
                row.was_over,
            )
            for row in rows
        ]


class _SqliteAllocations(AllocationRepository):
    async def move(self, seconds: dict[BudgetKey, int]) -> list[Moved]:
        """Read, work out and write back: SQLite's writers take turns anyway."""
        moved = []
        for budget in await self.budgets(set(seconds)):
            was_over = budget.exceeded
            budget.logged_seconds = (budget.logged_seconds or 0) + seconds[budget.key]
            budget.exceeded = budget.is_over(budget.logged_seconds)
            moved.append(Moved(budget, was_over))
        for kind, model in _MODELS.items():
            changed = [m.budget for m in moved if m.budget.kind == kind]
            if changed:
                await self.session.execute(
                    update(model)
                    .where(model.id.in_([b.id for b in changed]))
                    .values(
                        logged_seconds=case({b.id: b.logged_seconds for b in changed}, value=model.id),
                        allocation_exceeded=case({b.id: b.exceeded for b in changed}, value=model.id),
                    )
                )
        return moved


def allocation_repository(session: AsyncSession) -> AllocationRepository:
    return for_dialect(session, postgresql=_PostgresAllocations, sqlite=_SqliteAllocations)


_DELTAS = {kind: RowsTable(f"{kind}_delta", [("id", BigInteger()), ("seconds", BigInteger())]) for kind in _MODELS}


def _budget_rows(kind: BudgetKind, ids: str) -> Any:
    """Budget rows of the projects or tasks in :<ids>, columns named as Budget's fields."""
    if kind == "project":
        return select(
            literal_column("'project'").label("kind"),
            Project.id,
            Project.id.label("project_id"),
            Project.company_id,
            Project.name,
            Project.allocated_hours,
            Project.allocation_exceeded.label("exceeded"),
            Project.logged_seconds,
        ).where(among(Project.id, ids_param(ids)))
    return (
        select(
            literal_column("'task'").label("kind"),
            Task.id,
            Task.project_id,
            Project.company_id,
            Task.name,
            Task.allocated_hours,
            Task.allocation_exceeded.label("exceeded"),
            Task.logged_seconds,
        )
        .join(Project, Project.id == Task.project_id)
        .where(among(Task.id, ids_param(ids)))
    )


@functools.cache
def _both_budgets() -> Any:
    """Budget rows of the projects in :project_ids and the tasks in
    :task_ids (projects first, each in id order), nothing locked."""
    both = union_all(*[_budget_rows(kind, f"{kind}_ids") for kind in _MODELS]).subquery("budgets")
    return select(both).order_by(both.c.kind, both.c.id)


@functools.cache
def _sum_of_logs(kind: BudgetKind) -> Any:
    """Seconds logged on the project or task :id."""
    total = select(func.sum(seconds_between(TaskLog.start_time, TaskLog.end_time))).select_from(TaskLog)
    if kind == "task":
        return total.where(TaskLog.task_id == bindparam("id"))
    return total.join(Task, Task.id == TaskLog.task_id).where(Task.project_id == bindparam("id"))


@functools.cache
def _move(kinds: tuple[BudgetKind, ...]) -> Any:
    """PostgreSQL: for each kind, lock the rows in id order, add the deltas,
    set the alert state from the new total, and return the rows with their
    state before. Projects come first, then tasks, as everywhere else."""
    parts = []
    for kind in kinds:
        model = _MODELS[kind]
        delta = _DELTAS[kind].source("postgresql")
        # The ORDER BY sits under the lock: rows are locked in id order.
        locked = (
            select(model.id, model.allocation_exceeded.label("was"))
            .join(delta, delta.c.id == model.id)
            .order_by(model.id)
            .with_for_update(of=model, key_share=True)
            .cte(f"{kind}_locked")
        )
        total = model.logged_seconds + delta.c.seconds
        stmt = (
            update(model)
            .where(model.id == locked.c.id, model.id == delta.c.id)
            .values(
                logged_seconds=total,
                allocation_exceeded=and_(model.allocated_hours.is_not(None), total > model.allocated_hours * 3600),
            )
        )
        owner: tuple[Any, ...]
        if kind == "project":
            owner = (Project.id.label("project_id"), Project.company_id)
        else:
            stmt = stmt.where(Project.id == Task.project_id)
            owner = (Task.project_id, Project.company_id)
        moved = stmt.returning(
            literal(kind).label("kind"),
            model.id,
            *owner,
            model.name,
            model.allocated_hours,
            model.allocation_exceeded.label("exceeded"),
            model.logged_seconds,
            locked.c.was.label("was_over"),
        ).cte(f"moved_{kind}s")
        parts.append(select(moved))
    return parts[0] if len(parts) == 1 else union_all(*parts)
