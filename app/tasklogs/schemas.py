"""Task log payloads. Input takes either casing (`task_id` / `taskId`, and
`employee_id` / `employeeId` / `user_id` / `userId` for the same field);
output is camelCase."""

from datetime import datetime
from typing import Annotated

from pydantic import AliasChoices, Field, WithJsonSchema

from app.core.schemas import ApiModel, CleanText, Envelope, ErrorEnvelope, Id, UtcTimestamp

USER_ALIASES = AliasChoices("userId", "user_id", "employeeId", "employee_id")

Description = Annotated[CleanText | None, Field(max_length=5000, examples=["Worked on authentication"])]
# Not `format: date-time`: that is RFC 3339, which requires an offset, and the
# platform's manual entries are sent without one (`2024-10-29T09:00:00`).
LOCAL_OR_INSTANT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"  # date, time
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?$"  # the offset, if any
)
Timestamp = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCAL_OR_INSTANT,
            "description": "ISO 8601. With an offset (`Z`, `+05:30`) it is an instant; without one it is a "
            "wall-clock time in the employee's time zone (the employee's, else the company's, else UTC).",
            "examples": ["2024-10-29T09:00:00Z", "2024-10-29T09:00:00"],
        }
    ),
]


class TaskLogCreate(ApiModel):
    """One task log to create."""

    task_id: Id
    user_id: Id = Field(validation_alias=USER_ALIASES, examples=[10])
    start_time: Timestamp
    end_time: Timestamp
    description: Description = ""
    manual_add: bool = Field(False, description="True for an entry typed in by hand rather than timed.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "task_id": 250,
                    "employee_id": 10,
                    "start_time": "2024-10-29T09:00:00Z",
                    "end_time": "2024-10-29T10:30:00Z",
                    "description": "Worked on authentication",
                },
                {
                    "taskId": 250,
                    "userId": 10,
                    "startTime": "2024-10-29T09:00:00",
                    "endTime": "2024-10-29T10:30:00",
                    "description": "Manual entry in the employee's local time",
                    "manualAdd": True,
                },
            ]
        }
    }


class TaskLogBulkItem(TaskLogCreate):
    """One item of a bulk upload; `userId` defaults to the path's user."""

    user_id: Id | None = Field(None, validation_alias=USER_ALIASES, examples=[10])  # type: ignore[assignment]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "taskId": 250,
                    "userId": 10,
                    "startTime": "2024-10-29T09:00:00Z",
                    "endTime": "2024-10-29T10:30:00Z",
                    "description": "Worked on authentication module",
                    "manualAdd": False,
                }
            ]
        }
    }


class TaskLogUpdate(ApiModel):
    """Fields to change; every field is optional. An edit marks the log
    `manualAdd: true` unless the body says otherwise."""

    task_id: Id | None = None
    user_id: Id | None = Field(None, validation_alias=USER_ALIASES)
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    description: Description = None
    manual_add: bool | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "startTime": "2024-10-29T09:00:00Z",
                    "endTime": "2024-10-29T11:00:00Z",
                    "description": "Research and planning",
                    "taskId": 250,
                    "userId": 10,
                }
            ]
        }
    }


class TaskLogOut(ApiModel):
    task_log_id: int = Field(examples=[41])
    task_id: int = Field(examples=[250])
    project_id: int = Field(examples=[7])
    user_id: int = Field(examples=[10])
    user_name: str = Field(examples=["Asha Rao"])
    start_time: UtcTimestamp
    end_time: UtcTimestamp
    duration_seconds: int = Field(examples=[5400])
    duration: str = Field(description="H:MM", examples=["1:30"])
    description: str
    manual_add: bool
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    created_by: str | None = Field(
        description="Who wrote it first: 'employee:10' or 'apikey:3'.", examples=["employee:10"]
    )
    updated_by: str | None = Field(description="Who wrote it last.", examples=["employee:10"])
    version: int = Field(description="+1 on every change; also the `ETag`.", examples=[1])


class TaskLogAnswer(Envelope[TaskLogOut]):
    pass


class VersionConflictAnswer(ErrorEnvelope):
    """A 412 VERSION_CONFLICT: `data` is the log as it is now, so the caller
    can show it or retry with its `version` without another read."""

    data: TaskLogOut


class TaskLogChangeOut(ApiModel):
    cursor: str = Field(description="This change's position in the feed.")
    task_log_id: int
    action: str = Field(examples=["update"], description="create, update, delete or restore")
    version: int = Field(description="The log's version after this change.")
    actor: str = Field(examples=["employee:10"])
    request_id: str | None
    at: UtcTimestamp
    before: TaskLogOut | None
    after: TaskLogOut | None


class ChangeFeedAnswer(Envelope[list[TaskLogChangeOut]]):
    next_cursor: str | None = Field(None, description="Ask again with since=<nextCursor> (change feed only).")


class DailyTotal(ApiModel):
    user_id: int
    date: str = Field(description="Local date in the employee's time zone", examples=["2024-10-29"])
    total_seconds: int
    total_hours: float
    total_time: str = Field(examples=["6:30"])


class AllocationEntry(ApiModel):
    project_id: int
    task_id: int | None = Field(None, description="Present on task entries.")
    allocated_hours: float
    logged_hours: float
    remaining_hours: float
    exceeded: bool
    notified_admin_ids: list[int] = Field(description="Admins notified by this write (only when it crossed the line).")


class Warning(ApiModel):
    code: str = Field(examples=["OVERLAPPING_LOG"])
    task_log_id: int | None = None
    overlaps_task_log_id: int | None = None
    user_id: int | None = None
    date: str | None = None
    total_hours: float | None = None
    limit_hours: float | None = None


class SkippedItem(ApiModel):
    index: int
    reason: str = Field(examples=["DUPLICATE"])
    existing_task_log_id: int | None
    task_id: int
    start_time: UtcTimestamp


class BulkData(ApiModel):
    created: list[TaskLogOut]
    skipped: list[SkippedItem]


class WriteEffects(ApiModel):
    daily_totals: list[DailyTotal]
    allocation: list[AllocationEntry]
    warnings: list[Warning]


class TaskLogWriteAnswer(WriteEffects):
    status: int = 1
    message: str
    data: TaskLogOut


class BulkAnswer(WriteEffects):
    status: int = 1
    message: str
    data: BulkData


class DeletedData(ApiModel):
    task_log_id: int


class DeleteAnswer(WriteEffects):
    status: int = 1
    message: str
    data: DeletedData


class TaskSummary(ApiModel):
    count: int
    total_seconds: int
    total_time: str


class Pagination(ApiModel):
    page: int
    page_size: int
    total: int


class TaskLogsAnswer(ApiModel):
    status: int = 1
    message: str
    data: list[TaskLogOut]
    summary: TaskSummary
    pagination: Pagination | None = None


class TaskLogSearchAnswer(Envelope[list[TaskLogOut]]):
    next_cursor: str | None = Field(
        None,
        alias="nextCursor",
        description="Give it back as `cursor` (with the same filters) for the next page; null on the last page.",
        examples=["eyJxIjoiYWJjIiwicCI6WzE3MzAxOTI0MDAsNDFdfQ.c2lnbmF0dXJl"],
    )


class TaskLogHistoryAnswer(Envelope[list[TaskLogChangeOut]]):
    next_cursor: str | None = Field(
        None,
        alias="nextCursor",
        description=(
            "Give it back as `cursor` to this log's history for the next page; null on the last page. "
            "Opaque and signed, valid only for this log."
        ),
        examples=["eyJxIjoiYWJjIiwicCI6WzAsMTddfQ.c2lnbmF0dXJl"],
    )
