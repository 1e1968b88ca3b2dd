"""The rules of webhook subscriptions: who may manage them, where they may
point, their secrets, and their deliveries as their owners see them.

Company admins (and company keys) manage their company's subscriptions;
platform keys any company's (naming it with `companyId`); employees and team
leaders none (403). Another company's subscription does not exist for the
caller (404)."""

import base64
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.cursors import cursor_number
from app.core.errors import Conflict, FieldError, Forbidden, InputRejected, NotFound
from app.core.settings import Settings
from app.core.timeutil import utcnow
from app.events.outbox import NewEvent, record_events
from app.models import Company, Webhook
from app.webhooks.repository import DeliveryRow, webhook_repository
from app.webhooks.schemas import WebhookCreate, WebhookUpdate
from app.webhooks.signing import SECRET_PREFIX
from app.webhooks.urls import check_webhook_url

# After a rotation the old secret signs beside the new one this long.
PREVIOUS_SECRET_HOURS = 24


def new_secret() -> str:
    """`whsec_` and the base64 of 32 random bytes (the Standard Webhooks form)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_view(webhook: Webhook) -> dict[str, Any]:
    """A subscription as its owner sees it (never its secret)."""
    return {
        "webhookId": webhook.id,
        "companyId": webhook.company_id,
        "url": webhook.url,
        "events": webhook.events,
        "description": webhook.description,
        "enabled": webhook.enabled,
        "createdAt": webhook.created_at,
        "updatedAt": webhook.updated_at,
        "failingSince": webhook.failing_since,
    }


def delivery_view(row: DeliveryRow) -> dict[str, Any]:
    return {
        "eventId": row.event_id,
        "type": row.type,
        "status": row.status,
        "attempts": row.attempts,
        "lastAttemptAt": row.last_attempt_at,
        "nextAttemptAt": row.next_attempt_at if row.status == "pending" else None,
        "lastStatusCode": row.last_status_code,
        "lastError": row.last_error,
        "createdAt": row.created_at,
    }


def _require_manager(actor: Principal) -> None:
    if not actor.acts_for_others:
        raise Forbidden("Only company admins and service keys manage webhooks.")


async def _company_of_new(session: AsyncSession, actor: Principal, company_id: int | None) -> int:
    """The company a new subscription is for."""
    if not actor.is_platform:
        if company_id is not None and company_id != actor.company_id:
            raise Forbidden("You may only subscribe to your own company's events.")
        assert actor.company_id is not None  # admins and company keys belong to one
        return actor.company_id
    if company_id is None:
        raise InputRejected([FieldError("companyId", "A platform key names the company (companyId).", "REQUIRED")])
    if await session.get(Company, company_id) is None:
        raise NotFound("Company", company_id, "COMPANY_NOT_FOUND")
    return company_id


async def _owned(session: AsyncSession, actor: Principal, webhook_id: int) -> Webhook:
    _require_manager(actor)
    webhook = await webhook_repository(session).get(webhook_id)
    if webhook is None or not actor.sees(webhook.company_id):
        raise NotFound("Webhook", webhook_id, "WEBHOOK_NOT_FOUND")
    return webhook


async def create_webhook(
    session: AsyncSession, settings: Settings, body: WebhookCreate, *, actor: Principal
) -> dict[str, Any]:
    """A new subscription, enabled, with its secret (shown only in this answer)."""
    _require_manager(actor)
    company_id = await _company_of_new(session, actor, body.company_id)
    await check_webhook_url(body.url, settings)
    secret = new_secret()
    webhook = await webhook_repository(session).add(
        Webhook(
            company_id=company_id,
            url=body.url,
            events=body.events,
            description=body.description,
            enabled=True,
            secret=secret,
        )
    )
    return {**webhook_view(webhook), "secret": secret}


async def list_webhooks(session: AsyncSession, *, actor: Principal) -> list[dict[str, Any]]:
    _require_manager(actor)
    company = None if actor.is_platform else actor.company_id
    return [webhook_view(w) for w in await webhook_repository(session).of_company(company)]


async def get_webhook(session: AsyncSession, webhook_id: int, *, actor: Principal) -> dict[str, Any]:
    return webhook_view(await _owned(session, actor, webhook_id))


async def update_webhook(
    session: AsyncSession, settings: Settings, webhook_id: int, body: WebhookUpdate, *, actor: Principal
) -> dict[str, Any]:
    """Change the URL, the event types, the description, or pause/resume."""
    webhook = await _owned(session, actor, webhook_id)
    changes = body.model_dump(exclude_unset=True, by_alias=False)
    for name in ("url", "events", "enabled"):
        if name in changes and changes[name] is None:
            raise InputRejected([FieldError(name, f"{name} cannot be null.", "VALIDATION_ERROR")])
    if "url" in changes:
        await check_webhook_url(changes["url"], settings)
    if changes.get("enabled") and not webhook.enabled:
        webhook.failing_since = None  # resumed: its failures start counting anew
    for name, value in changes.items():
        setattr(webhook, name, value)
    webhook.updated_at = utcnow()
    return webhook_view(await webhook_repository(session).save(webhook))


async def delete_webhook(session: AsyncSession, webhook_id: int, *, actor: Principal) -> None:
    """Remove the subscription and its deliveries (pending ones are never sent)."""
    await webhook_repository(session).remove(await _owned(session, actor, webhook_id))


async def rotate_secret(session: AsyncSession, webhook_id: int, *, actor: Principal) -> dict[str, Any]:
    """A new secret; the old one signs beside it for PREVIOUS_SECRET_HOURS,
    so receivers can switch without missing a delivery."""
    webhook = await _owned(session, actor, webhook_id)
    secret = new_secret()
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = utcnow() + timedelta(hours=PREVIOUS_SECRET_HOURS)
    webhook.secret = secret
    webhook.updated_at = utcnow()
    return {**webhook_view(await webhook_repository(session).save(webhook)), "secret": secret}


async def send_test_event(session: AsyncSession, webhook_id: int, *, actor: Principal) -> dict[str, Any]:
    """Queue a `webhook.test` event for this subscription only."""
    webhook = await _owned(session, actor, webhook_id)
    data = {"webhookId": webhook.id, "message": "A test event from Task Logs."}
    [event_id] = await record_events(session, [NewEvent("webhook.test", webhook.company_id, data, webhook.id)])
    return {"eventId": event_id, "type": "webhook.test"}


async def list_deliveries(
    session: AsyncSession,
    webhook_id: int,
    status: str | None,
    limit: int,
    cursor: str | None,
    *,
    actor: Principal,
) -> tuple[list[dict[str, Any]], str | None]:
    """The subscription's deliveries, newest first, and the next page's cursor."""
    await _owned(session, actor, webhook_id)
    # The cursor is the last delivery's id; longer than 18 digits it never was one.
    before = None if cursor is None else cursor_number(cursor, max_digits=18)
    rows = await webhook_repository(session).deliveries(webhook_id, status, limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    return [delivery_view(r) for r in rows], str(rows[-1].delivery_id) if more else None


async def retry_delivery(session: AsyncSession, webhook_id: int, event_id: str, *, actor: Principal) -> dict[str, Any]:
    """Queue a failed delivery again, with a fresh retry schedule."""
    await _owned(session, actor, webhook_id)
    repo = webhook_repository(session)
    delivery = await repo.delivery_of_event(webhook_id, event_id)
    if delivery is None:
        raise NotFound("Delivery of event", event_id, "DELIVERY_NOT_FOUND")
    if delivery.status != "failed":
        raise Conflict(f"The delivery is {delivery.status}; only a failed one is retried.", "DELIVERY_NOT_FAILED")
    await repo.requeue(delivery, utcnow())
    return delivery_view(await repo.delivery_view(delivery.id))
