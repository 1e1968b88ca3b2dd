"""Notification endpoints on Dyzo's paths."""

from typing import Annotated

from fastapi import Path, Query

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, error_responses
from app.notifications import service
from app.notifications.schemas import MarkedCountAnswer, NotificationAnswer, NotificationPage, UnreadCountAnswer

router = Router(tags=["Notifications"], responses=AUTH_ERRORS)
EmployeeId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get(
    "/notifications/recipient/{recipient_id}/",
    operation_id="list_notifications",
    summary="List an employee's notifications",
    response_model=NotificationPage,
    responses=error_responses(404, 422),
)
async def list_notifications(
    recipient_id: EmployeeId,
    session: Session,
    actor: Actor,
    read: Annotated[bool | None, Query(description="true: only read ones; false: only unread ones")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> EnvelopeResponse:
    """Newest first, 10 per page unless `page_size` says otherwise."""
    data, total = await service.list_notifications(session, recipient_id, read, page, page_size, actor=actor)
    return ok("Notifications", data, pagination={"page": page, "pageSize": page_size, "total": total})


@router.patch(
    "/api/notifications/read/{notification_id}/",
    operation_id="mark_notification_read",
    summary="Mark a notification as read",
    response_model=NotificationAnswer,
    responses=error_responses(404, 422),
)
async def mark_notification_read(notification_id: EmployeeId, session: Session, actor: Actor) -> EnvelopeResponse:
    """Mark one of your notifications as read; answers the notification."""
    return ok("Notification marked as read", await service.mark_read(session, notification_id, actor=actor))


@router.post(
    "/mark_notifications_as_read/{user_id}/",
    operation_id="mark_all_notifications_read",
    summary="Mark all of an employee's notifications as read",
    response_model=MarkedCountAnswer,
    responses=error_responses(404, 422),
)
async def mark_all_notifications_read(user_id: EmployeeId, session: Session, actor: Actor) -> EnvelopeResponse:
    """Mark all of your unread notifications as read; answers how many changed."""
    return ok("Notifications marked as read", {"updated": await service.mark_all_read(session, user_id, actor=actor)})


@router.get(
    "/notifications/unread-count/{user_id}/",
    operation_id="unread_notification_count",
    summary="Count an employee's unread notifications",
    response_model=UnreadCountAnswer,
    responses=error_responses(404, 422),
)
async def unread_notification_count(user_id: EmployeeId, session: Session, actor: Actor) -> EnvelopeResponse:
    """How many of your notifications are unread (for a badge)."""
    return ok("Unread notifications", {"unreadCount": await service.unread_count(session, user_id, actor=actor)})
