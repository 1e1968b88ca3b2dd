"""Persistence of notifications."""

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Notification


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(Notification), rows)

    async def page_for(self, recipient_id: int, read: bool | None, offset: int, limit: int) -> tuple[list[Any], int]:
        where = [Notification.recipient_id == recipient_id]
        if read is not None:
            where.append(Notification.read.is_(read))
        total = await self.session.scalar(select(func.count()).select_from(Notification).where(*where))
        stmt = select(Notification).where(*where).order_by(Notification.id.desc()).offset(offset).limit(limit)
        return list((await self.session.scalars(stmt)).all()), int(total or 0)

    async def recipient_of(self, notification_id: int) -> int | None:
        return await self.session.scalar(select(Notification.recipient_id).where(Notification.id == notification_id))

    async def mark_read(self, notification_id: int) -> Notification | None:
        stmt = update(Notification).where(Notification.id == notification_id).values(read=True).returning(Notification)
        return (await self.session.scalars(stmt)).one_or_none()

    async def mark_all_read(self, recipient_id: int) -> int:
        stmt = (
            update(Notification)
            .where(Notification.recipient_id == recipient_id, Notification.read.is_(False))
            .values(read=True)
        )
        result = await self.session.execute(stmt)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def unread_count(self, recipient_id: int) -> int:
        stmt = (
            select(func.count())
            .select_from(Notification)
            .where(Notification.recipient_id == recipient_id, Notification.read.is_(False))
        )
        return int(await self.session.scalar(stmt) or 0)
