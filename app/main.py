"""The ASGI application."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.auth.repository import ApiKeyRepository
from app.auth.tokens import verification_key
from app.core.database import create_engine, make_sessionmaker
from app.core.errors import install_error_handlers
from app.core.responses import EnvelopeResponse
from app.core.settings import Settings, get_settings
from app.notifications.router import router as notifications_router
from app.reference.router import router as reference_router
from app.tasklogs.router import router as tasklogs_router

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
        if await ApiKeyRepository(session).any_active():
            return
    raise RuntimeError(
        "Refusing to start without authentication: set TASKLOGS_JWT_SECRET or TASKLOGS_JWT_PUBLIC_KEY, "
        "create an API key (`tasklogs apikey create`), or set TASKLOGS_AUTH_DISABLED=true on purpose."
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_engine(app.state.settings)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    try:
        await _check_authentication(app)
        yield
    finally:
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level.upper())
    app = FastAPI(
        title="Task Logs API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        redirect_slashes=False,
        default_response_class=EnvelopeResponse,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(tasklogs_router)
    app.include_router(notifications_router)
    app.include_router(reference_router)

    @app.get("/healthz", tags=["Operations"], operation_id="healthz", summary="Liveness")
    async def healthz() -> EnvelopeResponse:
        """The process is up (does not touch the database)."""
        return EnvelopeResponse({"status": 1, "message": "ok"})

    return app
