"""Persistence of the reference-data mirror."""

from dataclasses import dataclass
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


# Read on every write, so built once (see app.core.sql.prebuilt for why).
_EMPLOYEE_DETAILS = (Employee.name, Employee.is_active, Employee.is_admin, Employee.is_team_leader,
                     func.coalesce(Employee.timezone, Company.timezone))
_EMPLOYEE_CONTEXTS = (
    select(Employee.id, Employee.company_id, *_EMPLOYEE_DETAILS)
    .join(Company, Company.id == Employee.company_id)
    .where(Employee.id.in_(bindparam("ids", expanding=True)))
)
_TASK_CONTEXTS = (
    select(Task.id, Task.project_id, Project.company_id)
    .join(Project, Project.id == Task.project_id)
    .where(Task.id.in_(bindparam("ids", expanding=True)))
)


# A write's tasks and employees in one round trip: the employees' rows, then
# the tasks' in the same columns (id, company, then the task's project or
# the employee's details), told apart by `kind`.
_WRITE_CONTEXTS: Any = union_all(
    select(literal_column("'employee'").label("kind"), Employee.id, Employee.company_id,
           null().label("project_id"), *_EMPLOYEE_DETAILS)
    .join(Company, Company.id == Employee.company_id)
    .where(Employee.id.in_(bindparam("employee_ids", expanding=True))),
    select(literal_column("'task'"), Task.id, Project.company_id, Task.project_id,
           *[null() for _ in _EMPLOYEE_DETAILS])
    .join(Project, Project.id == Task.project_id)
    .where(Task.id.in_(bindparam("task_ids", expanding=True))),
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
        for kind, ident, company_id, project_id, *details in rows:
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
