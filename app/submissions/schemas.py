"""Timesheet submission payloads: either casing in, camelCase out."""

from typing import Annotated

from pydantic import Field

from app.core.schemas import ApiModel, CleanText, Envelope, ErrorEnvelope, Id, LocalDate, UtcTimestamp
from app.tasklogs.schemas import USER_ALIASES, Pagination

Comment = Annotated[
    CleanText | None,
    Field(max_length=2000, description="Why; kept in the history.", examples=["Thanks, all good"]),
]


class SubmissionIn(ApiModel):
    """The employee's week to hand in for review."""

    user_id: Id | None = Field(
        None,
        validation_alias=USER_ALIASES,
        description="Whose week; the caller's own by default (team leaders, admins and keys may name another "
        "employee of their company).",
        examples=[11],
    )
    week_start: LocalDate = Field(
        description="The week's first day: a day of the company's `weekStart` weekday (monday by default).",
        examples=["2024-10-28"],
    )

    model_config = {"json_schema_extra": {"examples": [{"userId": 11, "weekStart": "2024-10-28"}]}}


class ReviewIn(ApiModel):
    """A review's comment (optional)."""

    comment: Comment = None


class SubmissionOut(ApiModel):
    submission_id: int = Field(examples=[1])
    company_id: int = Field(examples=[1])
    user_id: int = Field(examples=[10])
    week_start: str = Field(examples=["2024-10-21"])
    week_end: str = Field(examples=["2024-10-27"], description="The week's last day (inclusive).")
    status: str = Field(examples=["SUBMITTED"], description="SUBMITTED, APPROVED or REJECTED")
    total_seconds: int = Field(examples=[7200], description="The week's logged time when it was last submitted.")
    approved_seconds: int | None = Field(
        None,
        examples=[None],
        description="The week's logged time at its last approval; kept when it is reopened.",
    )
    submitted_at: UtcTimestamp
    submitted_by: str = Field(examples=["employee:10"])
    reviewed_at: UtcTimestamp | None = None
    reviewed_by: str | None = Field(None, examples=["employee:1"])
    comment: str | None = Field(None, description="The last review's comment.")


class TransitionOut(ApiModel):
    action: str = Field(examples=["SUBMITTED"], description="SUBMITTED, APPROVED, REJECTED or REOPENED")
    status: str = Field(examples=["SUBMITTED"], description="The submission's status after it.")
    by: str = Field(examples=["employee:10"])
    at: UtcTimestamp
    comment: str | None = None
    total_seconds: int = Field(examples=[7200], description="The week's logged time then.")


class SubmissionWithHistory(SubmissionOut):
    history: list[TransitionOut] = Field(description="Every transition, oldest first.")


class SubmissionAnswer(Envelope[SubmissionOut]):
    pass


class SubmissionDetailAnswer(Envelope[SubmissionWithHistory]):
    pass


class SubmissionListAnswer(Envelope[list[SubmissionOut]]):
    pagination: Pagination


class SubmissionConflict(ErrorEnvelope):
    """A 409 of a submission: ALREADY_SUBMITTED or INVALID_TRANSITION."""

    submissionId: int | None = Field(None, description="The submission in the way (or acted on).", examples=[1])
    currentStatus: str | None = Field(None, description="Its status now.", examples=["APPROVED"])
