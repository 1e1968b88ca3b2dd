"""The tables. The schema itself is created only by the Alembic migrations;
these classes must stay in step with them (a test compares the two)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.core.sql import BigId, UTCDateTime

# Constraint names as PostgreSQL would pick them, so migrations can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A project or task with an allocation always has its running total.
TOTAL_KEPT_WITH_ALLOCATION = "allocated_hours IS NULL OR logged_seconds IS NOT NULL"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Company(Timestamps, Base):
    """Mirror of a platform company; `id` is the platform's id."""

    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Logs starting on or before this local day (the employee's zone) are
    # locked; moved only by PUT /companies/{id}/lock/, which records it.
    locked_through: Mapped[date | None] = mapped_column(Date)
    # The first day of the company's weeks: its weekly grids and submitted weeks follow it.
    week_start: Mapped[str] = mapped_column(String(9), default="monday", server_default="monday")

    __table_args__ = (
        CheckConstraint(
            "week_start IN ('monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday')",
            name="known_week_start",
        ),
    )


class CompanyChange(Base):
    """The company's history: who moved its lock date, when, from what to what."""

    __tablename__ = "company_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (
        Index("ix_company_changes_company_id_id", "company_id", "id"),
        {"sqlite_autoincrement": True},
    )


class Employee(Timestamps, Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_team_leader: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # NULL: the company's zone applies.
    timezone: Mapped[str | None] = mapped_column(String(64))


class Project(Timestamps, Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    allocated_hours: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # True while logged time is above the allocation and admins have been told;
    # cleared when the total falls back to or below it, which re-arms the alert.
    allocation_exceeded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Running total of its tasks' logs, kept only while there is an allocation
    # (moved by writes under the row lock the exactly-once alert needs); NULL
    # without one, so writers of a project without allocation never queue on
    # its row. Read it through the allocation repository, which sums the logs
    # when it is NULL.
    logged_seconds: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (
        CheckConstraint("allocated_hours >= 0", name="allocated_hours_non_negative"),
        CheckConstraint(TOTAL_KEPT_WITH_ALLOCATION, name="total_kept_with_allocation"),
    )


class Task(Timestamps, Base):
    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    allocated_hours: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    allocation_exceeded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    logged_seconds: Mapped[int | None] = mapped_column(BigInteger)  # as on Project
    __table_args__ = (
        CheckConstraint("allocated_hours >= 0", name="allocated_hours_non_negative"),
        CheckConstraint(TOTAL_KEPT_WITH_ALLOCATION, name="total_kept_with_allocation"),
    )


class TaskLog(Timestamps, Base):
    """Time one employee spent on one task: the half-open interval [start, end)."""

    __tablename__ = "task_logs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="RESTRICT"))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    manual_add: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The principal that wrote it: "employee:10", "apikey:3" (or "anonymous" with auth disabled).
    created_by: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[str | None] = mapped_column(String(64))
    # +1 on every change; the ETag, and what If-Match is compared with.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __table_args__ = (
        # The duplicate rule of the Dyzo contract, decided by the database.
        UniqueConstraint("task_id", "user_id", "start_time"),
        CheckConstraint("end_time > start_time", name="end_after_start"),
        # A task's logs in time order; an employee's logs by time (daily totals, overlap).
        Index("ix_task_logs_task_id_start_time", "task_id", "start_time"),
        Index("ix_task_logs_user_id_start_time", "user_id", "start_time"),
        # GET /tasklogs/ without employee or task: keyset order over everything;
        # updatedSince: logs changed since an instant.
        Index("ix_task_logs_start_time_id", "start_time", "id"),
        Index("ix_task_logs_updated_at", "updated_at"),
        # Never hand a deleted log's id to a new one.
        {"sqlite_autoincrement": True},
    )


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    read: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (
        Index("ix_notifications_recipient_id_read_id", "recipient_id", "read", "id"),
        {"sqlite_autoincrement": True},
    )


class ApiKey(Base):
    """A service's key. Only a hash is stored; the key is shown once at creation.
    With a company it acts as that company's admin; without, as the platform."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: never
    # Written at most once a minute per key (app/auth/key_usage.py).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Requests per minute; None: TASKLOGS_RATE_LIMIT_PER_MINUTE.
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = ({"sqlite_autoincrement": True},)


class TaskLogChange(Base):
    """Append-only history of every create, edit, delete and restore of a log,
    which is also the change feed, in (xid, seq) order: `xid` is the writing
    transaction's id on PostgreSQL (0 on SQLite, whose writers take turns),
    `seq` a plain sequence. See app/tasklogs/history.py for why that order
    never skips or repeats a change, without a lock shared by all writers."""

    __tablename__ = "task_log_changes"
    seq: Mapped[int] = mapped_column(BigId, Identity(), primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger)
    task_log_id: Mapped[int] = mapped_column(BigId)
    company_id: Mapped[int] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete | restore
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # json, not jsonb: written on every change, never queried inside (migration 0005).
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_task_log_changes_task_log_id_seq", "task_log_id", "seq"),
        Index("ix_task_log_changes_xid_seq", "xid", "seq"),
        Index("ix_task_log_changes_company_id_xid_seq", "company_id", "xid", "seq"),
    )


class IdempotencyKey(Base):
    """A write's answer, kept under the client's Idempotency-Key so a retry
    gets the same answer instead of doing the write again."""

    __tablename__ = "idempotency_keys"
    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RunningTimer(Base):
    """A timer that is running now. Only running timers are kept, one row per
    employee: the unique employee column is what makes "one running timer per
    person" true under concurrent starts. Stopping one deletes its row in the
    transaction that creates its task log."""

    __tablename__ = "running_timers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"), unique=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # Never hand a stopped timer's id to a new one.
    __table_args__ = ({"sqlite_autoincrement": True},)


class TimeWarning(Base):
    """A stored time warning of one employee: a local day logged over the
    daily maximum (OVER_LOGGED, `subject` the date), or two of their logs
    that overlap (OVERLAPPING_LOG, `subject` "<first>-<second>", the smaller
    log id first). Kept true by every write (app/timewarnings/service.py):
    its status is open, ignored or resolved."""

    __tablename__ = "time_warnings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)  # the employee's local day
    total_seconds: Mapped[int | None] = mapped_column(BigInteger)
    first_log_id: Mapped[int | None] = mapped_column(BigInteger)
    second_log_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    # "system" when a write removed the condition; else who resolved it.
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    action_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    # The write (a random token) that last opened or reopened the warning: its
    # one upsert learns from this which warnings it opened (warning.opened events).
    opened_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (
        # One warning per condition: a write that finds it again updates it.
        UniqueConstraint("user_id", "type", "subject"),
        Index("ix_time_warnings_user_id_day", "user_id", "day"),
        {"sqlite_autoincrement": True},
    )


_UNFANNED = text("fanned_out_at IS NULL")
_NATS_PENDING = text("nats_pending")
_PENDING = text("status = 'pending'")


class OutboxEvent(Base):
    """An event for other services, written in the transaction of the write
    it tells about (the transactional outbox): it exists only if that write
    committed. `id` is commit order among the events of one task log (their
    writes lock the log's row). A task log's event points at its change in
    the history (`change_seq`), whose images are its data; other events
    carry their `data`. `evt_…` ids are made by the database's default, so
    the write path sends none: time-ordered on PostgreSQL (migration 0014,
    so the unique index grows at its right edge), random on SQLite. See
    app/events/."""

    __tablename__ = "outbox_events"
    id: Mapped[int] = mapped_column(BigId, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    company_id: Mapped[int] = mapped_column(BigId)
    # The log whose events reach a subscriber in commit order (NULL: none).
    task_log_id: Mapped[int | None] = mapped_column(BigId)
    # No foreign key: the statement that appends the change writes its event,
    # and history is never deleted (migration 0013 says what the key cost).
    change_seq: Mapped[int | None] = mapped_column(BigId)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Only this subscription (a `webhook.test`); NULL: every matching one.
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # Set once the event's deliveries are queued (the dispatcher's fan-out).
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True from the fan-out until JetStream acknowledged it (only with TASKLOGS_NATS_URL).
    nats_pending: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __table_args__ = (
        CheckConstraint("(change_seq IS NULL) <> (data IS NULL)", name="data_or_change"),
        Index("ix_outbox_events_unfanned", "id", postgresql_where=_UNFANNED, sqlite_where=_UNFANNED),
        Index("ix_outbox_events_nats_pending", "id", postgresql_where=_NATS_PENDING, sqlite_where=_NATS_PENDING),
        {"sqlite_autoincrement": True},
    )


class Webhook(Base):
    """A company's subscription to events, delivered to its URL signed with its secret."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)  # types, or ["*"]
    description: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The signing secret (`whsec_…`): needed in clear to sign, never shown after creation.
    secret: Mapped[str] = mapped_column(String(64))
    # After a rotation the old secret signs beside the new one until it expires.
    previous_secret: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Since when every attempt has failed (NULL: the last one succeeded).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    __table_args__ = ({"sqlite_autoincrement": True},)


class WebhookDelivery(Base):
    """One event to one subscription: pending until a 2xx, failed after the
    last retry of the schedule."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(BigId, Identity(), primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    task_log_id: Mapped[int | None] = mapped_column(BigId)  # the event's: a later one waits for this
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When a worker may try it (next); also the lease of the worker that claimed it.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="known_status"),
        CheckConstraint("status <> 'pending' OR next_attempt_at IS NOT NULL", name="pending_has_next_attempt"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=_PENDING, sqlite_where=_PENDING),
        Index(
            "ix_webhook_deliveries_order",
            "webhook_id",
            "task_log_id",
            "event_id",
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        Index("ix_webhook_deliveries_webhook_id_status_id", "webhook_id", "status", "id"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
        {"sqlite_autoincrement": True},
    )


class TimesheetSubmission(Base):
    """One employee's week handed in for review: SUBMITTED, then APPROVED or
    REJECTED. A rejected week is submitted again on the same row, so the
    unique (user_id, week_start) makes concurrent submits of a week one.
    While SUBMITTED or APPROVED it locks the employee's logs starting in
    [starts_at, ends_at): the week's local bounds in their zone when it was
    submitted, which is also what approvedOnly reports count."""

    __tablename__ = "timesheet_submissions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("employees.id", ondelete="CASCADE"))
    week_start: Mapped[date] = mapped_column(Date)
    week_end: Mapped[date] = mapped_column(Date)  # inclusive
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    total_seconds: Mapped[int] = mapped_column(BigInteger)  # at the last submit
    approved_seconds: Mapped[int | None] = mapped_column(BigInteger)  # at the last approval, kept after a reopen
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (
        CheckConstraint("status IN ('SUBMITTED', 'APPROVED', 'REJECTED')", name="known_status"),
        CheckConstraint("week_end >= week_start", name="week_in_order"),
        UniqueConstraint("user_id", "week_start"),
        Index("ix_timesheet_submissions_user_id_starts_at", "user_id", "starts_at"),
        Index("ix_timesheet_submissions_company_id_week_start", "company_id", "week_start"),
        {"sqlite_autoincrement": True},
    )


class SubmissionEvent(Base):
    """One transition of a submission (SUBMITTED, APPROVED, REJECTED,
    REOPENED): who, when, the comment and the week's total then."""

    __tablename__ = "submission_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("timesheet_submissions.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # the submission's status after it
    total_seconds: Mapped[int] = mapped_column(BigInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    acted_by: Mapped[str] = mapped_column(String(64))
    acted_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (
        Index("ix_submission_events_submission_id_id", "submission_id", "id"),
        {"sqlite_autoincrement": True},
    )
