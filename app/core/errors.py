"""One exception hierarchy for the whole service, and the handlers that turn
every failure (ours, FastAPI's, Starlette's, unexpected ones) into Dyzo's
error envelope: `{"status": 0, "message", "error_code", "errors": [...]}`."""

import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.observability import request_id_var
from app.core.responses import EnvelopeResponse
from app.core.schemas import CONTROL_CHARACTERS_MESSAGE, NO_CONTROL_CHARACTERS

log = logging.getLogger("tasklogs")


@dataclass
class FieldError:
    """One problem with one input field; `field` is a dotted camelCase path,
    prefixed with the item index in a batch (`[3].endTime`)."""

    field: str
    message: str
    code: str = "VALIDATION_ERROR"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "code": self.code}


@dataclass
class AppError(Exception):
    """Base of every error the service answers on purpose."""

    message: str
    error_code: str = "ERROR"
    status_code: int = 400
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.error_code}: {self.message}"


class NotFound(AppError):
    def __init__(self, what: str, ident: object, error_code: str = "NOT_FOUND") -> None:
        super().__init__(f"{what} {ident} not found.", error_code, 404)


class Forbidden(AppError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "FORBIDDEN", 403)


class InputRejected(AppError):
    """422: the request is well-formed but breaks a rule. With one field error
    the error_code is that error's code, so single-item clients can branch on it."""

    def __init__(self, errors: list[FieldError], message: str | None = None) -> None:
        code = errors[0].code if len(errors) == 1 else "VALIDATION_ERROR"
        if message is None:
            message = errors[0].message if len(errors) == 1 else f"{len(errors)} items are invalid; nothing was saved."
        super().__init__(message, code, 422, errors)


class Conflict(AppError):
    def __init__(self, message: str, error_code: str, **extra: Any) -> None:
        super().__init__(message, error_code, 409, extra=extra)


class PayloadTooLarge(AppError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "PAYLOAD_TOO_LARGE", 413)


def error_body(message: str, error_code: str, errors: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    return {
        "status": 0,
        "message": message,
        "error_code": error_code,
        "errors": errors or [],
        **extra,
        "requestId": request_id_var.get(),
    }


class ServiceUnavailable(AppError):
    def __init__(self, message: str = "The database is unavailable; try again shortly.") -> None:
        super().__init__(message, "SERVICE_UNAVAILABLE", 503, headers={"Retry-After": "5"})


def _is_database_outage(exc: BaseException) -> bool:
    """Connection refused or lost, pool exhausted, statement timeout: the
    database cannot answer now, which is a 503 to retry, not a bug."""
    if isinstance(exc, (SQLATimeoutError, OperationalError, InterfaceError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        sqlstate = getattr(orig, "sqlstate", None) or ""
        # 08: connection exceptions; 57: operator intervention (shutdown, query canceled by timeout);
        # 40: a deadlock or serialization failure rolled the transaction back — retrying is safe;
        # 53: insufficient resources (too many connections, out of memory, disk full) — the server's
        # state, not the request's, so it is a 503 to retry later.
        return sqlstate.startswith(("08", "57", "40", "53")) or isinstance(getattr(orig, "__cause__", None), OSError)
    return isinstance(exc, OSError)


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    """('body', 3, 'endTime') -> '[3].endTime'; ('query', 'page') -> 'page'."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header", "cookie") else list(loc)
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def _message_of(error: dict[str, Any]) -> str:
    """Pydantic's message, but for a pattern whose own text would mean nothing to a reader."""
    if error.get("type") == "string_pattern_mismatch" and (error.get("ctx") or {}).get("pattern") == (
        NO_CONTROL_CHARACTERS
    ):
        return CONTROL_CHARACTERS_MESSAGE
    return str(error.get("msg", "Invalid value"))


# A 100,000-item body could otherwise answer with 300,000 error entries.
MAX_REPORTED_ERRORS = 100

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> EnvelopeResponse:
        body = error_body(exc.message, exc.error_code, [e.as_dict() for e in exc.errors], **exc.extra)
        return EnvelopeResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> EnvelopeResponse:
        raw = exc.errors()
        invalid = [e for e in raw if e.get("type") == "json_invalid"]
        if invalid:
            # The standard library decoder's own words ("Expecting value", "a string holds a lone
            # UTF-16 surrogate"): they describe the body, never the server.
            reason = (invalid[0].get("ctx") or {}).get("error")
            return EnvelopeResponse(
                error_body(
                    "The request body is not valid JSON.",
                    "MALFORMED_JSON",
                    [
                        {
                            "field": "body",
                            "message": f"Invalid JSON: {reason}" if reason else "Invalid JSON",
                            "code": "MALFORMED_JSON",
                        }
                    ],
                ),
                status_code=400,
            )
        if any(e.get("type") == "too_long" and tuple(e.get("loc", ())) == ("body",) for e in raw):
            return EnvelopeResponse(
                error_body("Too many items in one request; split the upload.", "PAYLOAD_TOO_LARGE"), status_code=413
            )
        errors = [
            {"field": _loc_to_field(tuple(e.get("loc", ()))), "message": _message_of(e), "code": "VALIDATION_ERROR"}
            for e in raw[:MAX_REPORTED_ERRORS]
        ]
        message = errors[0]["message"] if len(raw) == 1 else f"{len(raw)} fields are invalid."
        if len(raw) > MAX_REPORTED_ERRORS:
            message += f" The first {MAX_REPORTED_ERRORS} are listed."
        if len(errors) == 1:
            message = f"{errors[0]['field']}: {message}"
        return EnvelopeResponse(error_body(message, "VALIDATION_ERROR", errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> EnvelopeResponse:
        code = _HTTP_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").capitalize()
        if exc.status_code == 404 and message == "Not Found":
            message = "No such endpoint."
        headers = exc.headers
        if exc.status_code == 405:
            from app.core.routing import allowed_methods  # routing builds on errors, not the reverse

            # Starlette names only the methods of the one route it matched.
            allow = allowed_methods(request.app, request.scope)
            if allow:
                headers = {**(headers or {}), "Allow": ", ".join(allow)}
                message = f"{request.method} is not allowed here; allowed: {', '.join(allow)}."
        return EnvelopeResponse(error_body(message, code), status_code=exc.status_code, headers=headers)

    async def _database_error(request: Request, exc: Exception) -> EnvelopeResponse:
        if not _is_database_outage(exc):
            return await _unexpected(request, exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        outage = ServiceUnavailable()
        return EnvelopeResponse(error_body(outage.message, outage.error_code), status_code=503, headers=outage.headers)

    # Registered per class (not under Exception) so they are answered like
    # any handled error instead of being re-raised to the server as a crash.
    for outage_type in (DBAPIError, SQLATimeoutError, OSError, TimeoutError):
        app.add_exception_handler(outage_type, _database_error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> EnvelopeResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return EnvelopeResponse(error_body("Internal server error.", "INTERNAL_ERROR"), status_code=500)
