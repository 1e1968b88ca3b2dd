"""Timesheet submissions: hand in a week, review it, reopen it, see its history."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Body, Path, Query

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.errors import FieldError, InputRejected
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, error_responses
from app.core.settings import AppSettings
from app.submissions import service
from app.submissions.repository import SubmissionFilters
from app.submissions.schemas import (
    ReviewIn,
    SubmissionAnswer,
    SubmissionConflict,
    SubmissionDetailAnswer,
    SubmissionIn,
    SubmissionListAnswer,
)

router = Router(tags=["Timesheet submissions"], responses=AUTH_ERRORS)

# The demo company's (`tasklogs demo`): employee 10's week of 2024-10-21 is submission 1 (SUBMITTED),
# employee 11's week of 2024-10-21 is submission 2 (APPROVED); employee 11's week of 2024-10-28 is open.
SUBMISSION_DESCRIPTION = "The submission's id."
SubmittedId = Annotated[
    int, Path(alias="submissionId", ge=1, le=MAX_ID, description=SUBMISSION_DESCRIPTION, examples=[1])
]
ApprovedId = Annotated[
    int, Path(alias="submissionId", ge=1, le=MAX_ID, description=SUBMISSION_DESCRIPTION, examples=[2])
]

SUBMIT_EXAMPLES: dict[str, Any] = {
    "forEmployee": {
        "summary": "A team leader, admin or key submits an employee's week",
        "value": {"userId": 11, "weekStart": "2024-10-28"},
    },
    "snakeCase": {
        "summary": "The same in snake_case (an employee's own token may leave out user_id)",
        "value": {"user_id": 11, "week_start": "2024-10-28"},
    },
}
APPROVE_EXAMPLES: dict[str, Any] = {
    "plain": {"summary": "Approve", "value": {}},
    "commented": {"summary": "Approve with a comment", "value": {"comment": "Thanks, all good"}},
}
REJECT_EXAMPLES: dict[str, Any] = {
    "commented": {
        "summary": "Reject, saying what to fix",
        "value": {"comment": "Tuesday's review session is missing; please add it and submit again."},
    },
}
REOPEN_EXAMPLES: dict[str, Any] = {
    "commented": {
        "summary": "Reopen an approved week",
        "value": {"comment": "Client asked to split the sync work by task; please correct and resubmit."},
    },
}
REVIEW_ERRORS = error_responses(403, 404, 422) | {
    409: {
        "model": SubmissionConflict,
        "description": "INVALID_TRANSITION: the submission is not in the status this action starts from "
        "(`currentStatus` says which it is).",
    }
}
SUBMIT_ERRORS = error_responses(403, 404, 422) | {
    409: {
        "model": SubmissionConflict,
        "description": "ALREADY_SUBMITTED: the week is SUBMITTED or APPROVED (`submissionId`, `currentStatus`).",
    }
}


@router.post(
    "/timesheets/submissions/",
    operation_id="submit_timesheet_week",
    summary="Submit a week for review",
    response_model=SubmissionAnswer,
    responses=SUBMIT_ERRORS,
)
async def submit_timesheet_week(
    body: Annotated[SubmissionIn, Body(openapi_examples=SUBMIT_EXAMPLES)],
    session: Session,
    settings: AppSettings,
    actor: Actor,
) -> EnvelopeResponse:
    """Hand in an employee's week: the caller's own, or (team leaders, admins and keys) `userId`'s of their
    company. `weekStart` must be a day of the company's `weekStart` weekday (422 `INVALID_WEEK_START`), in a
    week that has begun (422 `FUTURE_WEEK`). The week is then SUBMITTED: the employee's logs starting in it
    (their local days) can no longer be created, changed or deleted (409 `PERIOD_LOCKED`) until it is rejected
    or reopened; `totalSeconds` is the week's logged time, writes in flight included. The company's active
    team leaders and admins are notified (`TIMESHEET_SUBMITTED`). A week already SUBMITTED or APPROVED is 409
    `ALREADY_SUBMITTED` with its `submissionId`; a REJECTED week is submitted again (same id)."""
    return ok("Timesheet submitted", await service.submit_week(session, settings, body, actor=actor))


@router.get(
    "/timesheets/submissions/",
    operation_id="list_timesheet_submissions",
    summary="Timesheet submissions",
    response_model=SubmissionListAnswer,
    responses=error_responses(422),
)
async def list_timesheet_submissions(
    session: Session,
    settings: AppSettings,
    actor: Actor,
    status: Annotated[
        Literal["SUBMITTED", "APPROVED", "REJECTED"] | None,
        Query(description="Only submissions in this status.", examples=["SUBMITTED"]),
    ] = None,
    employee_id: Annotated[
        int | None, Query(alias="employeeId", ge=1, le=MAX_ID, description="One employee's (alias `userId`).")
    ] = None,
    user_id: Annotated[int | None, Query(alias="userId", ge=1, le=MAX_ID, description="Same as employeeId.")] = None,
    week_from: Annotated[
        date | None, Query(alias="from", description="Weeks starting on or after this day.", examples=["2024-10-01"])
    ] = None,
    week_to: Annotated[
        date | None, Query(alias="to", description="Weeks starting on or before this day.", examples=["2024-10-31"])
    ] = None,
    company_id: Annotated[
        int | None,
        Query(
            alias="companyId",
            ge=1,
            le=MAX_ID,
            description="One company's (platform keys; others see only their own company's).",
        ),
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, examples=[1])] = 1,
    page_size: Annotated[
        int | None,
        Query(
            alias="pageSize", ge=1, le=10_000, description="At most TASKLOGS_MAX_PAGE_SIZE (default 50).", examples=[50]
        ),
    ] = None,
    page_size_snake: Annotated[
        int | None, Query(alias="page_size", ge=1, le=10_000, description="Same as pageSize.")
    ] = None,
) -> EnvelopeResponse:
    """Submissions, latest week first. Employees see their own; team leaders, admins and company keys their
    company's; platform keys every company's (or `companyId`'s). A filter naming another company, or (for an
    employee) a colleague, matches nothing."""
    if employee_id is not None and user_id is not None and employee_id != user_id:
        raise InputRejected([FieldError("userId", "employeeId and userId name different employees.")])
    size = min(page_size or page_size_snake or 50, settings.max_page_size)
    filters = SubmissionFilters(company_id, employee_id or user_id, status, week_from, week_to)
    result = await service.list_submissions(session, filters, page, size, actor=actor)
    pagination = {"page": result.page, "pageSize": result.page_size, "total": result.total}
    return ok("Timesheet submissions", result.submissions, pagination=pagination)


@router.get(
    "/timesheets/submissions/{submissionId}/",
    operation_id="get_timesheet_submission",
    summary="A submission and its history",
    response_model=SubmissionDetailAnswer,
    responses=error_responses(404, 422),
)
async def get_timesheet_submission(submission_id: SubmittedId, session: Session, actor: Actor) -> EnvelopeResponse:
    """The submission with `history`: every transition (SUBMITTED, APPROVED, REJECTED, REOPENED), oldest first,
    with who, when, the comment and the week's total then. 404 `SUBMISSION_NOT_FOUND` for another company's,
    or a colleague's for an employee."""
    return ok("Timesheet submission", await service.get_submission(session, submission_id, actor=actor))


@router.post(
    "/timesheets/submissions/{submissionId}/approve/",
    operation_id="approve_timesheet_submission",
    summary="Approve a submitted week",
    response_model=SubmissionAnswer,
    responses=REVIEW_ERRORS,
)
async def approve_timesheet_submission(
    submission_id: SubmittedId,
    session: Session,
    settings: AppSettings,
    actor: Actor,
    body: Annotated[ReviewIn | None, Body(openapi_examples=APPROVE_EXAMPLES)] = None,
) -> EnvelopeResponse:
    """SUBMITTED → APPROVED: the week stays locked, and its logged time now is kept as `approvedSeconds`. The
    company's team leaders, admins and keys (and platform keys) review; nobody their own week (403), except an
    admin of a company without another active admin. Any other status is 409 `INVALID_TRANSITION` with
    `currentStatus`. The employee is notified (`TIMESHEET_APPROVED`)."""
    comment = body.comment if body else None
    return ok("Timesheet approved", await service.approve(session, settings, submission_id, comment, actor=actor))


@router.post(
    "/timesheets/submissions/{submissionId}/reject/",
    operation_id="reject_timesheet_submission",
    summary="Reject a submitted week",
    response_model=SubmissionAnswer,
    responses=REVIEW_ERRORS,
)
async def reject_timesheet_submission(
    submission_id: SubmittedId,
    session: Session,
    settings: AppSettings,
    actor: Actor,
    body: Annotated[ReviewIn | None, Body(openapi_examples=REJECT_EXAMPLES)] = None,
) -> EnvelopeResponse:
    """SUBMITTED → REJECTED with the comment: the week's logs can change again, and the week can be submitted
    again. Same reviewers and rules as approve. The employee is notified (`TIMESHEET_REJECTED`)."""
    comment = body.comment if body else None
    return ok("Timesheet rejected", await service.reject(session, settings, submission_id, comment, actor=actor))


@router.post(
    "/timesheets/submissions/{submissionId}/reopen/",
    operation_id="reopen_timesheet_submission",
    summary="Reopen an approved week",
    response_model=SubmissionAnswer,
    responses=REVIEW_ERRORS,
)
async def reopen_timesheet_submission(
    submission_id: ApprovedId,
    session: Session,
    settings: AppSettings,
    actor: Actor,
    body: Annotated[ReviewIn | None, Body(openapi_examples=REOPEN_EXAMPLES)] = None,
) -> EnvelopeResponse:
    """APPROVED → REJECTED, recorded as REOPENED: the week's logs can change again. Admins of the company and
    keys only (an admin not on their own week, as for approve); `approvedSeconds` keeps the approved total.
    The employee is notified (`TIMESHEET_REOPENED`)."""
    comment = body.comment if body else None
    return ok("Timesheet reopened", await service.reopen(session, settings, submission_id, comment, actor=actor))
