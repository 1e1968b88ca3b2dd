"""The rules of timesheet submissions: an employee's week is handed in
(SUBMITTED), then reviewed by the company's team leaders or admins
(APPROVED or REJECTED); an admin may reopen an approved week (back to
REJECTED). While SUBMITTED or APPROVED, the week locks the employee's logs
starting in it (app/locks/service.py reads the submission's stored UTC
bounds).

- One row per employee and week: the unique (user_id, week_start) makes
  concurrent submits one, and a REJECTED week is submitted again on its row.
- A submit takes the employee's write turn first (the lock every write of
  their logs takes), so a log written meanwhile either commits before the
  week's total is read, and is counted, or is refused after.
- Nobody reviews their own week, except an admin of a company that has no
  other active admin (someone has to).
- Every transition is recorded (submission_events) with who, when, the
  comment and the week's total then, in the transaction of the change,
  with its notifications and its outbox event."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.errors import Conflict, FieldError, Forbidden, InputRejected, NotFound
from app.core.settings import Settings
from app.core.timeutil import hours_minutes, iso_utc, local_day, utcnow, zone
from app.events.outbox import event_of, record_events
from app.notifications.repository import NotificationRepository
from app.submissions.repository import (
    APPROVED,
    REJECTED,
    SUBMITTED,
    SubmissionFilters,
    SubmissionRepository,
    SubmissionRow,
    Submitter,
)
from app.submissions.schemas import SubmissionIn
from app.timesheets.repository import Scope, Window, timesheet_repository
from app.timesheets.service import EARLIEST, WEEKDAYS

REOPENED = "REOPENED"  # an action only: a reopened week is REJECTED

# The notification each review sends the employee, and the event it records.
_REVIEWS = {
    APPROVED: ("TIMESHEET_APPROVED", "timesheet.approved", "approved"),
    REJECTED: ("TIMESHEET_REJECTED", "timesheet.rejected", "rejected"),
    REOPENED: ("TIMESHEET_REOPENED", "timesheet.reopened", "reopened"),
}


def submission_view(row: SubmissionRow) -> dict[str, Any]:
    """A submission as clients see it (SubmissionOut)."""
    return {
        "submissionId": row.id,
        "companyId": row.company_id,
        "userId": row.user_id,
        "weekStart": row.week_start.isoformat(),
        "weekEnd": row.week_end.isoformat(),
        "status": row.status,
        "totalSeconds": row.total_seconds,
        "approvedSeconds": row.approved_seconds,
        "submittedAt": row.submitted_at,
        "submittedBy": row.submitted_by,
        "reviewedAt": row.reviewed_at,
        "reviewedBy": row.reviewed_by,
        "comment": row.comment,
    }


def _now() -> datetime:
    return utcnow().replace(microsecond=0)  # times are kept to the second


async def _week_total(
    session: AsyncSession, settings: Settings, user_id: int, week_start: date, starts_at: datetime, ends_at: datetime
) -> int:
    """The employee's logged seconds inside the week's bounds: the timesheet
    reports' own sum (a log across the week's edge counts its share)."""
    sums = await timesheet_repository(session).sums(
        Scope(employee_id=user_id),
        [Window(week_start, starts_at, ends_at)],
        (),
        timedelta(hours=settings.max_log_hours),
    )
    return sum(s.seconds for s in sums)


def _check_week(week_start: date, submitter: Submitter) -> tuple[date, datetime, datetime]:
    """The week's last day and UTC bounds (the employee's local days), after
    the week rules: it starts on the company's weekday and has begun."""
    first_weekday = submitter.company_week_start
    if week_start < EARLIEST:
        raise InputRejected([FieldError("weekStart", f"weekStart must not be before {EARLIEST.isoformat()}.")])
    if WEEKDAYS[week_start.weekday()] != first_weekday:
        example = week_start - timedelta(days=(week_start.weekday() - WEEKDAYS.index(first_weekday)) % 7)
        raise InputRejected(
            [
                FieldError(
                    "weekStart",
                    f"{week_start.isoformat()} is a {WEEKDAYS[week_start.weekday()].capitalize()}, and the "
                    f"company's weeks start on {first_weekday.capitalize()} (that week: {example.isoformat()}).",
                    "INVALID_WEEK_START",
                )
            ]
        )
    tz = zone(submitter.timezone)
    if week_start > utcnow().astimezone(tz).date():
        raise InputRejected(
            [
                FieldError(
                    "weekStart",
                    f"The week of {week_start.isoformat()} has not started yet in {submitter.timezone}.",
                    "FUTURE_WEEK",
                )
            ]
        )
    week_end = week_start + timedelta(days=6)
    return week_end, local_day(week_start, tz).start, local_day(week_end, tz).end


async def submit_week(
    session: AsyncSession, settings: Settings, body: SubmissionIn, *, actor: Principal
) -> dict[str, Any]:
    """Submit an employee's week (the caller's own unless a team leader,
    admin or key names another of their company). 409 ALREADY_SUBMITTED if
    it is SUBMITTED or APPROVED; a REJECTED week is submitted again."""
    user_id = body.user_id if body.user_id is not None else actor.employee_id
    if user_id is None:
        raise InputRejected([FieldError("userId", "A key must name the employee whose week it is.", "REQUIRED")])
    repo = SubmissionRepository(session)
    submitter = await repo.take_write_turn(user_id)
    if submitter is None or not actor.sees(submitter.company_id):
        raise NotFound("Employee", user_id, "USER_NOT_FOUND")
    if not actor.is_self(user_id) and not actor.reads_company_logs:
        raise Forbidden("You may only submit your own timesheet.")
    week_end, starts_at, ends_at = _check_week(body.week_start, submitter)
    total = await _week_total(session, settings, user_id, body.week_start, starts_at, ends_at)
    now = _now()
    row = await repo.submit(
        {
            "company_id": submitter.company_id,
            "user_id": user_id,
            "week_start": body.week_start,
            "week_end": week_end,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "status": SUBMITTED,
            "total_seconds": total,
            "submitted_at": now,
            "submitted_by": actor.label,
        }
    )
    if row is None:
        existing = await repo.of_week(user_id, body.week_start)
        assert existing is not None  # the conflict was with it, and nothing deletes it
        raise Conflict(
            f"Employee {user_id}'s week of {body.week_start.isoformat()} is already {existing.status.lower()} "
            f"(submission {existing.id}).",
            "ALREADY_SUBMITTED",
            submissionId=existing.id,
            currentStatus=existing.status,
        )
    await repo.record(row.id, SUBMITTED, SUBMITTED, total, None, actor.label, now)
    view = submission_view(row)
    # The employee is not told of their own week (a lone admin reviewing it submitted or sees it).
    reviewers = [r for r in await repo.reviewers(submitter.company_id) if r != user_id]
    week = f"{row.week_start.isoformat()} to {row.week_end.isoformat()}"
    await NotificationRepository(session).add_many(
        [
            {
                "recipient_id": reviewer,
                "category": "timesheet",
                "type": "TIMESHEET_SUBMITTED",
                "title": f"Timesheet to review: {submitter.name}, {week}",
                "message": f"{submitter.name}'s week {week} ({hours_minutes(total)} logged) was submitted by "
                f"{actor.label} and waits for review.",
                "payload": _payload(row),
                "read": False,
            }
            for reviewer in reviewers
        ]
    )
    await record_events(session, [event_of("timesheet.submitted", row.company_id, view)])
    return view


def _payload(row: SubmissionRow) -> dict[str, Any]:
    return {
        "submissionId": row.id,
        "userId": row.user_id,
        "weekStart": row.week_start.isoformat(),
        "weekEnd": row.week_end.isoformat(),
        "status": row.status,
        "totalSeconds": row.total_seconds,
    }


def _visible(actor: Principal, row: SubmissionRow) -> bool:
    """Team leaders, admins and keys see their company's submissions,
    employees their own, platform keys all."""
    return actor.sees(row.company_id) and (actor.reads_company_logs or actor.is_self(row.user_id))


async def _reviewed(session: AsyncSession, submission_id: int, actor: Principal, *, admins_only: bool) -> SubmissionRow:
    """The submission, locked, once the caller may review it: its
    company's team leaders and admins (only admins with `admins_only`), its
    keys and platform keys; an employee never their own week, unless an
    admin of a company without another active admin."""
    repo = SubmissionRepository(session)
    row = await repo.get(submission_id, lock=True)
    if row is None or not _visible(actor, row):
        raise NotFound("Timesheet submission", submission_id, "SUBMISSION_NOT_FOUND")
    if admins_only and not actor.acts_for_others:
        raise Forbidden("Only the company's admins may reopen an approved timesheet.")
    if not actor.reads_company_logs:
        raise Forbidden("Only the company's team leaders and admins may review timesheets.")
    if actor.is_self(row.user_id) and not (
        actor.is_admin and not await repo.has_another_active_admin(row.company_id, row.user_id)
    ):
        raise Forbidden("Nobody reviews their own timesheet: another team leader or admin of the company must.")
    return row


def _require_status(row: SubmissionRow, expected: str, action: str) -> None:
    if row.status != expected:
        raise Conflict(
            f"Submission {row.id} is {row.status}: only a {expected} week can be {action}.",
            "INVALID_TRANSITION",
            submissionId=row.id,
            currentStatus=row.status,
        )


async def _transition(
    session: AsyncSession,
    settings: Settings,
    row: SubmissionRow,
    action: str,
    comment: str | None,
    *,
    actor: Principal,
) -> dict[str, Any]:
    """Move the submission to its new status (`action`: APPROVED, REJECTED
    or REOPENED), record it, tell the employee and other services."""
    total = await _week_total(session, settings, row.user_id, row.week_start, row.starts_at, row.ends_at)
    now = _now()
    status = REJECTED if action == REOPENED else action
    values: dict[str, Any] = {"status": status, "reviewed_at": now, "reviewed_by": actor.label, "comment": comment}
    if action == APPROVED:
        values["approved_seconds"] = total  # what payroll was shown
    repo = SubmissionRepository(session)
    updated = await repo.review(row.id, values)
    await repo.record(row.id, action, status, total, comment, actor.label, now)
    notification, event, verb = _REVIEWS[action]
    week = f"{row.week_start.isoformat()} to {row.week_end.isoformat()}"
    if not actor.is_self(row.user_id):
        message = f"Your week {week} was {verb} by {actor.label}."
        if action != APPROVED:
            message += " Its logs can be changed again; submit it once they are right."
        await NotificationRepository(session).add_many(
            [
                {
                    "recipient_id": row.user_id,
                    "category": "timesheet",
                    "type": notification,
                    "title": f"Timesheet {verb}: {week}",
                    "message": message + (f" Comment: {comment}" if comment else ""),
                    "payload": _payload(updated) | {"comment": comment, "reviewedBy": actor.label},
                    "read": False,
                }
            ]
        )
    view = submission_view(updated)
    await record_events(session, [event_of(event, row.company_id, view)])
    return view


async def approve(
    session: AsyncSession, settings: Settings, submission_id: int, comment: str | None, *, actor: Principal
) -> dict[str, Any]:
    """SUBMITTED -> APPROVED; the week's total now is kept as approvedSeconds."""
    row = await _reviewed(session, submission_id, actor, admins_only=False)
    _require_status(row, SUBMITTED, "approved")
    return await _transition(session, settings, row, APPROVED, comment, actor=actor)


async def reject(
    session: AsyncSession, settings: Settings, submission_id: int, comment: str | None, *, actor: Principal
) -> dict[str, Any]:
    """SUBMITTED -> REJECTED: the week's logs can change again."""
    row = await _reviewed(session, submission_id, actor, admins_only=False)
    _require_status(row, SUBMITTED, "rejected")
    return await _transition(session, settings, row, REJECTED, comment, actor=actor)


async def reopen(
    session: AsyncSession, settings: Settings, submission_id: int, comment: str | None, *, actor: Principal
) -> dict[str, Any]:
    """APPROVED -> REJECTED (recorded as REOPENED), admins and keys only; the
    approved total is kept."""
    row = await _reviewed(session, submission_id, actor, admins_only=True)
    _require_status(row, APPROVED, "reopened")
    return await _transition(session, settings, row, REOPENED, comment, actor=actor)


async def get_submission(session: AsyncSession, submission_id: int, *, actor: Principal) -> dict[str, Any]:
    """A submission with its history, oldest transition first."""
    repo = SubmissionRepository(session)
    row = await repo.get(submission_id)
    if row is None or not _visible(actor, row):
        raise NotFound("Timesheet submission", submission_id, "SUBMISSION_NOT_FOUND")
    history = [
        {
            "action": t.action,
            "status": t.status,
            "by": t.acted_by,
            "at": iso_utc(t.acted_at),
            "comment": t.comment,
            "totalSeconds": t.total_seconds,
        }
        for t in await repo.history(submission_id)
    ]
    return submission_view(row) | {"history": history}


@dataclass
class SubmissionPage:
    submissions: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


async def list_submissions(
    session: AsyncSession, filters: SubmissionFilters, page: int, page_size: int, *, actor: Principal
) -> SubmissionPage:
    """Submissions, latest week first: every company's (or `companyId`'s)
    for platform keys, the caller's company's for its team leaders, admins
    and keys, an employee's own. Filters outside the caller's reach (another
    company, a colleague for an employee) match nothing."""
    if filters.week_from is not None and filters.week_to is not None and filters.week_to < filters.week_from:
        raise InputRejected([FieldError("to", "to must not be before from.")])
    empty = SubmissionPage([], 0, page, page_size)
    company_id, user_id = filters.company_id, filters.user_id
    if not actor.is_platform:
        if company_id is not None and company_id != actor.company_id:
            return empty
        company_id = actor.company_id
        if not actor.reads_company_logs:
            if user_id is not None and not actor.is_self(user_id):
                return empty
            user_id = actor.employee_id
    scoped = SubmissionFilters(company_id, user_id, filters.status, filters.week_from, filters.week_to)
    rows, total = await SubmissionRepository(session).page(scoped, (page - 1) * page_size, page_size)
    return SubmissionPage([submission_view(r) for r in rows], total, page, page_size)
