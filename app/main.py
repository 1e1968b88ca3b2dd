"""The ASGI application."""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__
from app.auth.key_cache import KeyCache
from app.auth.key_usage import KeyUsage
from app.auth.rate_limits import RateLimiter
from app.auth.repository import ApiKeyRepository
from app.auth.tokens import verification_key
from app.core.database import (
    WriterQueue,
    create_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    make_write_sessionmaker,
)
from app.core.docs import install_docs
from app.core.errors import install_error_handlers
from app.core.idempotency import purge_periodically
from app.core.observability import RequestContextMiddleware, configure_logging
from app.core.openapi import install_openapi
from app.core.responses import EnvelopeResponse
from app.core.routing import include_routers
from app.core.settings import Settings, get_settings
from app.core.timeutil import utcnow
from app.locks.router import router as locks_router
from app.notifications.router import router as notifications_router
from app.operations.router import router as operations_router
from app.reference.router import router as reference_router
from app.submissions.router import router as submissions_router
from app.tasklogs.router import router as tasklogs_router
from app.timers.router import router as timers_router
from app.timesheets.router import router as timesheets_router
from app.timewarnings.router import router as timewarnings_router
from app.webhooks.dispatcher import InProcessDispatcher
from app.webhooks.router import router as webhooks_router

DESCRIPTION = """
Records the time people spend on tasks. Compatible with the **Task Logs** module of the Dyzo API v2.0.0:
same paths (with or without the trailing slash), same payloads (snake_case or camelCase), same envelope
(`{"status": 1, "message", "data"}`; errors `{"status": 0, "message", "error_code", "errors"}`).

* **Task logs**: create, read, update, delete; duplicates (same task, employee and start time) are refused
  with 409 `DUPLICATE_TASK_LOG`.
* **Bulk**: upload many logs at once; duplicates are skipped, not errors, so a retried upload is harmless.
* Every write answers with the employee's **daily totals** for the local days it touched, the **allocation**
  of the projects and tasks involved (admins are notified once when a project goes over), and **warnings**.
* **Reference data**: companies, employees, projects and tasks mirrored from the platform.

Times: send ISO 8601. With an offset it is an instant; without one it is a wall-clock time in the employee's
time zone. Answers are in UTC with a `Z`.
"""


log = logging.getLogger("tasklogs")


async def _check_authentication(app: FastAPI) -> None:
    """Authentication cannot be off by accident: with no way to verify a
    token and no API key, refuse to start unless it is disabled on purpose."""
    settings: Settings = app.state.settings
    app.state.jwt_key = verification_key(settings)
    if settings.auth_disabled:
        log.warning("AUTHENTICATION IS DISABLED (TASKLOGS_AUTH_DISABLED=true): every caller acts as the platform")
        return
    if app.state.jwt_key is not None:
        return
    async with app.state.sessionmaker() as session:
        if await ApiKeyRepository(session).any_usable(utcnow()):
            return
    raise RuntimeError(
        "Refusing to start without authentication: set TASKLOGS_JWT_SECRET or TASKLOGS_JWT_PUBLIC_KEY, "
        "create an API key (`tasklogs apikey create`), or set TASKLOGS_AUTH_DISABLED=true on purpose."
    )


TAGS = [
    {"name": "Task logs", "description": "Create, read, edit and delete single task logs (Dyzo paths)."},
    {"name": "Bulk", "description": "Upload many task logs in one request; duplicates are skipped."},
    {
        "name": "Timesheets",
        "description": "Working hours per day, week, month, task, project or employee; JSON, CSV and XLSX.",
    },
    {
        "name": "Timesheet submissions",
        "description": "An employee's week handed in, approved, rejected or reopened by the company's "
        "team leaders and admins; a submitted or approved week locks its logs.",
    },
    {"name": "Timers", "description": "Running timers kept on the server; stopping one creates its task log."},
    {"name": "Time warnings", "description": "Over-logged days and overlapping logs, kept true by every write."},
    {
        "name": "Locked periods",
        "description": "A company's lock date: logs up to it can no longer change, and who moved it when.",
    },
    {"name": "Notifications", "description": "Alerts for admins, e.g. a project over its allocated hours."},
    {
        "name": "Reference data",
        "description": "Companies, employees, projects and tasks mirrored from the "
        "platform (written by platform services and company admins).",
    },
    {"name": "Webhooks", "description": "Signed event deliveries to other services, and what became of them."},
    {"name": "Operations", "description": "Health, readiness and metrics for orchestrators and dashboards."},
]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_engine(app.state.settings)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.write_sessionmaker = make_write_sessionmaker(engine, app.state.settings)  # the requests' writes
    app.state.read_sessionmaker = make_read_sessionmaker(engine, app.state.settings)
    app.state.writer_queue = WriterQueue(app.state.settings)  # one per engine: SQLite's writers queue FIFO
    app.state.key_usage = KeyUsage(app.state.sessionmaker, app.state.writer_queue)
    app.state.rate_limiter = RateLimiter(app.state.settings)
    purge: asyncio.Task[None] | None = None
    dispatcher: InProcessDispatcher | None = None
    try:
        await _check_authentication(app)
        minutes = app.state.settings.idempotency_purge_minutes
        if minutes > 0:
            purge = asyncio.create_task(purge_periodically(app.state.sessionmaker, app.state.writer_queue, minutes))
        dispatcher = InProcessDispatcher.start(app.state.sessionmaker, app.state.writer_queue, app.state.settings)
        _tune_garbage_collector()
        yield
    finally:
        if dispatcher is not None:
            await dispatcher.stop()
        if purge is not None:
            purge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purge
        await app.state.key_usage.drain()
        await app.state.rate_limiter.close()
        await engine.dispose()


def _tune_garbage_collector() -> None:
    """A bulk upload allocates tens of thousands of short-lived objects, so
    the default young-generation threshold (700) runs a collection every few
    hundred items, and each full one walks every module, model and route
    loaded at startup. Those are frozen out of collection once started, and
    collections happen a hundred times less often (measured: 5 % of a
    thousand-item upload's time)."""
    gc.freeze()
    gc.set_threshold(70_000, 20, 20)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="Task Logs API",
        version=__version__,
        description=DESCRIPTION,
        contact={"name": "Task Logs team", "email": "tasklogs@dyzo.example"},
        license_info={"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
        # Relative: the document describes the service that serves it, wherever that is.
        servers=[{"url": "/", "description": "This service"}],
        openapi_tags=TAGS,
        lifespan=_lifespan,
        redirect_slashes=False,
        default_response_class=EnvelopeResponse,
        # One schema per model: no "-Input"/"-Output" twins in the document.
        separate_input_output_schemas=False,
        # Served from the service's own assets instead (app/core/docs.py): FastAPI's pages need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.key_cache = KeyCache(settings.api_key_cache_seconds)
    install_error_handlers(app)
    install_openapi(app, settings)
    install_docs(app)
    include_routers(
        app,
        tasklogs_router,
        timers_router,
        timewarnings_router,
        notifications_router,
        reference_router,
        locks_router,
        timesheets_router,
        submissions_router,
        webhooks_router,
        operations_router,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "ETag",
                "Retry-After",
                "Idempotent-Replayed",
                "RateLimit",
                "RateLimit-Policy",
            ],
        )
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
