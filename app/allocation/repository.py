"""Locks, running totals and alert state of projects and tasks."""

from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, case, literal, literal_column, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sql import RowsTable, dialect_of, prebuilt
from app.models import Employee, Project, Task


@dataclass
class Budget:
    """A project or task as this transaction sees it, with its running total."""

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
        if not lock and project_ids and task_ids:
            # Only reading both kinds (a re-sent batch): one round trip.
            stmt = prebuilt(self.session, "allocation.budgets.both", _both_budgets)
            both = await self.session.execute(stmt, {"project_ids": sorted(project_ids), "task_ids": sorted(task_ids)})
            return [Budget(*row) for row in both]
        budgets: list[Budget] = []
        for kind, ids in (("project", project_ids), ("task", task_ids)):
            if ids:
                key = f"allocation.{kind}_budgets.{lock}"
                stmt = prebuilt(self.session, key, partial(_budgets, kind, lock))
                rows = (await self.session.execute(stmt, {"ids": sorted(ids)})).all()
                budgets += [Budget(kind, *row) for row in rows]
        return budgets

    async def move(self, seconds: dict[tuple[str, int], int]) -> list[tuple[Budget, bool]]:
        """Add `seconds` to the running totals of those projects and tasks
        (0 re-evaluates one, e.g. after its allocation changed), each row
        locked as in `budgets`, and set each one's alert state from its new
        total. Returns each budget as it is now, with whether it was already
        over before (a crossing is over now and not before).

        PostgreSQL does it in one statement (locks, totals, states), so rows
        every writer of a project needs are held for that statement and the
        commit only. SQLite, whose writers take turns anyway, reads, works
        out and writes back."""
        if dialect_of(self.session) == "sqlite":
            return await self._move_by_steps(seconds)
        by_kind = {kind: sorted((i, s) for (k, i), s in seconds.items() if k == kind) for kind in ("project", "task")}
        kinds = tuple(kind for kind, rows in by_kind.items() if rows)
        stmt = prebuilt(self.session, f"allocation.move.{'+'.join(kinds)}", lambda d: _move(kinds))
        params: dict[str, Any] = {}
        for kind in kinds:
            params |= _DELTAS[kind].params("postgresql", by_kind[kind])
        return [(Budget(kind, bid, pid, cid, name, hours, exceeded, logged), was)
                for kind, bid, pid, cid, name, hours, exceeded, logged, was
                in (await self.session.execute(stmt, params)).all()]

    async def _move_by_steps(self, seconds: dict[tuple[str, int], int]) -> list[tuple[Budget, bool]]:
        budgets = await self.budgets({i for k, i in seconds if k == "project"}, {i for k, i in seconds if k == "task"})
        moved = []
        for budget in budgets:
            was = budget.exceeded
            budget.logged_seconds += seconds[(budget.kind, budget.id)]
            budget.exceeded = budget.allocated_hours is not None and (
                budget.logged_seconds > budget.allocated_hours * 3600)
            moved.append((budget, was))
        for kind, model in (("project", Project), ("task", Task)):
            changed = [b for b in budgets if b.kind == kind]
            if changed:
                await self.session.execute(
                    update(model).where(model.id.in_([b.id for b in changed])).values(
                        logged_seconds=case({b.id: b.logged_seconds for b in changed}, value=model.id),
                        allocation_exceeded=case({b.id: b.exceeded for b in changed}, value=model.id),
                    )
                )
        return moved

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


_DELTAS = {kind: RowsTable(f"{kind}_delta", [("id", BigInteger()), ("seconds", BigInteger())])
           for kind in ("project", "task")}


def _budget_rows(kind: str, ids: str) -> Any:
    """Budget rows (all but the kind) of the projects or tasks in :<ids>."""
    if kind == "project":
        return select(Project.id, Project.id, Project.company_id, Project.name, Project.allocated_hours,
                      Project.allocation_exceeded, Project.logged_seconds).where(
            Project.id.in_(bindparam(ids, expanding=True)))
    return (
        select(Task.id, Task.project_id, Project.company_id, Task.name, Task.allocated_hours,
               Task.allocation_exceeded, Task.logged_seconds)
        .join(Project, Project.id == Task.project_id)
        .where(Task.id.in_(bindparam(ids, expanding=True)))
    )


def _budgets(kind: str, lock: bool, dialect: str) -> Any:
    """Budget rows (all but the kind) of the projects or tasks in :ids, in id order."""
    stmt = _budget_rows(kind, "ids").order_by(Project.id if kind == "project" else Task.id)
    if not lock:
        return stmt
    return stmt.with_for_update(key_share=True) if kind == "project" else stmt.with_for_update(of=Task, key_share=True)


def _both_budgets(dialect: str) -> Any:
    """Budget rows, kind first, of the projects in :project_ids and the tasks
    in :task_ids (projects first, each in id order), nothing locked."""
    parts = [select(literal_column(f"'{kind}'").label("kind"), *_budget_rows(kind, f"{kind}_ids").subquery().c)
             for kind in ("project", "task")]
    both = union_all(*parts).subquery("budgets")
    return select(both).order_by(both.c.kind, both.c.id)


def _move(kinds: tuple[str, ...]) -> Any:
    """PostgreSQL: for each kind, lock the rows in id order, add the deltas,
    set the alert state from the new total, and return the rows with their
    state before. Projects come first, then tasks, as everywhere else."""
    parts = []
    for kind in kinds:
        model: Any = Project if kind == "project" else Task
        delta = _DELTAS[kind].source("postgresql", [])
        # The ORDER BY sits under the lock: rows are locked in id order.
        locked = (
            select(model.id, model.allocation_exceeded.label("was"))
            .join(delta, delta.c.id == model.id).order_by(model.id)
            .with_for_update(of=model, key_share=True)
            .cte(f"{kind}_locked")
        )
        total = model.logged_seconds + delta.c.seconds
        stmt = update(model).where(model.id == locked.c.id, model.id == delta.c.id).values(
            logged_seconds=total,
            allocation_exceeded=and_(model.allocated_hours.is_not(None), total > model.allocated_hours * 3600),
        )
        if kind == "project":
            owner = (Project.id, Project.company_id)
        else:
            stmt = stmt.where(Project.id == Task.project_id)
            owner = (Task.project_id, Project.company_id)
        moved = stmt.returning(literal(kind).label("kind"), model.id, *owner, model.name, model.allocated_hours,
                               model.allocation_exceeded, model.logged_seconds, locked.c.was).cte(f"moved_{kind}s")
        parts.append(select(moved))
    return parts[0] if len(parts) == 1 else union_all(*parts)
