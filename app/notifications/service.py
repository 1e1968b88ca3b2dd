"""Reading and acknowledging notifications (they are written by the
allocation checks, inside the transaction of the write that caused them)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.timeutil import iso_utc
from app.models import Notification
from app.notifications.repository import NotificationRepository


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


async def list_notifications(
    session: AsyncSession, recipient_id: int, read: bool | None, page: int, page_size: int
) -> tuple[list[dict[str, Any]], int]:
    rows, total = await NotificationRepository(session).page_for(recipient_id, read, (page - 1) * page_size,
                                                                 page_size)
    return [notification_view(n) for n in rows], total


async def mark_read(session: AsyncSession, notification_id: int) -> dict[str, Any]:
    row = await NotificationRepository(session).mark_read(notification_id)
    if row is None:
        raise NotFound("Notification", notification_id, "NOTIFICATION_NOT_FOUND")
    return notification_view(row)


async def mark_all_read(session: AsyncSession, recipient_id: int) -> int:
    return await NotificationRepository(session).mark_all_read(recipient_id)


async def unread_count(session: AsyncSession, recipient_id: int) -> int:
    return await NotificationRepository(session).unread_count(recipient_id)
