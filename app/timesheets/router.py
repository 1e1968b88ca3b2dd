"""Timesheet and working-hours endpoints: `/timesheets/` and its weekly grid,
and Dyzo's working-hours paths, which answer the same reports in Dyzo's
envelope. Each endpoint parses, calls one service function, shapes the answer."""

from typing import Annotated, Any

from fastapi import Path, Query
from starlette.responses import Response

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, LocalDate, error_responses
from app.core.settings import AppSettings
from app.timesheets import exports, service
from app.timesheets.schemas import (
    DayWorkingHoursAnswer,
    Format,
    ProjectTimeAnswer,
    TimesheetAnswer,
    WeekGridAnswer,
)
from app.timesheets.service import Period, TimesheetQuery

router = Router(tags=["Timesheets"], responses=AUTH_ERRORS)

ERRORS = error_responses(404, 422)
FILE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON (`format=json`), or a file download for `format=csv` / `format=xlsx`.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            exports.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    **ERRORS,
}

OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
TimeZoneQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="IANA zone for the local days (default: the employee's, else the company's).",
        examples=["Europe/Berlin"],
    ),
]


ApprovedOnlyQuery = Annotated[
    bool,
    Query(
        alias="approvedOnly",
        description="true: count only logs starting in a week of their employee that is APPROVED (what payroll "
        "wants); submitted, rejected and open weeks count nothing. Default false: every log.",
        examples=[False],
    ),
]


def _download(content: bytes, media_type: str, file_name: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{file_name}"'}
    )


def _report_answer(message: str, report: service.Report, output: Format = "json", **data: Any) -> Response:
    if output == "csv":
        return _download(exports.to_csv(exports.report_table(report)), exports.CSV_MEDIA_TYPE, report.file_name("csv"))
    if output == "xlsx":
        return _download(
            exports.to_xlsx(exports.report_table(report)), exports.XLSX_MEDIA_TYPE, report.file_name("xlsx")
        )
    return ok(message, {"rows": report.rows, "total": report.total(), **data}, filters=report.filters())


@router.get(
    "/timesheets/",
    operation_id="get_timesheet",
    summary="Timesheet report",
    response_model=TimesheetAnswer,
    responses=FILE_ANSWERS,
)
async def get_timesheet(
    session: Session,
    settings: AppSettings,
    actor: Actor,
    start_date: Annotated[LocalDate, Query(alias="startDate", description="First local day, YYYY-MM-DD.")],
    end_date: Annotated[
        LocalDate, Query(alias="endDate", description="Last local day (inclusive); at most 366 days after startDate.")
    ],
    employee_id: Annotated[int | None, Query(alias="employeeId", ge=1, le=MAX_ID)] = None,
    project_id: Annotated[int | None, Query(alias="projectId", ge=1, le=MAX_ID)] = None,
    task_id: Annotated[int | None, Query(alias="taskId", ge=1, le=MAX_ID)] = None,
    group_by: Annotated[
        list[str],
        Query(
            alias="groupBy",
            description="day, week, month, task, project or employee; give it twice (or "
            "comma-separated) for two levels, e.g. `groupBy=day&groupBy=task`. Default: day.",
        ),
    ] = [],  # noqa: B006 - FastAPI copies a default list per request
    timezone: TimeZoneQuery = None,
    week_start: Annotated[
        str | None,
        Query(
            alias="weekStart",
            description="First day of a week for groupBy=week: monday ... sunday. Default: the company's weekStart.",
            examples=["monday"],
        ),
    ] = None,
    output: Annotated[Format, Query(alias="format", description="json, csv or xlsx.")] = "json",
    approved_only: ApprovedOnlyQuery = False,
) -> Response:
    """Working time of an employee and/or a project between two local dates, grouped by one or two of
    day, week, month, task, project and employee. A log across local midnight counts on both days;
    periods without time are listed with zero. Give at least `employeeId` or `projectId`; `taskId`
    narrows further. A plain employee sees only their own time (their share of a project).
    `approvedOnly=true` counts only logs in approved weeks."""
    query = TimesheetQuery(
        Period(start_date, end_date),
        employee_id=employee_id,
        project_id=project_id,
        task_id=task_id,
        group_by=group_by,
        timezone=timezone,
        week_start=week_start,
        approved_only=approved_only,
    )
    report = await service.timesheet(session, settings, query, actor=actor)
    return _report_answer("Timesheet", report, output)


@router.get(
    "/timesheets/week/",
    operation_id="get_week_grid",
    summary="Weekly timesheet grid",
    response_model=WeekGridAnswer,
    responses=ERRORS,
)
async def get_week_grid(
    session: Session,
    settings: AppSettings,
    actor: Actor,
    employee_id: Annotated[
        int | None, Query(alias="employeeId", ge=1, le=MAX_ID, description="Default: the calling employee.")
    ] = None,
    week_start: Annotated[
        LocalDate | None,
        Query(
            alias="weekStart",
            description="First day of the grid (any weekday). Default: the first day of this week by the company's "
            "weekStart (Monday unless set), in the employee's zone.",
            examples=["2024-10-28"],
        ),
    ] = None,
    timezone: TimeZoneQuery = None,
) -> EnvelopeResponse:
    """The grid people fill in: one row per task (with its project) and one cell per day for the seven
    days from `weekStart`, with row totals, day totals and the week's total, and the week's submission:
    `status` (OPEN, SUBMITTED, APPROVED or REJECTED), `submissionId` and `approvedSeconds` (the total at
    the last approval). A grid that does not start on a submitted week's first day is OPEN."""
    grid = await service.week_grid(session, settings, employee_id, week_start, timezone, actor=actor)
    return ok("Weekly timesheet", grid)


@router.get(
    "/user-working-hours/{user_id}/{date}/",
    operation_id="get_user_day_working_hours",
    summary="An employee's working hours of one day",
    response_model=DayWorkingHoursAnswer,
    responses=ERRORS,
)
async def get_user_day_working_hours(
    user_id: PathId,
    day: Annotated[LocalDate, Path(alias="date", description="Local day, YYYY-MM-DD.")],
    session: Session,
    settings: AppSettings,
    actor: Actor,
    timezone: TimeZoneQuery = None,
) -> EnvelopeResponse:
    """The day's total and its logs; a log across midnight shows with its share of this day."""
    result = await service.day_working_hours(session, settings, user_id, day, timezone, actor=actor)
    return ok("Working hours", result)


@router.get(
    "/api/employee/{employee_id}/working-hours/{start_date}/{end_date}/",
    operation_id="get_employee_working_hours",
    summary="An employee's working hours per day",
    response_model=TimesheetAnswer,
    responses=ERRORS,
)
async def get_employee_working_hours(
    employee_id: PathId,
    start_date: LocalDate,
    end_date: LocalDate,
    session: Session,
    settings: AppSettings,
    actor: Actor,
    timezone: TimeZoneQuery = None,
    approved_only: ApprovedOnlyQuery = False,
) -> Response:
    """One row per local day from `start_date` to `end_date` (inclusive, at most 366 days), zeros included:
    the same report as `/timesheets/?employeeId=...&groupBy=day`."""
    query = TimesheetQuery(
        Period(start_date, end_date, "start_date", "end_date"),
        employee_id=employee_id,
        timezone=timezone,
        approved_only=approved_only,
    )
    return _report_answer("Working hours", await service.timesheet(session, settings, query, actor=actor))


RangeStart = Annotated[
    LocalDate | None, Query(description="First local day; default: the 1st of end_date's month, or of this month.")
]
RangeEnd = Annotated[
    LocalDate | None,
    Query(description="Last local day; default: the last day of start_date's month, or of this month."),
]


@router.get(
    "/api/project/{project_id}/employees-time-spent/",
    operation_id="get_project_employees_time_spent",
    summary="Time per employee on a project",
    response_model=ProjectTimeAnswer,
    responses=ERRORS,
)
async def get_project_employees_time_spent(
    project_id: PathId,
    session: Session,
    settings: AppSettings,
    actor: Actor,
    start_date: RangeStart = None,
    end_date: RangeEnd = None,
    timezone: TimeZoneQuery = None,
    approved_only: ApprovedOnlyQuery = False,
) -> Response:
    """One row per employee with time on the project in the period (days in the company's zone), and the
    project's allocation figures (`allocation`, over all its time). A plain employee gets their own row."""
    period = Period(start_date, end_date, "start_date", "end_date")
    report, allocation = await service.project_time_spent(
        session, settings, project_id, period, timezone, actor=actor, approved_only=approved_only
    )
    return _report_answer("Employees' time spent", report, allocation=allocation)


@router.get(
    "/api/company/{company_id}/working-hours/",
    operation_id="get_company_working_hours",
    summary="A company's working hours per employee and day",
    response_model=TimesheetAnswer,
    responses=error_responses(403, 404, 422),
)
async def get_company_working_hours(
    company_id: PathId,
    session: Session,
    settings: AppSettings,
    actor: Actor,
    start_date: RangeStart = None,
    end_date: RangeEnd = None,
    timezone: TimeZoneQuery = None,
    approved_only: ApprovedOnlyQuery = False,
) -> Response:
    """One row per employee with time in the period, each with one child per local day (the company's
    zone), zeros included. For team leaders, admins and service keys; employees get 403."""
    query = TimesheetQuery(
        Period(start_date, end_date, "start_date", "end_date"),
        company_id=company_id,
        group_by=("employee", "day"),
        timezone=timezone,
        approved_only=approved_only,
    )
    return _report_answer("Working hours", await service.timesheet(session, settings, query, actor=actor))


@router.get(
    "/api/company/{company_id}/user/{user_id}/export-csv-report/{month}/",
    operation_id="export_employee_month_csv",
    summary="Export an employee's month as CSV",
    response_class=Response,
    responses={
        200: {
            "description": "A CSV file: one line per log and local day.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **ERRORS,
    },
)
async def export_employee_month_csv(
    company_id: PathId,
    user_id: PathId,
    # The pattern is documentation; the service's own check answers a 422 in its words.
    month: Annotated[
        str,
        Path(description="YYYY-MM", examples=["2024-10"], json_schema_extra={"pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}),
    ],
    session: Session,
    settings: AppSettings,
    actor: Actor,
    approved_only: ApprovedOnlyQuery = False,
) -> Response:
    """The employee's logs of a local month (their zone), one line per log and day with decimal hours and
    H:MM, for payroll or a spreadsheet."""
    result = await service.employee_month_lines(
        session, settings, company_id, user_id, month, actor=actor, approved_only=approved_only
    )
    return _download(exports.to_csv(exports.lines_table(result)), exports.CSV_MEDIA_TYPE, result.file_name("csv"))
