"""Reference data mirrored from the platform: companies, employees, projects, tasks."""

from pydantic import Field

from app.core.schemas import ApiModel, CleanText, Envelope, Id, Name, TimeZoneName, UtcTimestamp


class CompanyIn(ApiModel):
    name: Name = Field(examples=["Acme Studio"])
    timezone: TimeZoneName = "UTC"


class CompanyOut(ApiModel):
    company_id: int
    name: str
    timezone: str
    created_at: UtcTimestamp
    updated_at: UtcTimestamp


class EmployeeIn(ApiModel):
    company_id: Id
    name: Name = Field(examples=["Asha Rao"])
    email: CleanText | None = Field(None, max_length=320, examples=["asha@example.com"])
    is_admin: bool = False
    is_team_leader: bool = False
    is_active: bool = True
    timezone: TimeZoneName | None = Field(None, description="Falls back to the company's zone when null.")


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
    company_id: Id
    name: Name = Field(examples=["Website relaunch"])
    allocated_hours: float | None = Field(None, ge=0, le=10_000_000, examples=[500])
    is_active: bool = True


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
    project_id: Id
    name: Name = Field(examples=["Authentication module"])
    allocated_hours: float | None = Field(None, ge=0, le=10_000_000, examples=[8.5])


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
