"""Rules for the reference-data mirror: who may write it, parents must exist,
and a changed allocation is re-evaluated at once (raising it re-arms the
alert, lowering it below the logged time alerts the admins like any other
crossing).

Visibility: another company's entities answer exactly like missing ones
(404 on the path, 422 *_NOT_FOUND in a body), so ids do not leak."""

from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.allocation.repository import BudgetKey, allocation_repository
from app.allocation.service import figures, reevaluate_allocations
from app.auth.principal import Principal
from app.core.errors import Conflict, FieldError, Forbidden, InputRejected, NotFound
from app.core.schemas import ApiModel
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


def _require_writer(actor: Principal) -> None:
    if not actor.writes_reference_data:
        raise Forbidden("Only admins and service keys may write reference data.")


def _visible(actor: Principal, row: Any, company_id: int | None) -> Any:
    """The row, or None when it is missing or belongs to a company the caller cannot see."""
    return row if row is not None and actor.sees(company_id) else None


async def _require_company(repo: ReferenceRepository, actor: Principal, company_id: int) -> None:
    if not actor.sees(company_id) or not await repo.exists(Company, company_id):
        raise InputRejected([FieldError("companyId", f"Company {company_id} does not exist.", "COMPANY_NOT_FOUND")])


# ---------------------------------------------------------------- companies


def _company_view(row: Any) -> dict[str, Any]:
    return CompanyOut(
        company_id=row.id,
        name=row.name,
        timezone=row.timezone,
        week_start=row.week_start,
        locked_through=row.locked_through,
        created_at=row.created_at,
        updated_at=row.updated_at,
    ).model_dump(mode="json")


async def _refuse_if_other_company(
    repo: ReferenceRepository, actor: Principal, model: type[Employee] | type[Project], ident: int, code: str
) -> Any:
    """The stored row (None for a new id). An existing row of another company
    answers 404, like an id that does not exist."""
    before = await repo.get(model, ident)
    if before is not None and not actor.sees(before.company_id):
        raise NotFound(model.__name__, ident, code)
    return before


async def _refuse_move_with_logs(
    repo: ReferenceRepository, kind: Literal["employee", "project", "task"], ident: int
) -> None:
    """A log's company is its task's company: an employee, project or task
    with logs cannot change company, or its logs would follow it into the
    other company (readable and editable there, lost to their own)."""
    if await repo.has_task_logs(kind, ident):
        raise Conflict(f"The {kind} {ident} has task logs, so it cannot move to another company.", "HAS_TASK_LOGS")


def _put_values(data: ApiModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """(a new row's values, an existing row's changes): a PUT's omitted
    fields take their defaults on create and keep their stored values on update."""
    return data.model_dump(by_alias=False), data.model_dump(by_alias=False, exclude_unset=True)


async def put_company(session: AsyncSession, company_id: int, data: CompanyIn, *, actor: Principal) -> dict[str, Any]:
    """Companies themselves are the platform's to write."""
    if not actor.is_platform:
        if actor.sees(company_id):
            raise Forbidden("Only the platform may write a company.")
        raise NotFound("Company", company_id, "COMPANY_NOT_FOUND")
    row = await ReferenceRepository(session).upsert(Company, company_id, *_put_values(data))
    return _company_view(row)


async def get_company(session: AsyncSession, company_id: int, *, actor: Principal) -> dict[str, Any]:
    row = await ReferenceRepository(session).get(Company, company_id)
    if _visible(actor, row, company_id) is None:
        raise NotFound("Company", company_id, "COMPANY_NOT_FOUND")
    return _company_view(row)


# ---------------------------------------------------------------- employees


async def _employee_view(repo: ReferenceRepository, row: Any) -> dict[str, Any]:
    effective = row.timezone or await repo.company_timezone(row.company_id) or "UTC"
    return EmployeeOut(
        employee_id=row.id,
        company_id=row.company_id,
        name=row.name,
        email=row.email,
        is_admin=row.is_admin,
        is_team_leader=row.is_team_leader,
        is_active=row.is_active,
        timezone=row.timezone,
        effective_timezone=effective,
        created_at=row.created_at,
        updated_at=row.updated_at,
    ).model_dump(mode="json")


async def put_employee(
    session: AsyncSession, employee_id: int, data: EmployeeIn, *, actor: Principal
) -> dict[str, Any]:
    _require_writer(actor)
    repo = ReferenceRepository(session)
    before = await _refuse_if_other_company(repo, actor, Employee, employee_id, "USER_NOT_FOUND")
    await _require_company(repo, actor, data.company_id)
    if before is not None and before.company_id != data.company_id:
        await repo.lock(Employee, employee_id)  # no log of theirs half-written meanwhile
        await _refuse_move_with_logs(repo, "employee", employee_id)
    row = await repo.upsert(Employee, employee_id, *_put_values(data))
    return await _employee_view(repo, row)


async def get_employee(session: AsyncSession, employee_id: int, *, actor: Principal) -> dict[str, Any]:
    repo = ReferenceRepository(session)
    row = await repo.get(Employee, employee_id)
    if _visible(actor, row, row.company_id if row else None) is None:
        raise NotFound("Employee", employee_id, "USER_NOT_FOUND")
    return await _employee_view(repo, row)


# ---------------------------------------------------------------- projects


def _with_alert_state(values: dict[str, Any]) -> dict[str, Any]:
    """Without an allocation nothing is exceeded and no total is kept: clear
    the alert state, so a new allocation below the logged time is a fresh
    crossing. With one, a total is kept (the database checks it): the recount
    that follows the upsert, under the row's lock, sets it from the logs and
    decides the alert."""
    if values["allocated_hours"] is None:
        values.update(allocation_exceeded=False, logged_seconds=None)
    else:
        values["logged_seconds"] = 0
    return values


def _allocation_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """An update's changes: its alert state follows only an allocatedHours
    that was sent (null removes the allocation; omitted keeps it)."""
    return _with_alert_state(changes) if "allocated_hours" in changes else changes


async def put_project(session: AsyncSession, project_id: int, data: ProjectIn, *, actor: Principal) -> dict[str, Any]:
    _require_writer(actor)
    repo = ReferenceRepository(session)
    before = await _refuse_if_other_company(repo, actor, Project, project_id, "PROJECT_NOT_FOUND")
    await _require_company(repo, actor, data.company_id)
    # Its allocation or company may change: no write of its logs may be half-way meanwhile.
    await allocation_repository(session).lock_for_allocation_change("project", {project_id})
    if before is not None and before.company_id != data.company_id:
        await _refuse_move_with_logs(repo, "project", project_id)
    values, changes = _put_values(data)
    await repo.upsert(Project, project_id, _with_alert_state(values), _allocation_changes(changes))
    await reevaluate_allocations(session, {("project", project_id)})
    return await get_project(session, project_id, actor=actor)


async def get_project(session: AsyncSession, project_id: int, *, actor: Principal) -> dict[str, Any]:
    row = await ReferenceRepository(session).get(Project, project_id)
    if _visible(actor, row, row.company_id if row else None) is None:
        raise NotFound("Project", project_id, "PROJECT_NOT_FOUND")
    logged = await allocation_repository(session).logged_seconds("project", row.id, row.logged_seconds)
    return ProjectOut(
        project_id=row.id,
        company_id=row.company_id,
        name=row.name,
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
        **figures(row.allocated_hours, logged, row.allocation_exceeded),
    ).model_dump(mode="json")


# ---------------------------------------------------------------- tasks


async def _task_company(repo: ReferenceRepository, task_id: int) -> int | None:
    context = (await repo.task_contexts({task_id})).get(task_id)
    return context.company_id if context else None


async def put_task(session: AsyncSession, task_id: int, data: TaskIn, *, actor: Principal) -> dict[str, Any]:
    _require_writer(actor)
    repo = ReferenceRepository(session)
    before = await repo.get(Task, task_id)
    company_before = await _task_company(repo, task_id) if before is not None else None
    if before is not None and not actor.sees(company_before):
        raise NotFound("Task", task_id, "TASK_NOT_FOUND")
    project = await repo.get(Project, data.project_id)
    if _visible(actor, project, project.company_id if project else None) is None:
        raise InputRejected(
            [FieldError("projectId", f"Project {data.project_id} does not exist.", "PROJECT_NOT_FOUND")]
        )
    # Its allocation may change, and a task moved to another project takes
    # its time along: no write of its logs may be half-way meanwhile, and the
    # totals of the task and both projects are counted again.
    projects: set[int] = {data.project_id} | ({before.project_id} if before is not None else set())
    allocations = allocation_repository(session)
    await allocations.lock_for_allocation_change("project", projects)
    await allocations.lock_for_allocation_change("task", {task_id})
    if before is not None and company_before != project.company_id:
        await _refuse_move_with_logs(repo, "task", task_id)
    values, changes = _put_values(data)
    await repo.upsert(Task, task_id, _with_alert_state(values), _allocation_changes(changes))
    budgets: set[BudgetKey] = {("task", task_id)}
    budgets |= {("project", p) for p in projects}
    await reevaluate_allocations(session, budgets)
    return await get_task(session, task_id, actor=actor)


async def get_task(session: AsyncSession, task_id: int, *, actor: Principal) -> dict[str, Any]:
    repo = ReferenceRepository(session)
    row = await repo.get(Task, task_id)
    if row is None or not actor.sees(await _task_company(repo, task_id)):
        raise NotFound("Task", task_id, "TASK_NOT_FOUND")
    logged = await allocation_repository(session).logged_seconds("task", row.id, row.logged_seconds)
    return TaskOut(
        task_id=row.id,
        project_id=row.project_id,
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        **figures(row.allocated_hours, logged, row.allocation_exceeded),
    ).model_dump(mode="json")
