"""When each API key was last used (`tasklogs apikey list`), written at most
once a minute per key and never on the request's own path.

A write on every request would add a round trip to every call a service
makes and, on SQLite, a turn at the single writer lock even for reads. So:
- each worker remembers when it last recorded each key, and only asks the
  database again once that is a minute old: one statement per key per
  minute per worker, whatever the traffic;
- the UPDATE itself is conditional (only when the stored time is a minute
  old or more), so several workers and replicas together change the row at
  most once a minute;
- it runs as a background task in its own short transaction (taking its
  turn at SQLite's writer queue like any write), after the request has its
  principal; a failure is logged and forgotten: the request never waits for
  it nor fails with it. At shutdown the pending writes are awaited."""

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.repository import ApiKeyRepository
from app.core.database import WriterQueue

log = logging.getLogger("tasklogs.auth")

RECORD_EVERY = timedelta(minutes=1)


class KeyUsage:
    # Like the key cache: far more keys than a deployment uses, a bound on memory.
    MAX_KEYS = 1024

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], queue: WriterQueue) -> None:
        self._sessionmaker = sessionmaker
        self._queue = queue
        self._recorded: dict[int, datetime] = {}  # key id -> when this worker last recorded it
        self._pending: set[asyncio.Task[None]] = set()

    def used(self, key_id: int, now: datetime) -> None:
        """The key answered a request at `now`: record it, unless this worker did within the minute."""
        last = self._recorded.get(key_id)
        if last is not None and now - last < RECORD_EVERY:
            return
        if last is None and len(self._recorded) >= self.MAX_KEYS:
            self._recorded.pop(next(iter(self._recorded)))  # the oldest entry
        self._recorded[key_id] = now
        task = asyncio.create_task(self._record(key_id, now))
        # The event loop keeps only weak references to tasks: hold it until done.
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record(self, key_id: int, now: datetime) -> None:
        try:
            async with self._queue.turn(), self._sessionmaker() as session, session.begin():
                await ApiKeyRepository(session).record_use(key_id, now, RECORD_EVERY)
        except (SQLAlchemyError, OSError) as exc:
            # Only the lastUsedAt shown by `apikey list` is late: this worker tries again a minute later.
            log.warning("could not record the last use of API key %s: %s", key_id, type(exc).__name__)

    async def drain(self) -> None:
        """Wait for the writes still running (at shutdown, before the pool closes)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
