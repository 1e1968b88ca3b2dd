"""Safe retries: a write sent with `Idempotency-Key` is done once; a retry
with the same key and body gets the first answer back.

The key is claimed in a short transaction of its own before the write runs,
so a retry that arrives while the first attempt is still running sees the
claim (409 IDEMPOTENCY_KEY_IN_USE) in any worker process. The answer is
stored once the write has committed; an answer that wrote nothing (an error)
releases the key, so the retry simply runs again. If a process dies in between, the claim
goes stale after TASKLOGS_IDEMPOTENCY_STALE_SECONDS and a retry runs the write
again, which our writes tolerate (a create finds its duplicate, a bulk
upload skips what is stored)."""

import hashlib
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import AppError, error_body
from app.core.responses import EnvelopeResponse
from app.core.schemas import error_responses
from app.core.sql import dialect_insert
from app.core.timeutil import utcnow
from app.models import IdempotencyKey

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REPLAYED_HEADERS = ("content-type", "etag", "location")


IDEMPOTENCY_HEADER_DOC = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Makes the write safe to retry: a retry with the same key and body gets the first answer "
    "(with `Idempotent-Replayed: true`) and writes nothing. Kept 24 h per caller.",
}


class IdempotentRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.methods and self.methods & WRITE_METHODS:
            extra = dict(self.openapi_extra or {})
            extra["parameters"] = [*extra.get("parameters", []), IDEMPOTENCY_HEADER_DOC]
            self.openapi_extra = extra
            self.responses = {**error_responses(409, 422), **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_once(request: Request) -> Response:
            key = request.headers.get("idempotency-key")
            if key is None or request.method not in WRITE_METHODS:
                return await handle(request)
            if not 1 <= len(key) <= 255:
                return _error(AppError("Idempotency-Key must be 1 to 255 characters.", "VALIDATION_ERROR", 422))
            principal = await _principal_label(request)
            if principal is None:
                return await handle(request)  # not authenticated: the handler answers 401
            fingerprint = hashlib.sha256(
                request.method.encode() + b" " + request.url.path.encode() + b"\n" + await request.body()
            ).hexdigest()
            store = _Store(request.app.state.sessionmaker, request.app.state.settings, principal, key)
            try:
                replay = await store.claim(fingerprint)
            except AppError as exc:
                return _error(exc)
            if replay is not None:
                return replay
            answered: list[Response] = []

            async def after_commit(exc_type: Any, exc: Any, tb: Any) -> bool:
                # Runs after the request's transaction has committed (or not):
                # only a committed write's answer may be replayed.
                if exc_type is None and answered and answered[0].status_code < 500:
                    await store.save(answered[0])
                else:
                    await store.release()  # nothing was written: a retry runs the write
                return False

            # The stack unwinds last-in first-out: pushed before the handler
            # opens the database session, this runs after that session commits.
            request.scope["fastapi_function_astack"].push_async_exit(after_commit)
            response = await handle(request)
            answered.append(response)
            return response

        return handle_once


async def _principal_label(request: Request) -> str | None:
    from app.auth.dependencies import authenticate  # auth depends on core, not the reverse

    try:
        async with request.app.state.sessionmaker() as session:
            return (await authenticate(request, session)).label
    except AppError:
        return None


def _error(exc: AppError) -> EnvelopeResponse:
    return EnvelopeResponse(error_body(exc.message, exc.error_code), status_code=exc.status_code,
                            headers=exc.headers)


class _Store:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Any, principal: str,
                 key: str) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.principal = principal
        self.key = key

    def _this(self) -> Any:
        return (IdempotencyKey.principal == self.principal) & (IdempotencyKey.key == self.key)

    async def claim(self, fingerprint: str) -> Response | None:
        """Claim the key (None: go ahead), or the stored answer to replay."""
        now = utcnow()
        fresh = {"request_hash": fingerprint, "state": "in_progress", "status_code": None, "response_body": None,
                 "response_headers": None, "created_at": now,
                 "expires_at": now + timedelta(hours=self.settings.idempotency_ttl_hours)}
        async with self.sessionmaker() as session, session.begin():
            insert = dialect_insert(session)(IdempotencyKey).values(principal=self.principal, key=self.key, **fresh)
            claimed = await session.execute(insert.on_conflict_do_nothing().returning(IdempotencyKey.key))
            if claimed.first() is not None:
                return None
            row = (await session.scalars(select(IdempotencyKey).where(self._this()).with_for_update())).one()
            stale = now - timedelta(seconds=self.settings.idempotency_stale_seconds)
            if row.expires_at <= now or (row.state == "in_progress" and row.created_at <= stale):
                await session.execute(update(IdempotencyKey).where(self._this()).values(**fresh))
                return None
            if row.state == "in_progress":
                raise AppError("A request with this Idempotency-Key is still being processed; retry shortly.",
                               "IDEMPOTENCY_KEY_IN_USE", 409, headers={"Retry-After": "1"})
            if row.request_hash != fingerprint:
                raise AppError("This Idempotency-Key was used for a different request.", "IDEMPOTENCY_KEY_REUSED",
                               422)
            headers = {**(row.response_headers or {}), "Idempotent-Replayed": "true"}
            return Response(row.response_body, status_code=row.status_code or 200, headers=headers)

    async def save(self, response: Response) -> None:
        headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(IdempotencyKey).where(self._this())
                .values(state="done", status_code=response.status_code, response_body=bytes(response.body),
                        response_headers=headers)
            )

    async def release(self) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(delete(IdempotencyKey).where(self._this()))
