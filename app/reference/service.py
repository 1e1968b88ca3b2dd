"""Rules for the reference-data mirror: parents must exist, and a changed
allocation is re-evaluated at once (raising it re-arms the alert, lowering it
below the logged time alerts the admins like any other crossing)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.allocation.repository import AllocationRepository
from app.allocation.service import check_allocations, figures
from app.core.errors import FieldError, InputRejected, NotFound
from app.models import Company, Employee, Project, Task
from app.reference.repository import ReferenceRepository
from app.reference.schemas import (
    CompanyIn,
    CompanyOut,
    EmployeeIn,
    EmployeeOut,
    ProjectIn,
    ProjectOut,
    TaskIn,
    TaskOut,
)


async def _require(repo: ReferenceRepository, model: type, ident: int, field: str, code: str) -> None:
    if not await repo.exists(model, ident):
        what = model.__name__.lower()
        raise InputRejected([FieldError(field, f"{what.capitalize()} {ident} does not exist.", code)])


def _company_view(row: Any) -> dict[str, Any]:
    return CompanyOut(company_id=row.id, name=row.name, timezone=row.timezone, created_at=row.created_at,
                      updated_at=row.updated_at).model_dump(mode="json")


async def put_company(session: AsyncSession, company_id: int, data: CompanyIn) -> dict[str, Any]:
    row = await ReferenceRepository(session).upsert(Company, company_id, data.model_dump(by_alias=False))
    return _company_view(row)


async def get_company(session: AsyncSession, company_id: int) -> dict[str, Any]:
    row = await ReferenceRepository(session).get(Company, company_id)
    if row is None:
        raise NotFound("Company", company_id, "COMPANY_NOT_FOUND")
    return _company_view(row)


async def _employee_view(repo: ReferenceRepository, row: Any) -> dict[str, Any]:
    effective = row.timezone or await repo.company_timezone(row.company_id) or "UTC"
    return EmployeeOut(
        employee_id=row.id, company_id=row.company_id, name=row.name, email=row.email, is_admin=row.is_admin,
        is_team_leader=row.is_team_leader, is_active=row.is_active, timezone=row.timezone,
        effective_timezone=effective, created_at=row.created_at, updated_at=row.updated_at,
    ).model_dump(mode="json")


async def put_employee(session: AsyncSession, employee_id: int, data: EmployeeIn) -> dict[str, Any]:
    repo = ReferenceRepository(session)
    await _require(repo, Company, data.company_id, "companyId", "COMPANY_NOT_FOUND")
    row = await repo.upsert(Employee, employee_id, data.model_dump(by_alias=False))
    return await _employee_view(repo, row)


async def get_employee(session: AsyncSession, employee_id: int) -> dict[str, Any]:
    repo = ReferenceRepository(session)
    row = await repo.get(Employee, employee_id)
    if row is None:
        raise NotFound("Employee", employee_id, "USER_NOT_FOUND")
    return await _employee_view(repo, row)


async def _logged_seconds(session: AsyncSession, project_id: int) -> dict[int, int]:
    """{task_id: seconds} for every task of the project that has time."""
    by_task = await AllocationRepository(session).logged_seconds_by_task({project_id})
    return {task_id: seconds for (_, task_id), seconds in by_task.items()}


async def _project_view(session: AsyncSession, row: Any) -> dict[str, Any]:
    logged = sum((await _logged_seconds(session, row.id)).values())
    return ProjectOut(
        project_id=row.id, company_id=row.company_id, name=row.name, is_active=row.is_active,
        created_at=row.created_at, updated_at=row.updated_at,
        **figures(row.allocated_hours, logged, row.allocation_exceeded),
    ).model_dump(mode="json")


async def put_project(session: AsyncSession, project_id: int, data: ProjectIn) -> dict[str, Any]:
    repo = ReferenceRepository(session)
    await _require(repo, Company, data.company_id, "companyId", "COMPANY_NOT_FOUND")
    await repo.upsert(Project, project_id, data.model_dump(by_alias=False))
    await check_allocations(session, {project_id}, set(), {})
    return await get_project(session, project_id)


async def get_project(session: AsyncSession, project_id: int) -> dict[str, Any]:
    row = await ReferenceRepository(session).get(Project, project_id)
    if row is None:
        raise NotFound("Project", project_id, "PROJECT_NOT_FOUND")
    return await _project_view(session, row)


async def put_task(session: AsyncSession, task_id: int, data: TaskIn) -> dict[str, Any]:
    repo = ReferenceRepository(session)
    await _require(repo, Project, data.project_id, "projectId", "PROJECT_NOT_FOUND")
    before = await repo.get(Task, task_id)
    await repo.upsert(Task, task_id, data.model_dump(by_alias=False))
    # A task moved to another project takes its time along: both projects' totals change.
    projects = {data.project_id} | ({before.project_id} if before is not None else set())
    await check_allocations(session, projects, {task_id}, {})
    return await get_task(session, task_id)


async def get_task(session: AsyncSession, task_id: int) -> dict[str, Any]:
    row = await ReferenceRepository(session).get(Task, task_id)
    if row is None:
        raise NotFound("Task", task_id, "TASK_NOT_FOUND")
    logged = (await _logged_seconds(session, row.project_id)).get(row.id, 0)
    return TaskOut(
        task_id=row.id, project_id=row.project_id, name=row.name, created_at=row.created_at,
        updated_at=row.updated_at, **figures(row.allocated_hours, logged, row.allocation_exceeded),
    ).model_dump(mode="json")
