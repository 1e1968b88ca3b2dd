"""Webhook subscriptions and their deliveries."""

from typing import Annotated, Any

from fastapi import Path, Query

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, error_responses
from app.core.settings import AppSettings
from app.webhooks import service
from app.webhooks.schemas import (
    DeliveryAnswer,
    DeliveryPage,
    DeliveryStatus,
    QueuedEventAnswer,
    WebhookAnswer,
    WebhookCreate,
    WebhookList,
    WebhookSecretAnswer,
    WebhookUpdate,
)

router = Router(tags=["Webhooks"], responses=AUTH_ERRORS)
ERRORS: dict[int | str, dict[str, Any]] = error_responses(404, 422)
# The demo company's subscription (`tasklogs demo`): webhook 1, paused.
WebhookId = Annotated[int, Path(alias="webhookId", ge=1, le=MAX_ID, examples=[1])]


@router.post(
    "/webhooks/",
    operation_id="create_webhook",
    summary="Subscribe a URL to events",
    response_model=WebhookSecretAnswer,
    responses=ERRORS,
)
async def create_webhook(
    body: WebhookCreate, session: Session, actor: Actor, settings: AppSettings
) -> EnvelopeResponse:
    """Events of your company (a platform key names one with `companyId`) are POSTed to `url`, signed
    (Standard Webhooks). `events` lists event types, or `["*"]` for all. The answer's `secret` is shown
    only here. The URL must be `https://` and must not resolve to a private, loopback, link-local or
    metadata address (422 `WEBHOOK_URL_FORBIDDEN`)."""
    return ok("Webhook created", await service.create_webhook(session, settings, body, actor=actor))


@router.get(
    "/webhooks/",
    operation_id="list_webhooks",
    summary="List webhook subscriptions",
    response_model=WebhookList,
)
async def list_webhooks(session: Session, actor: Actor) -> EnvelopeResponse:
    """Your company's subscriptions (every company's with a platform key), without their secrets."""
    return ok("Webhooks", await service.list_webhooks(session, actor=actor))


@router.get(
    "/webhooks/{webhookId}/",
    operation_id="get_webhook",
    summary="Get a webhook subscription",
    response_model=WebhookAnswer,
    responses=ERRORS,
)
async def get_webhook(webhook_id: WebhookId, session: Session, actor: Actor) -> EnvelopeResponse:
    """One subscription, without its secret."""
    return ok("Webhook", await service.get_webhook(session, webhook_id, actor=actor))


@router.patch(
    "/webhooks/{webhookId}/",
    operation_id="update_webhook",
    summary="Change a webhook subscription",
    response_model=WebhookAnswer,
    responses=ERRORS,
)
async def update_webhook(
    webhook_id: WebhookId, body: WebhookUpdate, session: Session, actor: Actor, settings: AppSettings
) -> EnvelopeResponse:
    """Change `url`, `events`, `description`, or `enabled` (false pauses deliveries; events meanwhile
    are not queued for it)."""
    return ok("Webhook updated", await service.update_webhook(session, settings, webhook_id, body, actor=actor))


@router.delete(
    "/webhooks/{webhookId}/",
    operation_id="delete_webhook",
    summary="Delete a webhook subscription",
    responses=ERRORS,
)
async def delete_webhook(webhook_id: WebhookId, session: Session, actor: Actor) -> EnvelopeResponse:
    """Remove the subscription and its deliveries."""
    await service.delete_webhook(session, webhook_id, actor=actor)
    return ok("Webhook deleted", {"webhookId": webhook_id})


@router.post(
    "/webhooks/{webhookId}/rotate-secret/",
    operation_id="rotate_webhook_secret",
    summary="Rotate a webhook's signing secret",
    response_model=WebhookSecretAnswer,
    responses=ERRORS,
)
async def rotate_webhook_secret(webhook_id: WebhookId, session: Session, actor: Actor) -> EnvelopeResponse:
    """A new secret, shown only here. For 24 hours deliveries carry two signatures, with the old
    secret and the new one, so a receiver can switch without missing one."""
    return ok("Webhook secret rotated", await service.rotate_secret(session, webhook_id, actor=actor))


@router.post(
    "/webhooks/{webhookId}/test/",
    operation_id="test_webhook",
    summary="Send a test event",
    response_model=QueuedEventAnswer,
    responses=ERRORS,
)
async def test_webhook(webhook_id: WebhookId, session: Session, actor: Actor) -> EnvelopeResponse:
    """Queue a `webhook.test` event for this subscription only; follow it in its deliveries."""
    return ok("Test event queued", await service.send_test_event(session, webhook_id, actor=actor))


@router.get(
    "/webhooks/{webhookId}/deliveries/",
    operation_id="list_webhook_deliveries",
    summary="List a webhook's deliveries",
    response_model=DeliveryPage,
    responses=ERRORS,
)
async def list_webhook_deliveries(
    webhook_id: WebhookId,
    session: Session,
    actor: Actor,
    status: Annotated[DeliveryStatus | None, Query(description="Only deliveries in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=32, description="The `nextCursor` of the previous page; omit for the newest.")
    ] = None,
) -> EnvelopeResponse:
    """Each event sent (or to be sent) to this subscription, newest first."""
    data, next_cursor = await service.list_deliveries(session, webhook_id, status, limit, cursor, actor=actor)
    return ok("Webhook deliveries", data, nextCursor=next_cursor)


@router.post(
    "/webhooks/{webhookId}/deliveries/{eventId}/retry/",
    operation_id="retry_webhook_delivery",
    summary="Retry a failed delivery",
    response_model=DeliveryAnswer,
    responses=error_responses(404, 409, 422),
)
async def retry_webhook_delivery(
    webhook_id: WebhookId,
    event_id: Annotated[str, Path(alias="eventId", max_length=40, examples=["evt_2b0d6f4c1e5a4f0c9d8e7f6a5b4c3d2e"])],
    session: Session,
    actor: Actor,
) -> EnvelopeResponse:
    """Queue a failed delivery again, with a fresh retry schedule (409 `DELIVERY_NOT_FAILED` otherwise)."""
    return ok("Delivery queued again", await service.retry_delivery(session, webhook_id, event_id, actor=actor))
