from typing import Any

from pydantic import Field

from app.core.schemas import ApiModel, Envelope, UtcTimestamp


class NotificationOut(ApiModel):
    notification_id: int
    recipient_id: int
    category: str = Field(examples=["project"])
    type: str = Field(examples=["PROJECT_ALLOCATION_EXCEEDED"])
    title: str
    message: str
    payload: dict[str, Any]
    read: bool
    created_at: UtcTimestamp


class NotificationPage(ApiModel):
    status: int = 1
    message: str
    data: list[NotificationOut]
    pagination: dict[str, int] = Field(examples=[{"page": 1, "pageSize": 10, "total": 3}])


class NotificationAnswer(Envelope[NotificationOut]):
    pass


class UnreadCount(ApiModel):
    unread_count: int


class UnreadCountAnswer(Envelope[UnreadCount]):
    pass


class MarkedCount(ApiModel):
    updated: int = Field(description="How many notifications were marked as read.")


class MarkedCountAnswer(Envelope[MarkedCount]):
    pass
