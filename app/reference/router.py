"""Reference data endpoints: idempotent upserts (PUT) and reads (GET)."""

from typing import Annotated, Any

from fastapi import Path

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, error_responses
from app.reference import service
from app.reference.schemas import (
    CompanyAnswer,
    CompanyIn,
    EmployeeAnswer,
    EmployeeIn,
    ProjectAnswer,
    ProjectIn,
    TaskAnswer,
    TaskIn,
)

router = Router(tags=["Reference data"], responses=AUTH_ERRORS)

ERRORS: dict[int | str, dict[str, Any]] = error_responses(404, 422)


@router.put(
    "/companies/{companyId}/",
    operation_id="put_company",
    summary="Create or update a company",
    response_model=CompanyAnswer,
    responses=ERRORS,
)
async def put_company(
    company_id: Annotated[int, Path(alias="companyId", ge=1, le=MAX_ID)],
    body: CompanyIn,
    session: Session,
    actor: Actor,
) -> EnvelopeResponse:
    """Mirror a platform company. `timezone` is an IANA name (default `UTC`); employees without their own
    zone count their local days in it."""
    return ok("Company saved", await service.put_company(session, company_id, body, actor=actor))


@router.get(
    "/companies/{companyId}/",
    operation_id="get_company",
    summary="Get a company",
    response_model=CompanyAnswer,
    responses=ERRORS,
)
async def get_company(
    company_id: Annotated[int, Path(alias="companyId", ge=1, le=MAX_ID)], session: Session, actor: Actor
) -> EnvelopeResponse:
    """A company of the mirror (your own company, or any with a platform key)."""
    return ok("Company", await service.get_company(session, company_id, actor=actor))


@router.put(
    "/employees/{employeeId}/",
    operation_id="put_employee",
    summary="Create or update an employee",
    response_model=EmployeeAnswer,
    responses=ERRORS,
)
async def put_employee(
    employee_id: Annotated[int, Path(alias="employeeId", ge=1, le=MAX_ID)],
    body: EmployeeIn,
    session: Session,
    actor: Actor,
) -> EnvelopeResponse:
    """Mirror a platform employee. The company must exist. `timezone` null means the company's zone."""
    return ok("Employee saved", await service.put_employee(session, employee_id, body, actor=actor))


@router.get(
    "/employees/{employeeId}/",
    operation_id="get_employee",
    summary="Get an employee",
    response_model=EmployeeAnswer,
    responses=ERRORS,
)
async def get_employee(
    employee_id: Annotated[int, Path(alias="employeeId", ge=1, le=MAX_ID)], session: Session, actor: Actor
) -> EnvelopeResponse:
    """An employee of the mirror, with the time zone their local days are counted in."""
    return ok("Employee", await service.get_employee(session, employee_id, actor=actor))


@router.put(
    "/projects/{projectId}/",
    operation_id="put_project",
    summary="Create or update a project",
    response_model=ProjectAnswer,
    responses=ERRORS,
)
async def put_project(
    project_id: Annotated[int, Path(alias="projectId", ge=1, le=MAX_ID)],
    body: ProjectIn,
    session: Session,
    actor: Actor,
) -> EnvelopeResponse:
    """Mirror a platform project. `allocatedHours` (or null for none) is checked at once against the
    logged time: raising it above the logged hours re-arms the over-allocation alert, lowering it below
    them alerts the company's admins."""
    return ok("Project saved", await service.put_project(session, project_id, body, actor=actor))


@router.get(
    "/projects/{projectId}/",
    operation_id="get_project",
    summary="Get a project with its logged hours",
    response_model=ProjectAnswer,
    responses=ERRORS,
)
async def get_project(
    project_id: Annotated[int, Path(alias="projectId", ge=1, le=MAX_ID)], session: Session, actor: Actor
) -> EnvelopeResponse:
    """A project with its allocation figures: `loggedSeconds`, `loggedHours`, `remainingHours`
    (negative when over) and `allocationExceeded`."""
    return ok("Project", await service.get_project(session, project_id, actor=actor))


@router.put(
    "/tasks/{taskId}/",
    operation_id="put_task",
    summary="Create or update a task",
    response_model=TaskAnswer,
    responses=ERRORS,
)
async def put_task(
    task_id: Annotated[int, Path(alias="taskId", ge=1, le=MAX_ID)], body: TaskIn, session: Session, actor: Actor
) -> EnvelopeResponse:
    """Mirror a platform task. The project must exist; `allocatedHours` works as on projects."""
    return ok("Task saved", await service.put_task(session, task_id, body, actor=actor))


@router.get(
    "/tasks/{taskId}/",
    operation_id="get_task",
    summary="Get a task with its logged hours",
    response_model=TaskAnswer,
    responses=ERRORS,
)
async def get_task(
    task_id: Annotated[int, Path(alias="taskId", ge=1, le=MAX_ID)], session: Session, actor: Actor
) -> EnvelopeResponse:
    """A task with its allocation figures, as for projects."""
    return ok("Task", await service.get_task(session, task_id, actor=actor))
