"""Reading and acknowledging notifications (they are written by the
allocation checks, inside the transaction of the write that caused them)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.errors import Forbidden, NotFound
from app.core.timeutil import iso_utc
from app.models import Notification
from app.notifications.repository import NotificationRepository
from app.reference.repository import ReferenceRepository


def notification_view(n: Notification) -> dict[str, Any]:
    return {
        "notificationId": n.id,
        "recipientId": n.recipient_id,
        "category": n.category,
        "type": n.type,
        "title": n.title,
        "message": n.message,
        "payload": n.payload,
        "read": n.read,
        "createdAt": iso_utc(n.created_at),
    }


async def _require_reader(session: AsyncSession, actor: Principal, recipient_id: int, what: NotFound) -> None:
    """Everyone reads only their own notifications; platform keys read all.
    Another company's employee is a 404, as if unknown."""
    employee = (await ReferenceRepository(session).employee_contexts({recipient_id})).get(recipient_id)
    if employee is None or not actor.sees(employee.company_id):
        raise what
    if not actor.is_platform and not actor.is_self(recipient_id):
        raise Forbidden("You may only read your own notifications.")


async def list_notifications(
    session: AsyncSession, recipient_id: int, read: bool | None, page: int, page_size: int, *, actor: Principal
) -> tuple[list[dict[str, Any]], int]:
    await _require_reader(session, actor, recipient_id, NotFound("Employee", recipient_id, "USER_NOT_FOUND"))
    rows, total = await NotificationRepository(session).page_for(recipient_id, read, (page - 1) * page_size, page_size)
    return [notification_view(n) for n in rows], total


async def mark_read(session: AsyncSession, notification_id: int, *, actor: Principal) -> dict[str, Any]:
    repo = NotificationRepository(session)
    missing = NotFound("Notification", notification_id, "NOTIFICATION_NOT_FOUND")
    recipient_id = await repo.recipient_of(notification_id)
    if recipient_id is None:
        raise missing
    await _require_reader(session, actor, recipient_id, missing)
    row = await repo.mark_read(notification_id)
    if row is None:
        raise missing
    return notification_view(row)


async def mark_all_read(session: AsyncSession, recipient_id: int, *, actor: Principal) -> int:
    await _require_reader(session, actor, recipient_id, NotFound("Employee", recipient_id, "USER_NOT_FOUND"))
    return await NotificationRepository(session).mark_all_read(recipient_id)


async def unread_count(session: AsyncSession, recipient_id: int, *, actor: Principal) -> int:
    await _require_reader(session, actor, recipient_id, NotFound("Employee", recipient_id, "USER_NOT_FOUND"))
    return await NotificationRepository(session).unread_count(recipient_id)
