"""Running timer payloads: either casing in, camelCase out."""

from typing import Any

from pydantic import Field

from app.core.schemas import ApiModel, Envelope, Id, UtcTimestamp
from app.tasklogs.schemas import (
    USER_ALIASES,
    Description,
    Pagination,
    TaskLogOut,
    Timestamp,
    Warning,
    WriteEffects,
)


class TimerStart(ApiModel):
    """A timer to start on a task."""

    task_id: Id
    user_id: Id | None = Field(
        None,
        validation_alias=USER_ALIASES,
        description="Whose timer; the caller's own by default (admins and keys may name another employee).",
        examples=[10],
    )
    description: Description = ""
    start_time: Timestamp | None = Field(
        None, description="When it started; now by default. With an offset or in the employee's local time."
    )
    stop_running: bool = Field(
        False,
        description="Stop the employee's running timer first (creating its log, ending at this timer's start) "
        "instead of answering 409 TIMER_ALREADY_RUNNING.",
    )

    model_config = {"json_schema_extra": {"examples": [{"taskId": 253, "userId": 11, "description": "Offline sync"}]}}


class TimerStop(ApiModel):
    """How to end the running timer; both optional."""

    end_time: Timestamp | None = Field(None, description="When it stopped; now by default.")
    description: Description = Field(None, description="Replaces the timer's description on the log.")


class TimerEdit(ApiModel):
    """Fields of the running timer to change; every field is optional."""

    task_id: Id | None = None
    description: Description = None
    start_time: Timestamp | None = None


class TimerOut(ApiModel):
    timer_id: int = Field(examples=[5])
    task_id: int = Field(examples=[250])
    project_id: int = Field(examples=[7])
    user_id: int = Field(examples=[10])
    description: str = Field(examples=["Login page"])
    start_time: UtcTimestamp
    elapsed_seconds: int = Field(description="Seconds since startTime (the log's length once stopped).")
    running: bool
    end_time: UtcTimestamp | None = Field(None, description="Only on a stopped timer.")
    task_log_id: int | None = Field(None, description="Only on a stopped timer: the log its stop created.")


class TimerAnswer(Envelope[TimerOut]):
    pass


class CurrentTimerAnswer(Envelope[TimerOut | None]):
    pass


class TimerListAnswer(Envelope[list[TimerOut]]):
    pagination: Pagination


class TimerWarning(Warning):
    timer_id: int | None = Field(None, description="TIMER_CAPPED: the timer stopped at its start + the maximum.")


class StoppedTimer(ApiModel):
    task_log: TaskLogOut
    timer: TimerOut
    daily_totals: list[Any]
    allocation: list[Any]
    warnings: list[TimerWarning]


class TimerStartAnswer(Envelope[TimerOut]):
    stopped: StoppedTimer | None = Field(
        None, description="With `stopRunning: true`: the timer that was stopped, and the log it created."
    )


class TimerStopAnswer(WriteEffects):
    """Like a task log create's answer, with the stopped timer in `timer`."""

    status: int = 1
    message: str
    data: TaskLogOut
    timer: TimerOut
    warnings: list[TimerWarning]  # type: ignore[assignment]
