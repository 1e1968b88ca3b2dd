"""Events to NATS JetStream (when TASKLOGS_NATS_URL is set): each on the
subject `<prefix>.<companyId>.<type>`, with `Nats-Msg-Id` set to the event id
so that JetStream drops a duplicate of a re-sent event. An event counts as
published only once the stream acknowledged it; with NATS away, events wait
in the outbox (the write path never waits for NATS)."""

import logging

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from app.core.responses import dumps
from app.core.settings import Settings
from app.events.outbox import StoredEvent

log = logging.getLogger("tasklogs.nats")

CONNECT_TIMEOUT_SECONDS = 2.0
ACK_TIMEOUT_SECONDS = 5.0


async def _log_error(exc: Exception) -> None:
    # The client's own default prints a traceback for each failed connect.
    log.debug("NATS client error: %s: %s", type(exc).__name__, exc)


class NatsPublisher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._stream: JetStreamContext | None = None

    def subject(self, event: StoredEvent) -> str:
        return f"{self.settings.nats_subject_prefix}.{event.company_id}.{event.type}"

    async def _jetstream(self) -> JetStreamContext:
        if self._client is not None and self._client.is_connected and self._stream is not None:
            return self._stream
        await self.close()
        # One try per round, no reconnecting inside the client (its defaults
        # retry for minutes): a round that fails leaves its events waiting
        # and the next one connects again.
        self._client = await nats.connect(
            self.settings.nats_url or "",
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            error_cb=_log_error,
            name="tasklogs",
        )
        stream = self._client.jetstream(timeout=ACK_TIMEOUT_SECONDS)
        try:
            await stream.stream_info(self.settings.nats_stream)
        except nats.js.errors.NotFoundError:
            await stream.add_stream(name=self.settings.nats_stream, subjects=[f"{self.settings.nats_subject_prefix}.>"])
            log.info("created JetStream stream %s", self.settings.nats_stream)
        self._stream = stream
        return stream

    async def publish(self, events: list[StoredEvent]) -> list[int]:
        """Publish in order until one fails; the outbox ids the stream acknowledged."""
        published: list[int] = []
        try:
            stream = await self._jetstream()
            for event in events:
                await stream.publish(
                    self.subject(event), dumps(event.payload()), headers={"Nats-Msg-Id": event.event_id}
                )
                published.append(event.id)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            log.warning(
                "NATS publish failed, %d events wait: %s: %s", len(events) - len(published), type(exc).__name__, exc
            )
            await self.close()
        return published

    async def close(self) -> None:
        client, self._client, self._stream = self._client, None, None
        if client is not None and not client.is_closed:
            try:
                await client.close()
            except (nats.errors.Error, OSError, TimeoutError):
                log.debug("NATS connection closed uncleanly")
