"""Reference data mirrored from the platform: companies, employees, projects, tasks."""

from datetime import date

from pydantic import Field

from app.core.schemas import ApiModel, CleanText, Envelope, Id, Name, TimeZoneName, UtcTimestamp, WeekdayName


# Each input's example is the demo company's own row (`tasklogs demo`), so
# the Swagger UI's "Try it out" succeeds on it as it is.
class CompanyIn(ApiModel):
    name: Name = Field(examples=["Demo Studio"])
    timezone: TimeZoneName = "UTC"
    week_start: WeekdayName = Field(
        "monday",
        description="The first day of the company's weeks: for weekly timesheets and their submissions.",
    )

    model_config = {
        "json_schema_extra": {"examples": [{"name": "Demo Studio", "timezone": "Europe/Berlin", "weekStart": "monday"}]}
    }


class CompanyOut(ApiModel):
    company_id: int
    name: str
    timezone: str
    week_start: WeekdayName = Field(description="The first day of the company's weeks.", examples=["monday"])
    locked_through: date | None = Field(
        None,
        description="Logs starting on or before this local day are locked (PUT /companies/{companyId}/lock/).",
        examples=[None],
    )
    created_at: UtcTimestamp
    updated_at: UtcTimestamp


class EmployeeIn(ApiModel):
    company_id: Id = Field(examples=[1])
    name: Name = Field(examples=["Asha Rao"])
    email: CleanText | None = Field(None, max_length=320, examples=["asha@example.com"])
    is_admin: bool = False
    is_team_leader: bool = False
    is_active: bool = True
    timezone: TimeZoneName | None = Field(None, description="Falls back to the company's zone when null.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "companyId": 1,
                    "name": "Asha Rao",
                    "email": "asha@demo.example",
                    "isAdmin": False,
                    "isTeamLeader": False,
                    "isActive": True,
                    "timezone": None,
                }
            ]
        }
    }


class EmployeeOut(ApiModel):
    employee_id: int
    company_id: int
    name: str
    email: str | None
    is_admin: bool
    is_team_leader: bool
    is_active: bool
    timezone: str | None
    effective_timezone: str = Field(description="The zone this employee's local days are counted in.")
    created_at: UtcTimestamp
    updated_at: UtcTimestamp


class ProjectIn(ApiModel):
    company_id: Id = Field(examples=[1])
    name: Name = Field(examples=["Website relaunch"])
    allocated_hours: float | None = Field(None, ge=0, le=10_000_000, examples=[8])
    is_active: bool = True

    model_config = {
        "json_schema_extra": {
            "examples": [{"companyId": 1, "name": "Website relaunch", "allocatedHours": 8, "isActive": True}]
        }
    }


class AllocationFigures(ApiModel):
    allocated_hours: float | None
    logged_seconds: int
    logged_hours: float
    remaining_hours: float | None = Field(description="allocatedHours - loggedHours; negative when over.")
    allocation_exceeded: bool


class ProjectOut(AllocationFigures):
    project_id: int
    company_id: int
    name: str
    is_active: bool
    created_at: UtcTimestamp
    updated_at: UtcTimestamp


class TaskIn(ApiModel):
    project_id: Id = Field(examples=[7])
    name: Name = Field(examples=["Authentication module"])
    allocated_hours: float | None = Field(None, ge=0, le=10_000_000, examples=[8.5])

    model_config = {
        "json_schema_extra": {"examples": [{"projectId": 7, "name": "Authentication module", "allocatedHours": 8.5}]}
    }


class TaskOut(AllocationFigures):
    task_id: int
    project_id: int
    name: str
    created_at: UtcTimestamp
    updated_at: UtcTimestamp


# Named answers, so the OpenAPI document reads "CompanyAnswer", not "Envelope_CompanyOut_".
class CompanyAnswer(Envelope[CompanyOut]):
    pass


class EmployeeAnswer(Envelope[EmployeeOut]):
    pass


class ProjectAnswer(Envelope[ProjectOut]):
    pass


class TaskAnswer(Envelope[TaskOut]):
    pass
