"""Timesheet answers, for the OpenAPI document (camelCase, as sent). The
service builds the answers as plain dicts (a company's month is thousands of
rows); a test validates real answers against these models."""

from typing import Literal

from pydantic import Field

from app.core.schemas import ApiModel

Format = Literal["json", "csv", "xlsx"]
WeekStatus = Literal["OPEN", "SUBMITTED", "APPROVED", "REJECTED"]


class Totals(ApiModel):
    total_seconds: int = Field(examples=[23400])
    total_hours: float = Field(description="Decimal hours, 2 decimals.", examples=[6.5])
    total_time: str = Field(description="H:MM (minutes rounded down).", examples=["6:30"])


class TimesheetRow(Totals):
    """One group. Only the keys of its grouping are present: `date` (day),
    `weekStart` (week), `month` (YYYY-MM), `taskId`+`taskName`+`projectId`+`projectName`
    (task), `projectId`+`projectName` (project), `employeeId`+`employeeName` (employee)."""

    date: str | None = Field(None, examples=["2024-10-28"])
    week_start: str | None = Field(None, examples=["2024-10-28"])
    month: str | None = Field(None, examples=["2024-10"])
    task_id: int | None = None
    task_name: str | None = None
    project_id: int | None = None
    project_name: str | None = None
    employee_id: int | None = None
    employee_name: str | None = None
    children: list["TimesheetRow"] | None = Field(
        None, description="The second grouping inside this group (when groupBy is given twice)."
    )


class TimesheetData(ApiModel):
    rows: list[TimesheetRow]
    total: Totals


class TimesheetFilters(ApiModel):
    """The report as it was understood, defaults filled in."""

    employee_id: int | None
    project_id: int | None
    task_id: int | None
    company_id: int | None
    start_date: str = Field(examples=["2024-10-28"])
    end_date: str = Field(examples=["2024-11-03"])
    group_by: list[str] = Field(examples=[["day", "task"]])
    timezone: str = Field(examples=["Europe/Berlin"])
    week_start: str = Field(examples=["monday"])
    own_time_only: bool = Field(
        description="True when a plain employee's project report was narrowed to their own time."
    )
    approved_only: bool = Field(description="True when only logs in approved weeks were counted.")


class TimesheetAnswer(ApiModel):
    status: int = 1
    message: str
    data: TimesheetData
    filters: TimesheetFilters


class GridCell(Totals):
    date: str = Field(examples=["2024-10-28"])


class GridRow(Totals):
    task_id: int
    task_name: str
    project_id: int
    project_name: str
    days: list[GridCell] = Field(description="Seven cells, one per day of the week, in order.")


class DayTotal(GridCell):
    weekday: str = Field(examples=["monday"])


class WeekGrid(ApiModel):
    employee_id: int
    employee_name: str
    week_start: str
    week_end: str
    timezone: str
    rows: list[GridRow] = Field(description="One row per task with time in the week.")
    day_totals: list[DayTotal] = Field(description="Column totals: seven days.")
    total: Totals = Field(description="The week's total now.")
    status: WeekStatus = Field(
        description="The submission of the week starting on `weekStart`: OPEN when none (nothing submitted).",
        examples=["APPROVED"],
    )
    submission_id: int | None = Field(description="Null when OPEN.", examples=[3])
    approved_seconds: int | None = Field(
        description="The week's total at its last approval (kept after a reopen); null if never approved. "
        "Differs from `total` when the week changed since.",
        examples=[16200],
    )


class WeekGridAnswer(ApiModel):
    status: int = 1
    message: str
    data: WeekGrid


class LogLine(Totals):
    """A log's share of one local day (`total*`); a log across midnight is one line per day."""

    date: str
    task_log_id: int
    task_id: int
    task_name: str
    project_id: int
    project_name: str
    user_id: int
    user_name: str
    start_time: str = Field(description="The whole log, UTC.", examples=["2024-10-28T21:00:00Z"])
    end_time: str = Field(examples=["2024-10-29T01:00:00Z"])
    local_start: str = Field(
        description="Start of the part inside this day, local time with offset.", examples=["2024-10-28T22:00:00+01:00"]
    )
    local_end: str = Field(examples=["2024-10-29T00:00:00+01:00"])
    duration_seconds: int = Field(description="The whole log's length.")
    description: str
    manual_add: bool


class DayWorkingHours(Totals):
    user_id: int
    user_name: str
    date: str
    timezone: str
    logs: list[LogLine]


class DayWorkingHoursAnswer(ApiModel):
    status: int = 1
    message: str
    data: DayWorkingHours


class ProjectAllocation(ApiModel):
    """The project's allocation figures over all its time (not only the period's)."""

    project_id: int
    project_name: str
    allocated_hours: float | None
    logged_seconds: int
    logged_hours: float
    remaining_hours: float | None
    allocation_exceeded: bool


class ProjectTimeData(TimesheetData):
    allocation: ProjectAllocation


class ProjectTimeAnswer(ApiModel):
    status: int = 1
    message: str
    data: ProjectTimeData
    filters: TimesheetFilters
