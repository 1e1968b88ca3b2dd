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

The fan-out's rule (which subscriptions take an event) is written twice:
in Python for SQLite, and in SQL for PostgreSQL, where the events taken and
the subscriptions they go to must be read in one statement (one snapshot),
and where a thousand events then never travel to the worker and back. The
same tests run it on both databases."""

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Boolean, Integer, and_, bindparam, cast, delete, func, insert, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, array
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.rows import named_as
from app.core.sql import UTCDateTime, for_dialect
from app.events.outbox import StoredEvent
from app.models import Employee, OutboxEvent, TaskLogChange, Webhook, WebhookDelivery

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


@dataclass(frozen=True)
class FannedOutEvent:
    """An outbox event the fan-out takes into the delivery queue."""

    id: int
    type: str
    company_id: int
    task_log_id: int | None
    webhook_id: int | None


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

    async def take_fan_out_turn(self) -> bool:
        """Whether this transaction may fan out now (one worker at a time)."""
        return True

    async def fan_out(self, limit: int, now: datetime, *, to_nats: bool) -> int:
        """Queue a delivery of each new event (oldest first, at most `limit`)
        for every enabled subscription of its company that takes its type;
        mark the events taken (and due on NATS when `to_nats`). Returns how
        many events were taken."""
        if not await self.take_fan_out_turn():
            return 0
        # Taken and marked in one statement: the events' ids never travel to
        # the database and back as a list (a 1,000-log bulk makes 1,000).
        oldest_new = (
            select(OutboxEvent.id)
            .where(OutboxEvent.fanned_out_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(limit)
            .scalar_subquery()
        )
        taken = (
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(oldest_new))
            # A test event is for its subscription only, never for NATS.
            .values(fanned_out_at=now, nats_pending=OutboxEvent.webhook_id.is_(None) if to_nats else False)
            .returning(
                OutboxEvent.id,
                OutboxEvent.type,
                OutboxEvent.company_id,
                OutboxEvent.task_log_id,
                OutboxEvent.webhook_id,
            )
            .execution_options(synchronize_session=False)
        )
        taken_rows = (await self.session.execute(taken)).mappings()
        events = sorted((FannedOutEvent(**row) for row in taken_rows), key=attrgetter("id"))
        if not events:
            return 0
        subscribers = await self.session.execute(
            select(Webhook.id, Webhook.company_id, Webhook.events).where(
                Webhook.company_id.in_({e.company_id for e in events}), Webhook.enabled.is_(True)
            )
        )
        by_company: dict[int, list[tuple[int, set[str]]]] = {}
        for webhook_id, company_id, types in subscribers.all():
            by_company.setdefault(company_id, []).append((webhook_id, set(types)))
        deliveries = [
            {"webhook_id": webhook_id, "event_id": e.id, "task_log_id": e.task_log_id, "next_attempt_at": now}
            for e in events
            for webhook_id, types in by_company.get(e.company_id, [])
            if (e.webhook_id is None and ("*" in types or e.type in types)) or e.webhook_id == webhook_id
        ]
        if deliveries:
            await self.session.execute(insert(WebhookDelivery), deliveries)
        return len(events)

    async def claim(self, limit: int, now: datetime, lease_until: datetime) -> list[Claim]:
        """Lease up to `limit` due deliveries of enabled subscriptions, none of
        them behind a pending earlier event of its log."""
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
        due = (
            select(WebhookDelivery.id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                Webhook.enabled.is_(True),
                or_(WebhookDelivery.task_log_id.is_(None), ~blocked),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        ids = list((await self.session.scalars(due)).all())
        if not ids:
            return []
        await self.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(next_attempt_at=lease_until)
        )
        rows = await self.session.execute(
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
            .where(WebhookDelivery.id.in_(ids))
            .order_by(WebhookDelivery.id)
        )
        claims = []
        for row in rows.all():
            secrets = [row.secret]
            if row.previous_secret and row.previous_secret_expires_at and row.previous_secret_expires_at > now:
                secrets.append(row.previous_secret)
            claims.append(Claim(row.delivery_id, row.webhook_id, row.url, secrets, row.attempts, _stored_event(row)))
        return claims

    async def record(self, outcome: Outcome, now: datetime, next_attempt_at: datetime | None) -> None:
        """The attempt's outcome: delivered, retried at `next_attempt_at`, or failed (None)."""
        if outcome.delivered:
            status, next_at = "delivered", None
        else:
            status, next_at = ("pending", next_attempt_at) if next_attempt_at is not None else ("failed", None)
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == outcome.delivery_id)
            .values(
                status=status,
                attempts=WebhookDelivery.attempts + 1,
                last_attempt_at=now,
                next_attempt_at=next_at,
                last_status_code=outcome.status_code,
                last_error=outcome.error[:500] if outcome.error else None,
            )
        )

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


class _PostgresWebhooks(WebhookRepository):
    async def take_fan_out_turn(self) -> bool:
        return bool(await self.session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _FAN_OUT_LOCK}))

    async def fan_out(self, limit: int, now: datetime, *, to_nats: bool) -> int:
        """One statement: the events are taken and marked, and their
        deliveries queued, without their rows leaving the database (after a
        1,000-log bulk, fetching them cost the worker 11 ms of CPU)."""
        if not await self.take_fan_out_turn():
            return 0
        taken = await self.session.scalar(_PG_FAN_OUT, {"limit": limit, "now": now, "to_nats": to_nats})
        return int(taken or 0)


def webhook_repository(session: AsyncSession) -> WebhookRepository:
    return for_dialect(session, postgresql=_PostgresWebhooks, sqlite=WebhookRepository)


def _pg_fan_out() -> Any:
    """The fan-out of `_PostgresWebhooks`, with the base class's rule:
    a subscription takes an event of its company when it is enabled and
    either subscribes to the event's type (or to "*") or is the one
    subscription the event is for (a `webhook.test`)."""
    now = bindparam("now", type_=UTCDateTime)
    oldest_new = (
        select(OutboxEvent.id)
        .where(OutboxEvent.fanned_out_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(bindparam("limit", type_=Integer))
        .scalar_subquery()
    )
    taken = (
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(oldest_new))
        # A test event is for its subscription only, never for NATS.
        .values(
            fanned_out_at=now, nats_pending=and_(OutboxEvent.webhook_id.is_(None), bindparam("to_nats", type_=Boolean))
        )
        .returning(
            OutboxEvent.id, OutboxEvent.type, OutboxEvent.company_id, OutboxEvent.task_log_id, OutboxEvent.webhook_id
        )
        .cte("taken")
    )
    subscribed = cast(Webhook.events, JSONB).has_any(array([literal("*"), taken.c.type]))
    queued = insert(WebhookDelivery).from_select(
        ["webhook_id", "event_id", "task_log_id", "next_attempt_at"],
        select(Webhook.id, taken.c.id, taken.c.task_log_id, now)
        .join(Webhook, Webhook.company_id == taken.c.company_id)
        .where(
            Webhook.enabled.is_(True),
            or_(and_(taken.c.webhook_id.is_(None), subscribed), taken.c.webhook_id == Webhook.id),
        )
        # Delivery ids in event order, as the base class inserts them.
        .order_by(taken.c.id, Webhook.id),
        # The status and attempts from the columns' server defaults: a
        # statement run as a CTE gets no values for the Python-side ones.
        include_defaults=False,
    )
    # PostgreSQL runs a data-modifying WITH to completion whether or not the query reads it.
    return select(func.count()).select_from(taken).add_cte(queued.cte("queued"))


_PG_FAN_OUT = _pg_fan_out()
