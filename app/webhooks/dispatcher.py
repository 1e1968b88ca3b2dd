"""The dispatcher: takes events from the outbox to the subscriptions (and to
NATS JetStream when TASKLOGS_NATS_URL is set), at least once, in commit order
per task log and subscription.

One round: fan new events out into deliveries, claim the due ones, POST them
concurrently, record each outcome (delivered, retried later on the
TASKLOGS_WEBHOOK_RETRY_SCHEDULE with jitter, or failed), publish to NATS.
Each step is a short transaction of its own: no transaction stays open
while a receiver answers (it would hold the change feed back). A worker that
dies mid-request leaves its claims leased until the time-out has passed,
then another takes them: the receiver may see that event twice (same
`webhook-id`), never not at all.

`tasklogs worker` runs it alone; `tasklogs serve` runs one in each process
unless TASKLOGS_WORKER_INPROCESS=false."""

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import __version__
from app.core.database import WriterQueue
from app.core.observability import OUTBOX_OLDEST_AGE, WEBHOOK_DELIVERIES, WEBHOOK_LATENCY
from app.core.responses import dumps
from app.core.settings import Settings
from app.core.timeutil import utcnow
from app.events.nats import NatsPublisher
from app.notifications.repository import NotificationRepository
from app.webhooks.repository import Claim, Outcome, delivery_status, webhook_repository
from app.webhooks.signing import signature_header
from app.webhooks.urls import Target, UrlForbidden, resolve_target

log = logging.getLogger("tasklogs.webhooks")

MAX_RESPONSE_BYTES = 64 * 1024
# New events taken into the queue per round: a whole default bulk's (TASKLOGS_BULK_MAX_ITEMS),
# so its events take one round, not two (each round is transactions of its own).
FAN_OUT_BATCH = 1000
# Events published to NATS per round.
PUBLISH_BATCH = 500
# A claim's lease outlasts the request's time-out by this much.
LEASE_MARGIN_SECONDS = 30
# Retry waits are stretched or shrunk by up to this fraction, so that many
# deliveries failed together do not come back together.
JITTER = 0.1
BACKLOG_EVERY_SECONDS = 10.0
PURGE_EVERY_SECONDS = 3600.0
PURGE_BATCH = 1000


@dataclass(frozen=True)
class Attempt:
    claim: Claim
    outcome: Outcome
    seconds: float


class Dispatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        writer_queue: WriterQueue,
        settings: Settings,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.writer_queue = writer_queue
        self.settings = settings
        self.nats = NatsPublisher(settings) if settings.nats_url else None
        # Redirects are not followed: a 3xx is a failed attempt.
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=settings.webhook_timeout_seconds,
            headers={"user-agent": f"tasklogs-webhooks/{__version__}"},
        )
        self._backlog_checked = 0.0
        self._purged = 0.0

    async def close(self) -> None:
        await self.client.aclose()
        if self.nats is not None:
            await self.nats.close()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.writer_queue.turn(), self.sessionmaker() as session, session.begin():
            yield session

    async def run(self) -> None:
        """Rounds until cancelled; a round that found nothing to do waits TASKLOGS_WORKER_POLL_SECONDS.
        A round that failed (the database or NATS away) is logged and tried again."""
        log.info("webhook dispatcher started")
        while True:
            try:
                busy = await self.run_once()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("dispatcher round failed: %s: %s", type(exc).__name__, exc)
                busy = False
            except Exception:  # a bug in one round must not stop every later delivery (logged with its traceback)
                log.exception("dispatcher round failed")
                busy = False
            if not busy:
                await asyncio.sleep(self.settings.worker_poll_seconds)

    async def run_once(self) -> bool:
        """One round; whether it found anything to do."""
        async with self._transaction() as session:
            fanned = await webhook_repository(session).fan_out(FAN_OUT_BATCH, utcnow(), to_nats=self.nats is not None)
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)
        async with self._transaction() as session:
            claims = await webhook_repository(session).claim(self.settings.worker_concurrency, now, lease)
        if claims:
            attempts = await asyncio.gather(*(self._attempt(c) for c in claims))
            await self._record(attempts)
        published = await self._publish() if self.nats is not None else 0
        await self._measure_backlog()
        if self.settings.outbox_retention_days and time.monotonic() - self._purged >= PURGE_EVERY_SECONDS:
            self._purged = time.monotonic()
            await self.purge_expired()
        return bool(fanned or claims or published)

    # ------------------------------------------------------------ one delivery

    async def _attempt(self, claim: Claim) -> Attempt:
        started = time.monotonic()
        outcome = await self._send(claim)
        seconds = time.monotonic() - started
        log.info(
            "webhook delivery %s",
            "delivered" if outcome.delivered else "failed",
            extra={
                "fields": {
                    "eventId": claim.event.event_id,
                    "eventType": claim.event.type,
                    "webhookId": claim.webhook_id,
                    "attempt": claim.attempts + 1,
                    "statusCode": outcome.status_code,
                    "error": outcome.error,
                    "seconds": round(seconds, 3),
                }
            },
        )
        return Attempt(claim, outcome, seconds)

    async def _send(self, claim: Claim) -> Outcome:
        def failed(status_code: int | None, error: str) -> Outcome:
            return Outcome(claim.delivery_id, claim.webhook_id, False, status_code, error)

        try:
            target = await resolve_target(claim.url, self.settings)
        except UrlForbidden as exc:
            return failed(None, f"URL forbidden: {exc}")
        body = dumps(claim.event.payload())
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": claim.event.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(claim.secrets, claim.event.event_id, timestamp, body),
        }
        url, extensions = pinned(target, headers)
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                async with self.client.stream(
                    "POST", url, content=body, headers=headers, extensions=extensions
                ) as response:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= MAX_RESPONSE_BYTES:
                            break  # the answer's status is all that counts
        except TimeoutError:
            return failed(None, f"no answer within {self.settings.webhook_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return failed(None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            return Outcome(claim.delivery_id, claim.webhook_id, True, response.status_code, None)
        return failed(response.status_code, f"HTTP {response.status_code}")

    # ------------------------------------------------------------ outcomes

    def _next_attempt(self, attempts_made: int, now: datetime) -> datetime | None:
        delays = self.settings.webhook_retry_delays
        if attempts_made > len(delays):
            return None
        wait = delays[attempts_made - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - not a secret
        return now + timedelta(seconds=wait)

    async def _record(self, attempts: list[Attempt]) -> None:
        now = utcnow()
        delivered_to: dict[int, bool] = {}
        async with self._transaction() as session:
            repo = webhook_repository(session)
            outcomes = []
            for attempt in attempts:
                outcome = attempt.outcome
                next_at = None if outcome.delivered else self._next_attempt(attempt.claim.attempts + 1, now)
                outcomes.append((outcome, next_at))
                status = delivery_status(outcome, next_at)
                WEBHOOK_DELIVERIES.labels("retry" if status == "pending" else status).inc()
                WEBHOOK_LATENCY.observe(attempt.seconds)
                delivered_to[outcome.webhook_id] = delivered_to.get(outcome.webhook_id, False) or outcome.delivered
            await repo.record(outcomes, now)
            # In id order: two workers never wait on each other's subscriptions crosswise.
            for webhook_id, delivered in sorted(delivered_to.items()):
                failing_since = await repo.mark_subscription(webhook_id, delivered, now)
                limit = timedelta(hours=self.settings.webhook_disable_after_hours)
                if failing_since is not None and now - failing_since >= limit:
                    await self._disable(session, webhook_id, failing_since)

    async def _disable(self, session: AsyncSession, webhook_id: int, failing_since: datetime) -> None:
        """Disable a subscription that has only failed for too long, and tell its company's admins."""
        repo = webhook_repository(session)
        webhook = await repo.disable(webhook_id)
        if webhook is None:
            return
        log.warning("webhook %d disabled: every delivery failed since %s", webhook_id, failing_since.isoformat())
        hours = self.settings.webhook_disable_after_hours
        await NotificationRepository(session).add_many(
            [
                {
                    "recipient_id": admin_id,
                    "category": "webhook",
                    "type": "WEBHOOK_DISABLED",
                    "title": "Webhook disabled after failing deliveries",
                    "message": (
                        f"Every delivery to {webhook.url} has failed for {hours:g} hours, so the webhook was "
                        "disabled. Fix the receiver, then enable it again (PATCH enabled=true)."
                    ),
                    "payload": {"webhookId": webhook_id, "url": webhook.url, "failingSince": failing_since.isoformat()},
                    "read": False,
                }
                for admin_id in await repo.active_admins(webhook.company_id)
            ]
        )

    # ------------------------------------------------------------ NATS and the backlog

    async def _publish(self) -> int:
        assert self.nats is not None
        async with self.sessionmaker() as session:
            events = await webhook_repository(session).nats_due(PUBLISH_BATCH)
        if not events:
            return 0
        published = await self.nats.publish(events)
        async with self._transaction() as session:
            await webhook_repository(session).nats_published(published)
        return len(published)

    async def purge_expired(self) -> int:
        """Delete the events older than TASKLOGS_OUTBOX_RETENTION_DAYS that
        wait for nothing, and their deliveries, in batches; how many."""
        before = utcnow() - timedelta(days=self.settings.outbox_retention_days)
        purged = 0
        while True:
            async with self._transaction() as session:
                batch = await webhook_repository(session).purge_done_before(before, PURGE_BATCH)
            purged += batch
            if batch < PURGE_BATCH:
                break
        if purged:
            log.info("purged %d delivered events older than %g days", purged, self.settings.outbox_retention_days)
        return purged

    async def _measure_backlog(self) -> None:
        if time.monotonic() - self._backlog_checked < BACKLOG_EVERY_SECONDS:
            return
        self._backlog_checked = time.monotonic()
        async with self.sessionmaker() as session:
            oldest = await webhook_repository(session).oldest_waiting()
        OUTBOX_OLDEST_AGE.set((utcnow() - oldest).total_seconds() if oldest else 0)


def pinned(target: Target, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The URL to connect to the address that was checked (not to whatever
    the name resolves to a moment later), with the name kept for the Host
    header and TLS (SNI and the certificate check)."""
    if target.address is None:
        return target.url, {}
    parts = urlsplit(target.url)
    address = f"[{target.address}]" if ":" in target.address else target.address
    headers["host"] = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{address}:{parts.port}" if parts.port else address
    return urlunsplit(parts._replace(netloc=netloc)), {"sni_hostname": target.host}


async def run_worker(settings: Settings) -> None:
    """`tasklogs worker`: a dispatcher with its own engine, until SIGTERM or
    SIGINT. A stop cancels the round in progress: its claims stay leased
    until their time-out, then another worker sends them again."""
    from app.core.database import create_engine, make_sessionmaker

    engine = create_engine(settings)
    dispatcher = Dispatcher(make_sessionmaker(engine), WriterQueue(settings), settings)
    running = asyncio.create_task(dispatcher.run())
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop, running.cancel)
    try:
        await running
    except asyncio.CancelledError:
        log.info("webhook dispatcher stopped")
    finally:
        await dispatcher.close()
        await engine.dispose()


class InProcessDispatcher:
    """A dispatcher beside the HTTP API, in `tasklogs serve`'s lifespan."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.task = asyncio.create_task(dispatcher.run(), name="webhook-dispatcher")

    @classmethod
    def start(
        cls, sessionmaker: async_sessionmaker[AsyncSession], writer_queue: WriterQueue, settings: Settings
    ) -> "InProcessDispatcher | None":
        """Started unless TASKLOGS_WORKER_INPROCESS=false."""
        return cls(Dispatcher(sessionmaker, writer_queue, settings)) if settings.worker_inprocess else None

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.dispatcher.close()
