"""Time warning payloads (Dyzo's paths): either casing in, camelCase out."""

from typing import Annotated, Literal

from pydantic import Field

from app.core.schemas import ApiModel, CleanText, Envelope, Id, UtcTimestamp
from app.tasklogs.schemas import Pagination


class TimeWarningAction(ApiModel):
    """What to do with some warnings: all of them, or none."""

    warning_ids: list[Id] = Field(min_length=1, max_length=1000, examples=[[1]])
    action: Literal["ignore", "resolve", "reopen"] = Field(examples=["ignore"])
    note: Annotated[CleanText | None, Field(max_length=2000, examples=["Conference day, agreed with HR"])] = None

    model_config = {
        "json_schema_extra": {
            "examples": [{"warningIds": [1], "action": "ignore", "note": "Handover call, agreed with the team lead"}]
        }
    }


class TimeWarningOut(ApiModel):
    warning_id: int | None = Field(examples=[3], description="null for UNDER_LOGGED, which is computed, not stored.")
    type: str = Field(examples=["OVER_LOGGED"], description="OVER_LOGGED, OVERLAPPING_LOG or UNDER_LOGGED")
    user_id: int = Field(examples=[10])
    date: str = Field(examples=["2024-10-29"], description="The employee's local day.")
    total_seconds: int | None = Field(
        None, examples=[48600], description="OVER_LOGGED: the day's total when last over; UNDER_LOGGED: the total."
    )
    task_log_ids: list[int] = Field(examples=[[41, 42]], description="OVERLAPPING_LOG: the two logs.")
    status: str = Field(examples=["open"], description="open, ignored or resolved")
    resolved_by: str | None = Field(None, examples=["system"], description="'system' when a write resolved it.")
    created_at: UtcTimestamp | None
    updated_at: UtcTimestamp | None
    action_by: str | None = Field(None, examples=["employee:1"])
    note: str | None = None


class TimeWarningListAnswer(Envelope[list[TimeWarningOut]]):
    pagination: Pagination


class TimeWarningActionAnswer(Envelope[list[TimeWarningOut]]):
    pass
