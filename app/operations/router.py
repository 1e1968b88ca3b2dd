"""Endpoints for orchestrators and dashboards: liveness, readiness, metrics."""

import hmac
import logging

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.core.database import read_engine
from app.core.errors import AppError, ServiceUnavailable
from app.core.observability import metrics_payload
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import ErrorEnvelope, error_responses
from app.operations import service

log = logging.getLogger("tasklogs")

router = Router(tags=["Operations"])


class Health(BaseModel):
    status: int = 1
    message: str


class Readiness(BaseModel):
    database: str = Field(examples=["ok"])
    schemaRevision: str | None = Field(
        None, description="The migration the database is at; only for callers with the metrics token."
    )


class ReadyAnswer(Health):
    data: Readiness


@router.get("/healthz", operation_id="healthz", summary="Liveness", response_model=Health)
async def healthz() -> EnvelopeResponse:
    """The process is up and answering. Does not touch the database, so an orchestrator does not
    restart healthy workers during a database outage."""
    return ok("ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="Readiness",
    response_model=ReadyAnswer,
    responses={503: {"model": ErrorEnvelope, "description": "Database unreachable or schema not at head."}},
)
async def readyz(request: Request) -> EnvelopeResponse:
    """Ready for traffic: the database answers within the readiness timeout and its schema is at the
    newest migration of this build. 503 `SERVICE_UNAVAILABLE` otherwise; recovers by itself. Only with
    `Authorization: Bearer <TASKLOGS_METRICS_TOKEN>` does the answer say more than ready or not (the
    schema revision, the reason it is not ready)."""
    settings = request.app.state.settings
    operator = _operator(request)
    try:
        revision = await service.schema_revision(
            read_engine(request.app.state.engine, settings), settings.readiness_timeout_seconds
        )
    except ServiceUnavailable as exc:
        log.warning("not ready: %s", exc.message)
        if operator:
            raise
        # Anyone may probe: the reason (exception class, schema revisions) is for operators only.
        raise ServiceUnavailable("Not ready.") from exc
    return ok("ready", {"database": "ok", "schemaRevision": revision} if operator else {"database": "ok"})


def _operator(request: Request) -> bool:
    """The caller sent `Authorization: Bearer <TASKLOGS_METRICS_TOKEN>`
    (compared in constant time). Without that setting, nobody is."""
    token = request.app.state.settings.metrics_token
    if token is None:
        return False
    sent = request.headers.get("authorization", "").encode("latin-1")
    return hmac.compare_digest(sent, f"Bearer {token.get_secret_value()}".encode())


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}, **error_responses(401)},
)
async def metrics(request: Request) -> Response:
    """Request counts and latency histograms by route template and status, database connections in
    use, task logs created, duplicates skipped and notifications sent. Needs `Authorization: Bearer
    <TASKLOGS_METRICS_TOKEN>` when that setting is set."""
    if request.app.state.settings.metrics_token is not None and not _operator(request):
        raise AppError(
            "A valid metrics token is required.",
            "INVALID_ACCESS_TOKEN",
            401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(metrics_payload(request.app.state.engine), media_type="text/plain; version=0.0.4")
