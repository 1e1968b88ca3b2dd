"""Persistence of the reference-data mirror."""

import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from sqlalchemy import Boolean, String, bindparam, exists, func, literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sql import among, dialect_insert, ids_param
from app.models import Base, Company, Employee, Project, Task, TaskLog


@dataclass(frozen=True)
class TaskContext:
    """What a write needs to know about a task: where it belongs, and which of
    it and its project have an allocation (and so a running total to move)."""

    task_id: int
    project_id: int
    company_id: int
    task_allocated: bool = False
    project_allocated: bool = False

    def allocated_budgets(self) -> list[tuple[Literal["project", "task"], int]]:
        budgets: list[tuple[Literal["project", "task"], int]] = []
        if self.project_allocated:
            budgets.append(("project", self.project_id))
        if self.task_allocated:
            budgets.append(("task", self.task_id))
        return budgets


@dataclass(frozen=True)
class EmployeeContext:
    employee_id: int
    company_id: int
    name: str
    is_active: bool
    is_admin: bool
    is_team_leader: bool
    timezone: str  # effective zone: the employee's, else the company's
    week_start: str  # the company's first day of a week, 'monday' ... 'sunday'


@dataclass(frozen=True)
class ProjectContext:
    """A project as its reports need it: owner, allocation figures and the
    zone of its company (a project has none of its own)."""

    project_id: int
    company_id: int
    name: str
    allocated_hours: Decimal | None
    allocation_exceeded: bool
    logged_seconds: int | None  # kept only with an allocation: see AllocationRepository.logged_seconds
    timezone: str
    week_start: str  # the company's


class CompanyCalendar(NamedTuple):
    """How a company's reports count days and weeks."""

    timezone: str
    week_start: str  # 'monday' ... 'sunday'


def _employee_rows(ids: str) -> Any:
    """The employees in :<ids>, columns named as EmployeeContext's fields."""
    return (
        select(
            Employee.id.label("employee_id"),
            Employee.company_id,
            Employee.name,
            Employee.is_active,
            Employee.is_admin,
            Employee.is_team_leader,
            func.coalesce(Employee.timezone, Company.timezone).label("timezone"),
            Company.week_start,
        )
        .join(Company, Company.id == Employee.company_id)
        .where(among(Employee.id, ids_param(ids)))
    )


def _task_rows(ids: str) -> Any:
    """The tasks in :<ids>, columns named as TaskContext's fields (no allocation flags: reads need none)."""
    return (
        select(Task.id.label("task_id"), Task.project_id, Project.company_id)
        .join(Project, Project.id == Task.project_id)
        .where(among(Task.id, ids_param(ids)))
    )


_EMPLOYEE_CONTEXTS = _employee_rows("ids")
_TASK_CONTEXTS = _task_rows("ids")
# One employee (a report's subject), by a plain equality: no expanding IN to render.
_EMPLOYEE_CONTEXT = (
    select(
        Employee.id.label("employee_id"),
        Employee.company_id,
        Employee.name,
        Employee.is_active,
        Employee.is_admin,
        Employee.is_team_leader,
        func.coalesce(Employee.timezone, Company.timezone).label("timezone"),
        Company.week_start,
    )
    .join(Company, Company.id == Employee.company_id)
    .where(Employee.id == bindparam("employee_id"))
)
_PROJECT_CONTEXT = (
    select(
        Project.id.label("project_id"),
        Project.company_id,
        Project.name,
        Project.allocated_hours,
        Project.allocation_exceeded,
        Project.logged_seconds,
        Company.timezone,
        Company.week_start,
    )
    .join(Company, Company.id == Project.company_id)
    .where(Project.id == bindparam("project_id"))
)


@functools.cache
def _write_contexts() -> Any:
    """A write's tasks and employees in one round trip, columns named as
    TaskContext's and EmployeeContext's fields (each kind leaves the other's
    NULL). The rows are locked so that what the write checks stays true
    until it commits:
    - tasks and their projects FOR KEY SHARE, a lock writers share: a change
      of their allocation (FOR UPDATE, app/allocation/repository.py) waits,
      so "has an allocation" holds;
    - employees FOR NO KEY UPDATE: the writes of one employee take turns.
      Their day totals, overlaps and time warnings are one employee's, so a
      write must see the logs of the one before it (two 7-hour logs written
      at once must find their 14-hour day); writes of other employees never
      wait, nor do inserts' foreign key checks (KEY SHARE). A move to another
      company (FOR UPDATE, then "has task logs?", app/reference/service.py)
      waits too, then sees this write's logs and is refused.
    In one order, the order every other locker takes them in: employees by
    id (as a change of the lock date takes all of a company's), then each
    project before its tasks, projects by id (as a change of an allocation
    takes them, app/reference/service.py). Left to the plan, the rows came in
    hash join order, and a write moving a log between two employees, or one
    on two tasks, deadlocked with those changes under load.
    SQLite, whose writers take turns, has no row locks and ignores the clause."""
    tasks = (
        select(
            Task.id,
            Task.project_id,
            Project.company_id,
            Task.allocated_hours.is_not(None).label("task_allocated"),
            Project.allocated_hours.is_not(None).label("project_allocated"),
        )
        .join(Project, Project.id == Task.project_id)
        .where(among(Task.id, ids_param("task_ids")))
        .order_by(Project.id, Task.id)
        .with_for_update(read=True, key_share=True, of=[Project, Task])
        .cte("write_tasks")
    )
    no_text, no_flag = null().cast(String()), null().cast(Boolean())
    employees = (
        select(
            Employee.id,
            Employee.company_id,
            Employee.name,
            Employee.is_active,
            Employee.is_admin,
            Employee.is_team_leader,
            func.coalesce(Employee.timezone, Company.timezone).label("timezone"),
            Company.week_start,
        )
        .join(Company, Company.id == Employee.company_id)
        .where(among(Employee.id, ids_param("employee_ids")))
        .order_by(Employee.id)
        .with_for_update(key_share=True, of=[Employee])  # FOR NO KEY UPDATE
        .cte("write_employees")
    )
    return union_all(
        select(
            literal_column("'employee'").label("kind"),
            employees.c.id,
            employees.c.company_id,
            null().label("project_id"),
            no_flag.label("task_allocated"),
            no_flag.label("project_allocated"),
            employees.c.name,
            employees.c.is_active,
            employees.c.is_admin,
            employees.c.is_team_leader,
            employees.c.timezone,
            employees.c.week_start,
        ),
        select(
            literal_column("'task'"),
            tasks.c.id,
            tasks.c.company_id,
            tasks.c.project_id,
            tasks.c.task_allocated,
            tasks.c.project_allocated,
            no_text,
            no_flag,
            no_flag,
            no_flag,
            no_text,
            no_text,
        ),
    )


class ReferenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self, model: type[Base], ident: int, values: dict[str, Any], changes: dict[str, Any] | None = None
    ) -> Any:
        """INSERT ... ON CONFLICT (id) DO UPDATE: one statement, safe under
        concurrent PUTs. A new row gets `values`; an existing one only
        `changes` (default: `values`), so what a PUT leaves out stays as stored."""
        table = model.__table__
        stmt = dialect_insert(self.session)(table).values(id=ident, **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.id], set_={**(values if changes is None else changes), "updated_at": func.now()}
        ).returning(*table.c)
        row = (await self.session.execute(stmt)).one()
        return row

    async def lock(self, model: type[Base], ident: int) -> None:
        """FOR UPDATE on the row: it waits for every write whose log refers to
        it (an insert's foreign key check holds KEY SHARE) to commit."""
        table = model.__table__
        await self.session.execute(select(table.c.id).where(table.c.id == ident).with_for_update())

    async def has_task_logs(self, kind: Literal["employee", "project", "task"], ident: int) -> bool:
        """Whether any stored task log is the employee's, or on the task, or on a task of the project."""
        if kind == "employee":
            where: Any = TaskLog.user_id == ident
        elif kind == "task":
            where = TaskLog.task_id == ident
        else:
            where = TaskLog.task_id.in_(select(Task.id).where(Task.project_id == ident))
        return bool(await self.session.scalar(select(exists().where(where))))

    async def get(self, model: type[Base], ident: int) -> Any:
        table = model.__table__
        return (await self.session.execute(select(table).where(table.c.id == ident))).one_or_none()

    async def exists(self, model: type[Base], ident: int) -> bool:
        table = model.__table__
        return (await self.session.execute(select(table.c.id).where(table.c.id == ident))).first() is not None

    async def employee_contexts(self, ids: set[int]) -> dict[int, EmployeeContext]:
        if not ids:
            return {}
        rows = (await self.session.execute(_EMPLOYEE_CONTEXTS, {"ids": sorted(ids)})).mappings()
        return {row["employee_id"]: EmployeeContext(**row) for row in rows}

    async def write_contexts(
        self, task_ids: set[int], employee_ids: set[int]
    ) -> tuple[dict[int, TaskContext], dict[int, EmployeeContext]]:
        """`task_contexts` (with their allocations) and `employee_contexts` in
        one round trip, for a write: see `_write_contexts` for its lock.

        A task moved to another project while the statement waited for its
        old project's lock drops out of the statement's join: PostgreSQL
        checks the task's new row against the project it locked before the
        move. A task missing from the answer that does exist is read again
        (once): its new project is locked then. Not the common path: a task
        that does not exist costs one look-up more before its 422."""
        tasks, employees = await self._locked_contexts(task_ids, employee_ids)
        moved = task_ids - tasks.keys()
        if moved and await self.session.scalar(select(exists().where(Task.id.in_(sorted(moved))))):
            tasks, employees = await self._locked_contexts(task_ids, employee_ids)
        return tasks, employees

    async def _locked_contexts(
        self, task_ids: set[int], employee_ids: set[int]
    ) -> tuple[dict[int, TaskContext], dict[int, EmployeeContext]]:
        tasks: dict[int, TaskContext] = {}
        employees: dict[int, EmployeeContext] = {}
        rows = await self.session.execute(
            _write_contexts(), {"task_ids": sorted(task_ids), "employee_ids": sorted(employee_ids)}
        )
        for row in rows:
            if row.kind == "task":
                tasks[row.id] = TaskContext(
                    task_id=row.id,
                    project_id=row.project_id,
                    company_id=row.company_id,
                    task_allocated=bool(row.task_allocated),
                    project_allocated=bool(row.project_allocated),
                )
            else:
                employees[row.id] = EmployeeContext(
                    employee_id=row.id,
                    company_id=row.company_id,
                    name=row.name,
                    is_active=bool(row.is_active),
                    is_admin=bool(row.is_admin),
                    is_team_leader=bool(row.is_team_leader),
                    timezone=row.timezone,
                    week_start=row.week_start,
                )
        return tasks, employees

    async def task_contexts(self, ids: set[int]) -> dict[int, TaskContext]:
        if not ids:
            return {}
        rows = (await self.session.execute(_TASK_CONTEXTS, {"ids": sorted(ids)})).mappings()
        return {row["task_id"]: TaskContext(**row) for row in rows}

    async def company_timezone(self, company_id: int) -> str | None:
        return await self.session.scalar(select(Company.timezone).where(Company.id == company_id))

    async def company_calendar(self, company_id: int) -> CompanyCalendar | None:
        """The company's zone and first day of a week, or None if unknown."""
        stmt = select(Company.timezone, Company.week_start).where(Company.id == company_id)
        row = (await self.session.execute(stmt)).first()
        return None if row is None else CompanyCalendar(*row)

    async def employee_context(self, employee_id: int) -> EmployeeContext | None:
        """One employee with their effective zone, or None if unknown."""
        row = (await self.session.execute(_EMPLOYEE_CONTEXT, {"employee_id": employee_id})).mappings().first()
        return None if row is None else EmployeeContext(**row)

    async def project_context(self, project_id: int) -> ProjectContext | None:
        """One project with its allocation figures and its company's zone, or None if unknown."""
        row = (await self.session.execute(_PROJECT_CONTEXT, {"project_id": project_id})).mappings().first()
        return None if row is None else ProjectContext(**row)
