"""Persistence of the reference-data mirror."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sql import dialect_insert
from app.models import Base, Company, Employee, Project, Task


@dataclass(frozen=True)
class TaskContext:
    """What a write needs to know about a task: where it belongs."""

    task_id: int
    project_id: int
    company_id: int


@dataclass(frozen=True)
class EmployeeContext:
    employee_id: int
    company_id: int
    name: str
    is_active: bool
    is_admin: bool
    is_team_leader: bool
    timezone: str  # effective zone: the employee's, else the company's


@dataclass(frozen=True)
class ProjectContext:
    """A project as its reports need it: owner, allocation figures and the
    zone of its company (a project has none of its own)."""

    project_id: int
    company_id: int
    name: str
    allocated_hours: Decimal | None
    allocation_exceeded: bool
    logged_seconds: int
    timezone: str


def _employee_rows(ids: str, *leading: Any) -> Any:
    """(leading..., id, company, name, is_active, is_admin, is_team_leader,
    effective zone) of the employees in :<ids>."""
    return (
        select(*leading, Employee.id, Employee.company_id, Employee.name, Employee.is_active, Employee.is_admin,
               Employee.is_team_leader, func.coalesce(Employee.timezone, Company.timezone))
        .join(Company, Company.id == Employee.company_id)
        .where(Employee.id.in_(bindparam(ids, expanding=True)))
    )


def _task_rows(ids: str) -> Any:
    """(id, project, company) of the tasks in :<ids>."""
    return (
        select(Task.id, Task.project_id, Project.company_id)
        .join(Project, Project.id == Task.project_id)
        .where(Task.id.in_(bindparam(ids, expanding=True)))
    )


# Read on every write, so built once (see app.core.sql.prebuilt for why).
_EMPLOYEE_CONTEXTS = _employee_rows("ids")
_TASK_CONTEXTS = _task_rows("ids")
# One employee (a report's subject), by a plain equality: no expanding IN to render.
_EMPLOYEE_CONTEXT = (
    select(Employee.id.label("employee_id"), Employee.company_id, Employee.name, Employee.is_active,
           Employee.is_admin, Employee.is_team_leader,
           func.coalesce(Employee.timezone, Company.timezone).label("timezone"))
    .join(Company, Company.id == Employee.company_id)
    .where(Employee.id == bindparam("employee_id"))
)
_PROJECT_CONTEXT = (
    select(Project.id.label("project_id"), Project.company_id, Project.name, Project.allocated_hours,
           Project.allocation_exceeded, Project.logged_seconds, Company.timezone)
    .join(Company, Company.id == Project.company_id)
    .where(Project.id == bindparam("project_id"))
)
# A write's tasks and employees in one round trip: (kind, the task's project,
# id, company, the employee's details); each kind leaves the other's empty.
_WRITE_TASKS = _task_rows("task_ids").subquery()
_WRITE_CONTEXTS: Any = union_all(
    _employee_rows("employee_ids", literal_column("'employee'").label("kind"), null().label("project_id")),
    select(literal_column("'task'"), _WRITE_TASKS.c.project_id, _WRITE_TASKS.c.id, _WRITE_TASKS.c.company_id,
           *[null()] * 5),
)


class ReferenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, model: type[Base], ident: int, values: dict[str, Any]) -> Any:
        """INSERT ... ON CONFLICT (id) DO UPDATE: one statement, safe under concurrent PUTs."""
        table = model.__table__
        stmt = dialect_insert(self.session)(table).values(id=ident, **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.id], set_={**values, "updated_at": func.now()}
        ).returning(*table.c)
        row = (await self.session.execute(stmt)).one()
        return row

    async def get(self, model: type[Base], ident: int) -> Any:
        table = model.__table__
        return (await self.session.execute(select(table).where(table.c.id == ident))).one_or_none()

    async def exists(self, model: type[Base], ident: int) -> bool:
        table = model.__table__
        return (await self.session.execute(select(table.c.id).where(table.c.id == ident))).first() is not None

    async def employee_contexts(self, ids: set[int]) -> dict[int, EmployeeContext]:
        if not ids:
            return {}
        rows = (await self.session.execute(_EMPLOYEE_CONTEXTS, {"ids": sorted(ids)})).all()
        return {r[0]: EmployeeContext(*r) for r in rows}

    async def write_contexts(self, task_ids: set[int], employee_ids: set[int]
                             ) -> tuple[dict[int, TaskContext], dict[int, EmployeeContext]]:
        """`task_contexts` and `employee_contexts` in one round trip."""
        tasks: dict[int, TaskContext] = {}
        employees: dict[int, EmployeeContext] = {}
        rows = await self.session.execute(_WRITE_CONTEXTS, {"task_ids": sorted(task_ids),
                                                            "employee_ids": sorted(employee_ids)})
        for kind, project_id, ident, company_id, *details in rows:
            if kind == "task":
                tasks[ident] = TaskContext(ident, project_id, company_id)
            else:
                employees[ident] = EmployeeContext(ident, company_id, *details)
        return tasks, employees

    async def task_contexts(self, ids: set[int]) -> dict[int, TaskContext]:
        if not ids:
            return {}
        rows = (await self.session.execute(_TASK_CONTEXTS, {"ids": sorted(ids)})).all()
        return {r[0]: TaskContext(*r) for r in rows}

    async def company_timezone(self, company_id: int) -> str | None:
        return await self.session.scalar(select(Company.timezone).where(Company.id == company_id))

    async def employee_context(self, employee_id: int) -> EmployeeContext | None:
        """One employee with their effective zone, or None if unknown."""
        row = (await self.session.execute(_EMPLOYEE_CONTEXT, {"employee_id": employee_id})).mappings().first()
        return None if row is None else EmployeeContext(**row)

    async def project_context(self, project_id: int) -> ProjectContext | None:
        """One project with its allocation figures and its company's zone, or None if unknown."""
        row = (await self.session.execute(_PROJECT_CONTEXT, {"project_id": project_id})).mappings().first()
        return None if row is None else ProjectContext(**row)
