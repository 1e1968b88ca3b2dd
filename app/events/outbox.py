"""Events for other services, kept in the outbox table in the transaction of
the write they tell about: an event exists only if its write committed, and
none is sent for a write that rolled back. The dispatcher
(app/webhooks/dispatcher.py) takes them from there to the subscriptions and
to NATS.

Two ways in, one table. A task log's change is appended to the history
(app/tasklogs/history.py), and its event is written by the same statement
(PostgreSQL) or the next one (SQLite), pointing at the change, whose images
are the event's data. Every other event (allocations, timers, time
warnings, locks, timesheet submissions, tests) goes through
`record_events`, one INSERT for all of a write's events; `event_of` makes
one from an answer's view."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.timeutil import iso_utc
from app.models import OutboxEvent

OUTBOX = cast(Table, OutboxEvent.__table__)

# Every event type, with what it tells: subscriptions name these (or "*").
EVENT_TYPES: dict[str, str] = {
    "tasklog.created": "A task log was created (single, bulk or timer).",
    "tasklog.updated": "A task log was edited; `data.before` is the log before the edit.",
    "tasklog.deleted": "A task log was deleted; `data` is its last view.",
    "tasklog.restored": "A deleted task log was restored.",
    "allocation.exceeded": "A project or task went over its allocated hours (when its admins are notified).",
    "allocation.restored": "A project or task came back to or under its allocated hours.",
    "timer.started": "A running timer was started; `data` is the timer.",
    "timer.stopped": "A running timer was stopped; `data` is the timer with its `endTime` and `taskLogId` "
    "(its log's own event is tasklog.created).",
    "timer.discarded": "A running timer was thrown away without a log.",
    "warning.opened": "A time warning opened (or reopened): a write found its condition, or an admin reopened it.",
    "warning.resolved": "A time warning was resolved: a write removed its condition, or someone resolved it.",
    "lock.moved": "A company's lock date moved: `data` is {companyId, lockedThrough, previousLockedThrough, "
    "changedBy}; logs starting on or before `lockedThrough` can no longer change.",
    "timesheet.submitted": "An employee's week was submitted for review: `data` is the submission "
    "(submissionId, userId, weekStart, weekEnd, status, totalSeconds, ...); its logs are locked.",
    "timesheet.approved": "A submitted week was approved: `data` is the submission, with `approvedSeconds`.",
    "timesheet.rejected": "A submitted week was rejected: `data` is the submission, with the `comment`; "
    "its logs can change again.",
    "timesheet.reopened": "An approved week was reopened (its status is REJECTED again): `data` is the submission.",
    "webhook.test": "Sent by POST /webhooks/{id}/test/ to that subscription only.",
}

# The event of each kind of change in the history.
TASK_LOG_EVENTS = {
    "create": "tasklog.created",
    "update": "tasklog.updated",
    "delete": "tasklog.deleted",
    "restore": "tasklog.restored",
}


def task_log_event_type(action_column: Any) -> Any:
    """SQL: the event type of a history row's action."""
    return case(TASK_LOG_EVENTS, value=action_column)


@dataclass(frozen=True)
class NewEvent:
    """An event that is not a task log's change."""

    type: str
    company_id: int
    data: dict[str, Any]
    webhook_id: int | None = None  # only this subscription


def event_of(event_type: str, company_id: int, view: Mapping[str, Any]) -> NewEvent:
    """The event telling `view` (what an answer shows of the thing) to the
    company's subscribers. Its instants become ISO 8601 UTC text, as in every
    event: the outbox keeps JSON, and receivers read one form of time."""
    return NewEvent(event_type, company_id, {k: iso_utc(v) if isinstance(v, datetime) else v for k, v in view.items()})


async def record_events(session: AsyncSession, events: list[NewEvent]) -> list[str]:
    """Queue the events in the caller's transaction (one INSERT); their ids."""
    if not events:
        return []
    result = await session.execute(
        insert(OUTBOX).returning(OUTBOX.c.event_id, sort_by_parameter_order=True),
        [{"type": e.type, "company_id": e.company_id, "data": e.data, "webhook_id": e.webhook_id} for e in events],
    )
    return list(result.scalars().all())


@dataclass(frozen=True)
class StoredEvent:
    """An outbox event as the dispatcher sends it."""

    id: int
    event_id: str
    type: str
    company_id: int
    created_at: datetime
    data: dict[str, Any] | None
    before: dict[str, Any] | None  # of its change, for a task log's event
    after: dict[str, Any] | None

    def payload(self) -> dict[str, Any]:
        """The body receivers get: a task log's view (an edit adds `before`;
        a delete carries the last view), or the event's own data."""
        if self.data is not None:
            data = self.data
        elif self.type == "tasklog.deleted":
            data = self.before or {}
        elif self.type == "tasklog.updated":
            data = {**(self.after or {}), "before": self.before}
        else:
            data = self.after or {}
        return {
            "id": self.event_id,
            "type": self.type,
            "timestamp": iso_utc(self.created_at),
            "companyId": self.company_id,
            "data": data,
        }
