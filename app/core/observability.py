"""What the service tells its operators: one JSON log line per request,
a request id that follows the request everywhere, and Prometheus metrics.

Pure ASGI middleware (no BaseHTTPMiddleware): it wraps `send` once and adds
almost nothing to a request's cost."""

import json
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.settings import Settings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# ---------------------------------------------------------------- metrics

HTTP_REQUESTS = Counter("tasklogs_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "tasklogs_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_POOL_IN_USE = Gauge(
    "tasklogs_db_pool_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
TASK_LOGS_CREATED = Counter("tasklogs_task_logs_created_total", "Task logs created (committed)")
DUPLICATES_SKIPPED = Counter("tasklogs_duplicates_skipped_total", "Duplicate task logs skipped (committed)")
NOTIFICATIONS_SENT = Counter("tasklogs_notifications_sent_total", "Notifications written (committed)")

WEBHOOK_DELIVERIES = Counter(
    "tasklogs_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, retry (failed, tried again later), failed (gave up)",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "tasklogs_webhook_delivery_seconds",
    "Time from a webhook request's start to the receiver's answer (or the failure)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTBOX_OLDEST_AGE = Gauge(
    "tasklogs_outbox_oldest_waiting_seconds",
    "Age of the oldest event not yet delivered everywhere it goes (0: none waiting); set by the dispatcher",
    multiprocess_mode="max",
)

_COMMITTED_COUNTERS = {
    "task_logs_created": TASK_LOGS_CREATED,
    "duplicates_skipped": DUPLICATES_SKIPPED,
    "notifications_sent": NOTIFICATIONS_SENT,
}


def count_on_commit(session: Any, name: str, amount: int) -> None:
    """Count something that becomes true only if the transaction commits
    (the session dependency publishes it after the commit)."""
    if amount:
        pending: dict[str, int] = session.info.setdefault("metrics", {})
        pending[name] = pending.get(name, 0) + amount


def publish_committed(session: Any) -> None:
    for name, amount in session.info.pop("metrics", {}).items():
        _COMMITTED_COUNTERS[name].inc(amount)


def metrics_payload(engine: Any) -> bytes:
    pool = getattr(engine, "pool", None) if engine is not None else None
    if pool is not None and hasattr(pool, "checkedout"):
        DB_POOL_IN_USE.set(pool.checkedout())
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


# ---------------------------------------------------------------- logging


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields given with `extra={"fields": {...}}` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    handler._tasklogs = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    # Replace our own earlier handler (apps are built more than once in tests), keep others'.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_tasklogs", False)] + [handler]
    root.setLevel(settings.log_level.upper())
    # Our access line replaces uvicorn's; its error log goes through our handler.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


access_log = logging.getLogger("tasklogs.access")


# ---------------------------------------------------------------- middleware


def route_template(scope: Scope, root_path: str) -> str:
    """The route a request is counted and logged under: its path template as
    the OpenAPI document spells it, so `/tasklog/create` and `/tasklog/create/`
    are one series (`documented_path` of the slash-less twins, app/core/routing.py).
    FastAPI names the route it matched in the scope; Starlette's own routes
    (/openapi.json, the docs assets) are found here, so they are not all
    counted as "unmatched". `root_path` is the request's own: a mount
    changes the scope's on the way in."""
    route = scope.get("route")
    if route is None:
        request = {"type": "http", "path": scope["path"], "root_path": root_path, "method": scope["method"]}
        routes = getattr(scope.get("app"), "routes", [])
        route = next((r for r in routes if isinstance(r, Route | Mount) and r.matches(request)[0] is Match.FULL), None)
    if route is None:
        return "unmatched"
    return str(getattr(route, "documented_path", None) or route.path)


class RequestContextMiddleware:
    """Request id in and out, request body size limit, access log, metrics."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        # 128 random bits as 32 hex digits, like uuid4().hex without building a UUID (a few % of a small request).
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else os.urandom(16).hex()
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})
        root_path = scope.get("root_path", "")
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                # Headers that belong on the answer whatever it is, left by the request's handling
                # (the rate-limit fields, set when the caller is authenticated).
                also = scope["state"].get("answer_headers", ())
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode()), *also]
            await send(message)

        try:
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await self._too_large(send_with_id)
                return
            await self.app(scope, self._limited(receive), send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            template = route_template(scope, root_path)
            HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], template).observe(elapsed)
            access_log.info(
                "%s %s %s",
                scope["method"],
                template,
                status,
                extra={
                    "fields": {
                        "method": scope["method"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "principal": scope["state"].get("principal"),
                    }
                },
            )
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        """A body sent without Content-Length (chunked) is counted as it arrives."""
        received = 0
        limit = self.max_body_bytes

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"The request body is larger than {limit} bytes.")
            return message

        return receive_limited

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {
                "status": 0,
                "message": f"The request body is larger than {self.max_body_bytes} bytes.",
                "error_code": "PAYLOAD_TOO_LARGE",
                "errors": [],
                "requestId": request_id_var.get(),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
