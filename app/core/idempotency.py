"""Safe retries: a write sent with `Idempotency-Key` is done once; a retry
with the same key and body gets the first answer back.

Every write runs in one transaction owned by its route (`write_transaction`).
With a key, the key's record and the answer (status, body, replayed headers)
are written in that same transaction, as its last statement before COMMIT:
a committed write always has its answer, and a write that failed left nothing
behind, so its retry simply runs again (no claim to release or to go stale).
Last rather than first because a transaction's first write decides its place
in the change feed; that must be the task log's row lock, not the key's.

- Before the handler, a plain read looks for a stored answer: the same request
  gets it replayed (`Idempotent-Replayed: true`, nothing written), another
  request with the key is 422 IDEMPOTENCY_KEY_REUSED.
- Two attempts running at once both do the work; the later one's record
  meets the earlier one's (on PostgreSQL its INSERT waits for the earlier
  transaction to end), so it rolls back and answers the earlier answer.
- If the later attempt fails instead (a create finds its duplicate, a delete
  finds the log gone), the stored answer of the attempt that won is replayed
  in place of the error. Otherwise an error is answered and not kept."""

import asyncio
import hashlib
import logging
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.database import WRITE_METHODS, WriterQueue, write_transaction
from app.core.errors import AppError, error_body
from app.core.responses import EnvelopeResponse
from app.core.schemas import error_responses
from app.core.sql import dialect_insert
from app.core.timeutil import utcnow
from app.models import IdempotencyKey

log = logging.getLogger("tasklogs")

REPLAYED_HEADERS = ("content-type", "etag", "location")


IDEMPOTENCY_HEADER_DOC = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Makes the write safe to retry: a retry with the same key and body gets the first answer "
    "(with `Idempotent-Replayed: true`) and writes nothing. Kept 24 h per caller.",
}

RouteHandler = Callable[[Request], Coroutine[Any, Any, Response]]


class IdempotentRoute(APIRoute):
    """A route whose writes run in one transaction of their own, committed
    before the answer leaves, and honour `Idempotency-Key`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if {method.upper() for method in kwargs.get("methods") or ()} & WRITE_METHODS:
            # Before the route is built: FastAPI turns the responses' models into their schemas then.
            extra = dict(kwargs.get("openapi_extra") or {})
            extra["parameters"] = [*extra.get("parameters", []), IDEMPOTENCY_HEADER_DOC]
            kwargs["openapi_extra"] = extra
            kwargs["responses"] = {**error_responses(409, 422), **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> RouteHandler:
        handle = super().get_route_handler()

        async def handle_write(request: Request) -> Response:
            if request.method not in WRITE_METHODS:
                return await handle(request)
            key = request.headers.get("idempotency-key")
            if key is None:
                async with write_transaction(request):
                    return await handle(request)
            if not 1 <= len(key) <= 255:
                return _error(AppError("Idempotency-Key must be 1 to 255 characters.", "VALIDATION_ERROR", 422))
            return await _handle_keyed(request, handle, key)

        return handle_write


@dataclass(frozen=True)
class StoredAnswer:
    """The committed answer kept under a caller's key."""

    request_hash: str
    status_code: int
    body: bytes
    headers: dict[str, str]

    def replay(self) -> Response:
        return Response(
            self.body, status_code=self.status_code, headers={**self.headers, "Idempotent-Replayed": "true"}
        )

    def answer_to(self, fingerprint: str) -> Response:
        """The replay for the same request; 422 for another one under the same key."""
        if self.request_hash != fingerprint:
            return _error(
                AppError("This Idempotency-Key was used for a different request.", "IDEMPOTENCY_KEY_REUSED", 422)
            )
        return self.replay()


@dataclass(frozen=True)
class KeyedWrite:
    """One write request sent with an Idempotency-Key by one caller."""

    principal: str
    key: str
    fingerprint: str
    kept_for: timedelta

    def _this_key(self) -> Any:
        return (IdempotencyKey.principal == self.principal) & (IdempotencyKey.key == self.key)

    async def stored_answer(self, session: AsyncSession, *, expired_too: bool = False) -> StoredAnswer | None:
        """The answer kept under this key, by a plain read (no lock)."""
        query = select(
            IdempotencyKey.request_hash,
            IdempotencyKey.status_code,
            IdempotencyKey.response_body,
            IdempotencyKey.response_headers,
        ).where(self._this_key())
        if not expired_too:
            query = query.where(IdempotencyKey.expires_at > utcnow())
        row = (await session.execute(query)).first()
        if row is None:
            return None
        return StoredAnswer(
            request_hash=row.request_hash,
            status_code=row.status_code or 200,
            body=row.response_body or b"",
            headers=row.response_headers or {},
        )

    async def caller_is_full(self, session: AsyncSession, limit: int) -> int | None:
        """None while the caller holds fewer than `limit` live keys; else the
        seconds until its oldest one expires. A plain read (counting at most
        `limit` rows of the primary key's range), so nothing is written
        before the handler."""
        now = utcnow()
        live = (IdempotencyKey.principal == self.principal) & (IdempotencyKey.expires_at > now)
        held = select(IdempotencyKey.key).where(live).limit(limit).subquery()
        if (await session.scalar(select(func.count()).select_from(held)) or 0) < limit:
            return None
        first_free = await session.scalar(select(func.min(IdempotencyKey.expires_at)).where(live))
        return max(1, math.ceil((first_free - now).total_seconds())) if first_free is not None else 1

    async def record(self, session: AsyncSession, response: Response) -> bool:
        """Keep the answer under the key, in the write's transaction (the
        last statement before COMMIT). False: the key holds a live answer
        already, committed by a concurrent attempt (on PostgreSQL this INSERT
        waited for that attempt's transaction to end); an expired one is
        replaced."""
        now = utcnow()
        answer = {
            "request_hash": self.fingerprint,
            "status_code": response.status_code,
            "response_body": bytes(response.body),
            "response_headers": {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS},
            "created_at": now,
            "expires_at": now + self.kept_for,
        }
        insert = dialect_insert(session)(IdempotencyKey).values(principal=self.principal, key=self.key, **answer)
        statement = insert.on_conflict_do_update(
            index_elements=[IdempotencyKey.principal, IdempotencyKey.key],
            set_=answer,
            where=IdempotencyKey.expires_at <= now,
        ).returning(IdempotencyKey.key)
        return (await session.execute(statement)).first() is not None


class _AnsweredMeanwhile(Exception):
    """Raised inside the write's transaction to roll it back: an attempt with
    the same key committed its answer first."""


async def _handle_keyed(request: Request, handle: RouteHandler, key: str) -> Response:
    fingerprint = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + await request.body()
    ).hexdigest()
    keyed: KeyedWrite | None = None
    try:
        async with write_transaction(request) as session:
            principal = await _caller(request, session)
            if principal is None:
                return await handle(request)  # not authenticated: the handler answers 401
            keyed = KeyedWrite(
                principal, key, fingerprint, timedelta(hours=request.app.state.settings.idempotency_ttl_hours)
            )
            stored = await keyed.stored_answer(session)
            if stored is not None:
                return stored.answer_to(fingerprint)  # nothing written
            limit = request.app.state.settings.idempotency_max_keys_per_caller
            if limit and (wait := await keyed.caller_is_full(session, limit)) is not None:
                return _error(
                    AppError(
                        f"This caller holds {limit} live Idempotency-Keys, the most allowed; send the write without "
                        "a key, or retry when older keys expire.",
                        "TOO_MANY_IDEMPOTENCY_KEYS",
                        429,
                        headers={"Retry-After": str(wait)},
                    )
                )
            response = await handle(request)
            if not await keyed.record(session, response):
                raise _AnsweredMeanwhile
            return response
    except _AnsweredMeanwhile:
        assert keyed is not None
        # The conflicting answer was live when our INSERT met it: read it even if it expired since.
        async with _read_sessionmaker(request)() as reader:
            stored = await keyed.stored_answer(reader, expired_too=True)
        if stored is None:
            raise RuntimeError("an Idempotency-Key's answer vanished while a retry met it") from None
        return stored.answer_to(fingerprint)
    except Exception:
        if keyed is not None and (won := await _answer_of_the_attempt_that_won(request, keyed)) is not None:
            return won
        raise


async def _caller(request: Request, session: AsyncSession) -> str | None:
    """The caller's label, which keys are kept under, or None if the
    credentials are refused. The handler's `Actor` reuses this result."""
    from app.auth.dependencies import authenticate_once  # auth depends on core, not the reverse

    try:
        return (await authenticate_once(request, session)).label
    except AppError:
        return None


async def _answer_of_the_attempt_that_won(request: Request, keyed: KeyedWrite) -> Response | None:
    """After a failed attempt: the answer of a concurrent attempt of the same
    request that committed (this one then found the log it created, or the log
    it deleted gone), or of this very attempt if its COMMIT succeeded but the
    acknowledgement was lost."""
    try:
        async with _read_sessionmaker(request)() as reader:
            stored = await keyed.stored_answer(reader)
    except (SQLAlchemyError, OSError) as exc:
        # The database is still unwell: the original error (a 503) is the answer.
        log.info("no Idempotency-Key look-up after a failed write: %s", type(exc).__name__)
        return None
    if stored is None or stored.request_hash != keyed.fingerprint:
        return None
    return stored.replay()


def _read_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    return sessionmaker


def _error(exc: AppError) -> EnvelopeResponse:
    return EnvelopeResponse(error_body(exc.message, exc.error_code), status_code=exc.status_code, headers=exc.headers)


async def purge_expired_keys(
    sessionmaker: async_sessionmaker[AsyncSession], queue: WriterQueue, *, batch_size: int = 1000
) -> int:
    """Delete expired keys, `batch_size` per transaction (short transactions:
    no long lock, and on SQLite other writers get their turn between
    batches), until none is left. Returns how many were deleted."""
    deleted = 0
    while True:
        now = utcnow()
        expired = (
            select(IdempotencyKey.principal, IdempotencyKey.key)
            .where(IdempotencyKey.expires_at <= now)
            .limit(batch_size)
        )
        # expires_at again on the row itself: a key renewed by a new answer
        # meanwhile (PostgreSQL re-checks the condition on the new row) stays.
        statement = delete(IdempotencyKey).where(
            tuple_(IdempotencyKey.principal, IdempotencyKey.key).in_(expired), IdempotencyKey.expires_at <= now
        )
        async with queue.turn(), sessionmaker() as session, session.begin():
            result: Any = await session.execute(statement)
        deleted += result.rowcount
        if result.rowcount < batch_size:
            return deleted


async def purge_periodically(
    sessionmaker: async_sessionmaker[AsyncSession], queue: WriterQueue, minutes: float
) -> None:
    """`purge_expired_keys` every `minutes`, until cancelled (at shutdown).
    A failed purge (the database away) is logged and tried again next time."""
    while True:
        await asyncio.sleep(minutes * 60)
        try:
            if deleted := await purge_expired_keys(sessionmaker, queue):
                log.info("purged %d expired Idempotency-Keys", deleted)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("Idempotency-Key purge failed: %s", type(exc).__name__)
