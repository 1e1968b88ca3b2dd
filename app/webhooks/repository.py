"""Persistence of subscriptions and of the delivery queue.

The queue: the dispatcher's fan-out turns new outbox events into one pending
delivery per matching subscription; a claim takes due deliveries and leases
them (their next attempt moves past the request's time-out, so a worker that
dies leaves them to be tried again: a duplicate, never a loss); the outcome
is recorded when the request ends. A pending delivery of a task log holds
back the later events of that log for the same subscription (commit order
per log); other logs do not wait. PostgreSQL claims with FOR UPDATE SKIP
LOCKED, so several workers share the queue; the fan-out is one worker's at a
time (a transaction-level advisory lock), so deliveries are queued in event
order. SQLite has one writer: neither is needed there.

The fan-out's rule (which subscriptions take an event) is SQL, `_takes`:
PostgreSQL runs the fan-out as one statement, SQLite, which has no
data-modifying WITH, as two."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.rows import named_as
from app.core.sql import UTCDateTime, for_dialect
from app.events.outbox import OUTBOX, StoredEvent
from app.models import Employee, OutboxEvent, TaskLogChange, Webhook, WebhookDelivery

_DELIVERIES_TABLE = cast(Table, WebhookDelivery.__table__)

# Any constant: the key of the fan-out's advisory lock.
_FAN_OUT_LOCK = 0x7461736B6C6F6773  # "tasklogs"


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as its subscription's owner sees it."""

    event_id: str
    type: str
    status: str
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivery_id: int


@dataclass(frozen=True)
class Claim:
    """A delivery a worker has leased, with all it needs to send it."""

    delivery_id: int
    webhook_id: int
    url: str
    secrets: list[str]  # the current one, and the previous one within its 24 h
    attempts: int  # made before this one
    event: StoredEvent


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    webhook_id: int
    delivered: bool
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class DisabledWebhook:
    """A subscription the dispatcher just disabled."""

    id: int
    company_id: int
    url: str


_EVENT_COLUMNS = (
    OutboxEvent.id,
    OutboxEvent.event_id,
    OutboxEvent.type,
    OutboxEvent.company_id,
    OutboxEvent.created_at,
    OutboxEvent.data,
    TaskLogChange.before,
    TaskLogChange.after,
)


# The columns of DeliveryRow, in its order.
_DELIVERY_ROWS = named_as(
    DeliveryRow,
    select(
        OutboxEvent.event_id,
        OutboxEvent.type,
        WebhookDelivery.status,
        WebhookDelivery.attempts,
        WebhookDelivery.last_attempt_at,
        WebhookDelivery.next_attempt_at,
        WebhookDelivery.last_status_code,
        WebhookDelivery.last_error,
        WebhookDelivery.created_at,
        WebhookDelivery.id.label("delivery_id"),
    ).join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id),
)


def _stored_event(row: Any) -> StoredEvent:
    return StoredEvent(row.id, row.event_id, row.type, row.company_id, row.created_at, row.data, row.before, row.after)


class WebhookRepository:
    """Shared SQL; `webhook_repository(session)` picks the database's own."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------ subscriptions

    async def add(self, webhook: Webhook) -> Webhook:
        self.session.add(webhook)
        await self.session.flush()
        await self.session.refresh(webhook)
        return webhook

    async def get(self, webhook_id: int) -> Webhook | None:
        return await self.session.get(Webhook, webhook_id)

    async def of_company(self, company_id: int | None) -> list[Webhook]:
        stmt = select(Webhook).order_by(Webhook.id)
        if company_id is not None:
            stmt = stmt.where(Webhook.company_id == company_id)
        return list((await self.session.scalars(stmt)).all())

    async def save(self, webhook: Webhook) -> Webhook:
        await self.session.flush()
        await self.session.refresh(webhook)
        return webhook

    async def remove(self, webhook: Webhook) -> None:
        await self.session.execute(delete(Webhook).where(Webhook.id == webhook.id))

    # ------------------------------------------------------------ deliveries seen by their owner

    async def deliveries(
        self, webhook_id: int, status: str | None, limit: int, before_id: int | None
    ) -> list[DeliveryRow]:
        """Newest first, at most `limit`, older than the delivery `before_id`."""
        stmt = _DELIVERY_ROWS.where(WebhookDelivery.webhook_id == webhook_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        if before_id is not None:
            stmt = stmt.where(WebhookDelivery.id < before_id)
        stmt = stmt.order_by(WebhookDelivery.id.desc()).limit(limit)
        return [DeliveryRow(**row) for row in (await self.session.execute(stmt)).mappings()]

    async def delivery_of_event(self, webhook_id: int, event_id: str) -> WebhookDelivery | None:
        stmt = (
            select(WebhookDelivery)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.webhook_id == webhook_id, OutboxEvent.event_id == event_id)
        )
        return (await self.session.scalars(stmt)).first()

    async def delivery_view(self, delivery_id: int) -> DeliveryRow:
        row = (await self.session.execute(_DELIVERY_ROWS.where(WebhookDelivery.id == delivery_id))).mappings().one()
        return DeliveryRow(**row)

    # ------------------------------------------------------------ the dispatcher's queue

    async def fan_out(self, limit: int, now: datetime, *, to_nats: bool) -> int:
        """Queue a delivery of each new event (oldest first, at most `limit`)
        for every subscription that takes it (`_takes`); mark the events
        taken (and due on NATS when `to_nats`). Returns how many events were
        taken. The events' rows never leave the database: after a 1,000-log
        bulk, fetching them to match them in Python cost the worker 11 ms of
        CPU."""
        raise NotImplementedError

    async def claim(self, limit: int, now: datetime, lease_until: datetime) -> list[Claim]:
        """Lease up to `limit` due deliveries of enabled subscriptions, none of
        them behind a pending earlier event of its log."""
        ids = list((await self.session.scalars(_DUE, {"now": now, "limit": limit})).all())
        if not ids:
            return []
        await self.session.execute(_LEASE, {"ids": ids, "lease_until": lease_until})
        rows = await self.session.execute(_CLAIMED, {"ids": ids})
        claims = []
        for row in rows.all():
            secrets = [row.secret]
            if row.previous_secret and row.previous_secret_expires_at and row.previous_secret_expires_at > now:
                secrets.append(row.previous_secret)
            claims.append(Claim(row.delivery_id, row.webhook_id, row.url, secrets, row.attempts, _stored_event(row)))
        return claims

    async def record(self, outcomes: list[tuple[Outcome, datetime | None]], now: datetime) -> None:
        """The attempts' outcomes, each with its next attempt: delivered,
        retried then, or failed (None). One statement for them all."""
        rows = []
        for outcome, next_attempt_at in outcomes:
            status = delivery_status(outcome, next_attempt_at)
            rows.append(
                {
                    "delivery_id": outcome.delivery_id,
                    "status": status,
                    "now": now,
                    "next_attempt_at": next_attempt_at if status == "pending" else None,
                    "status_code": outcome.status_code,
                    "error": outcome.error[:500] if outcome.error else None,
                }
            )
        if rows:
            await self.session.execute(_RECORD, rows)

    async def mark_subscription(self, webhook_id: int, delivered: bool, now: datetime) -> datetime | None:
        """Remember whether the subscription's last attempt succeeded; returns
        since when all its attempts have failed (None after a success)."""
        if delivered:
            await self.session.execute(
                update(Webhook)
                .where(Webhook.id == webhook_id, Webhook.failing_since.is_not(None))
                .values(failing_since=None)
            )
            return None
        await self.session.execute(
            update(Webhook).where(Webhook.id == webhook_id, Webhook.failing_since.is_(None)).values(failing_since=now)
        )
        return await self.session.scalar(select(Webhook.failing_since).where(Webhook.id == webhook_id))

    async def disable(self, webhook_id: int) -> DisabledWebhook | None:
        """Disable the subscription if it is still enabled; returns it then."""
        result = await self.session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.enabled.is_(True))
            .values(enabled=False, updated_at=func.now())
            .returning(Webhook.company_id, Webhook.url)
        )
        row = result.first()
        return DisabledWebhook(webhook_id, row.company_id, row.url) if row else None

    async def active_admins(self, company_id: int) -> list[int]:
        stmt = select(Employee.id).where(
            Employee.company_id == company_id, Employee.is_admin.is_(True), Employee.is_active.is_(True)
        )
        return list((await self.session.scalars(stmt)).all())

    async def requeue(self, delivery: WebhookDelivery, now: datetime) -> None:
        delivery.status = "pending"
        delivery.attempts = 0
        delivery.next_attempt_at = now
        await self.session.flush()

    # ------------------------------------------------------------ NATS

    async def nats_due(self, limit: int) -> list[StoredEvent]:
        stmt = (
            select(*_EVENT_COLUMNS)
            .outerjoin(TaskLogChange, TaskLogChange.seq == OutboxEvent.change_seq)
            .where(OutboxEvent.nats_pending.is_(True))
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
        return [_stored_event(row) for row in (await self.session.execute(stmt)).all()]

    async def nats_published(self, ids: list[int]) -> None:
        if ids:
            await self.session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(nats_pending=False))

    async def purge_done_before(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` events written before `before` that wait for
        nothing any more (taken into the queue, not due on NATS, no pending
        delivery), with their deliveries; how many."""
        waiting = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.event_id == OutboxEvent.id, WebhookDelivery.status == "pending")
            .exists()
        )
        done = (
            select(OutboxEvent.id)
            .where(
                OutboxEvent.created_at < before,
                OutboxEvent.fanned_out_at.is_not(None),
                OutboxEvent.nats_pending.is_(False),
                ~waiting,
            )
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
        ids = list((await self.session.scalars(done)).all())
        if ids:
            await self.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
            await self.session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))
        return len(ids)

    async def oldest_waiting(self) -> datetime | None:
        """When the oldest event still waiting was written: not yet fanned
        out, pending on a subscription, or pending on NATS."""
        candidates = [
            select(func.min(OutboxEvent.created_at)).where(OutboxEvent.fanned_out_at.is_(None)),
            select(func.min(OutboxEvent.created_at)).where(OutboxEvent.nats_pending.is_(True)),
            select(func.min(OutboxEvent.created_at))
            .join(WebhookDelivery, WebhookDelivery.event_id == OutboxEvent.id)
            .where(WebhookDelivery.status == "pending"),
        ]
        found = [await self.session.scalar(stmt) for stmt in candidates]
        times = [t for t in found if t is not None]
        return min(times) if times else None


def delivery_status(outcome: Outcome, next_attempt_at: datetime | None) -> str:
    """What an attempt leaves its delivery: delivered, pending (tried again
    at `next_attempt_at`) or failed (no attempt left)."""
    if outcome.delivered:
        return "delivered"
    return "pending" if next_attempt_at is not None else "failed"


class _PostgresWebhooks(WebhookRepository):
    async def fan_out(self, limit: int, now: datetime, *, to_nats: bool) -> int:
        """One worker at a time (an advisory lock held until COMMIT), so that
        deliveries are queued in event order; one statement, so that the
        events taken and the subscriptions they go to are read in one
        snapshot (two statements of a READ COMMITTED transaction could each
        see other commits)."""
        if not await self.session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _FAN_OUT_LOCK}):
            return 0
        taken = await self.session.scalar(_PG_FAN_OUT, {"limit": limit, "now": now, "to_nats": to_nats})
        return int(taken or 0)


class _SqliteWebhooks(WebhookRepository):
    async def fan_out(self, limit: int, now: datetime, *, to_nats: bool) -> int:
        """Two statements (SQLite has no data-modifying WITH), which see the
        same new events: the transaction holds the database's one write
        lock from the first (BEGIN IMMEDIATE)."""
        params = {"limit": limit, "now": now, "to_nats": to_nats}
        await self.session.execute(_SQLITE_QUEUE, params)
        marked = await self.session.execute(_MARK, params)
        return int(marked.rowcount)  # type: ignore[attr-defined]


def webhook_repository(session: AsyncSession) -> WebhookRepository:
    return for_dialect(session, postgresql=_PostgresWebhooks, sqlite=_SqliteWebhooks)


# ------------------------------------------------------------ the dispatcher's statements, built once at import
#
# They take their values as parameters; the same names mean the same thing
# in each of them.

_NOW = bindparam("now", type_=UTCDateTime)
_LIMIT = bindparam("limit", type_=Integer)

# -- the claim


def _due() -> Any:
    """Due deliveries (`now`), at most `limit`, oldest first, locked; those
    a worker has locked already are skipped, not waited for."""
    earlier = aliased(WebhookDelivery)
    blocked = (
        select(earlier.id)
        .where(
            earlier.webhook_id == WebhookDelivery.webhook_id,
            earlier.task_log_id == WebhookDelivery.task_log_id,
            earlier.status == "pending",
            earlier.event_id < WebhookDelivery.event_id,
        )
        .exists()
    )
    return (
        select(WebhookDelivery.id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= _NOW,
            Webhook.enabled.is_(True),
            or_(WebhookDelivery.task_log_id.is_(None), ~blocked),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(_LIMIT)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )


_DUE = _due()
_CLAIM_IDS = bindparam("ids", expanding=True, type_=Integer)
_LEASE = (
    update(_DELIVERIES_TABLE)
    .where(WebhookDelivery.id.in_(_CLAIM_IDS))
    .values(next_attempt_at=bindparam("lease_until", type_=UTCDateTime))
)
_CLAIMED = (
    select(
        WebhookDelivery.id.label("delivery_id"),
        WebhookDelivery.attempts,
        Webhook.id.label("webhook_id"),
        Webhook.url,
        Webhook.secret,
        Webhook.previous_secret,
        Webhook.previous_secret_expires_at,
        *_EVENT_COLUMNS,
    )
    .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
    .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
    .outerjoin(TaskLogChange, TaskLogChange.seq == OutboxEvent.change_seq)
    .where(WebhookDelivery.id.in_(_CLAIM_IDS))
    .order_by(WebhookDelivery.id)
)

# -- the outcomes

# One attempt's outcome; run with a list of parameter sets (executemany).
_RECORD = (
    update(_DELIVERIES_TABLE)
    .where(WebhookDelivery.id == bindparam("delivery_id", type_=Integer))
    .values(
        status=bindparam("status", type_=String()),
        attempts=WebhookDelivery.attempts + 1,
        last_attempt_at=_NOW,
        next_attempt_at=bindparam("next_attempt_at", type_=UTCDateTime),
        last_status_code=bindparam("status_code", type_=Integer),
        last_error=bindparam("error", type_=String()),
    )
)

# -- the fan-out

_OLDEST_NEW = (
    select(OutboxEvent.id)
    .where(OutboxEvent.fanned_out_at.is_(None))
    .order_by(OutboxEvent.id)
    .limit(_LIMIT)
    .scalar_subquery()
)
# Marks the new events taken. A test event is for its subscription only, never for NATS.
_MARK = (
    update(OUTBOX)
    .where(OutboxEvent.id.in_(_OLDEST_NEW))
    .values(
        fanned_out_at=_NOW, nats_pending=and_(OutboxEvent.webhook_id.is_(None), bindparam("to_nats", type_=Boolean))
    )
)


def _takes(events: Any, subscribed: Any) -> Any:
    """The rule: an enabled subscription of the event's company takes it
    when it subscribes to its type (`subscribed`: the types hold it or "*")
    or is the one subscription the event is for (a `webhook.test`)."""
    return and_(
        Webhook.company_id == events.c.company_id,
        Webhook.enabled.is_(True),
        or_(and_(events.c.webhook_id.is_(None), subscribed), events.c.webhook_id == Webhook.id),
    )


def _queue(events: Any, subscribed: Any) -> Any:
    """INSERT of a pending delivery of each of `events` for each subscription that takes it."""
    return insert(_DELIVERIES_TABLE).from_select(
        ["webhook_id", "event_id", "task_log_id", "next_attempt_at"],
        select(Webhook.id, events.c.id, events.c.task_log_id, _NOW)
        .where(_takes(events, subscribed))
        # Delivery ids in event order.
        .order_by(events.c.id, Webhook.id),
        # The status and attempts from the columns' server defaults: a
        # statement run as a CTE gets no values for the Python-side ones.
        include_defaults=False,
    )


# What `_queue` reads of each new event.
_TAKEN = (OutboxEvent.id, OutboxEvent.type, OutboxEvent.company_id, OutboxEvent.task_log_id, OutboxEvent.webhook_id)


def _pg_fan_out() -> Any:
    taken = _MARK.returning(*_TAKEN).cte("taken")
    subscribed = Webhook.events.cast(JSONB).has_any(array([literal("*"), taken.c.type]))
    queued = _queue(taken, subscribed).cte("queued")
    # PostgreSQL runs a data-modifying WITH to completion whether or not the query reads it.
    return select(func.count()).select_from(taken).add_cte(queued)


def _sqlite_queue() -> Any:
    new = select(*_TAKEN).where(OutboxEvent.id.in_(_OLDEST_NEW)).subquery("taken")
    types = func.json_each(Webhook.events).table_valued("value")
    subscribed = select(types.c.value).where(types.c.value.in_([literal("*"), new.c.type])).exists()
    return _queue(new, subscribed)


_PG_FAN_OUT = _pg_fan_out()
_SQLITE_QUEUE = _sqlite_queue()
