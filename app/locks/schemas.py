from datetime import date
from typing import Any

from pydantic import Field

from app.core.schemas import ApiModel, Envelope, LocalDate


class LockIn(ApiModel):
    locked_through: LocalDate | None = Field(
        description="Lock every log starting on or before this local day (the employee's zone); null unlocks all.",
        examples=["2026-11-30"],
    )

    model_config = {"json_schema_extra": {"examples": [{"lockedThrough": "2026-11-30"}]}}


class LockOut(ApiModel):
    company_id: int
    locked_through: date | None = Field(examples=["2026-11-30"])


class LockAnswer(Envelope[LockOut]):
    pass


class CompanyChangeOut(ApiModel):
    change_id: int
    company_id: int
    action: str = Field(description="`lock`: the lock date moved.", examples=["lock"])
    before: dict[str, Any] | None = Field(examples=[{"lockedThrough": None}])
    after: dict[str, Any] | None = Field(examples=[{"lockedThrough": "2026-11-30"}])
    changed_by: str = Field(examples=["employee:1"])
    changed_at: str = Field(examples=["2026-12-01T09:00:00Z"])


class CompanyHistoryPage(ApiModel):
    status: int = 1
    message: str
    data: list[CompanyChangeOut]
    pagination: dict[str, int] = Field(examples=[{"page": 1, "pageSize": 50, "total": 1}])
