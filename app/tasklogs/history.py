"""The history of task logs, which is also the change feed for other services.

Commit order: the writer takes its `seq` numbers by bumping the single
change_clock row as the *last* statement of its transaction. That row stays
locked until the commit, so a later writer gets later numbers only after the
earlier one has committed (or rolled back, freeing its numbers). A reader
that has seen `seq` N therefore never sees a change below N appear later:
the cursor neither skips nor repeats, even with many writers."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.observability import request_id_var
from app.core.timeutil import iso_utc
from app.models import ChangeClock, TaskLogChange


@dataclass
class Change:
    task_log_id: int
    company_id: int
    action: str  # create | update | delete | restore
    version: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class HistoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, changes: list[Change], actor: str) -> None:
        """Append the changes; call last in the transaction (see module doc)."""
        if not changes:
            return
        bump = (
            update(ChangeClock).where(ChangeClock.id == 1)
            .values(seq=ChangeClock.seq + len(changes)).returning(ChangeClock.seq)
        )
        last = (await self.session.execute(bump)).scalar_one()
        first = last - len(changes) + 1
        request_id = request_id_var.get()
        await self.session.execute(insert(TaskLogChange), [
            {"seq": first + i, "task_log_id": c.task_log_id, "company_id": c.company_id, "action": c.action,
             "version": c.version, "actor": actor, "request_id": request_id, "before": c.before, "after": c.after}
            for i, c in enumerate(changes)
        ])

    async def of_log(self, task_log_id: int) -> list[TaskLogChange]:
        stmt = select(TaskLogChange).where(TaskLogChange.task_log_id == task_log_id).order_by(TaskLogChange.seq)
        return list((await self.session.scalars(stmt)).all())

    async def last_delete(self, task_log_id: int, since: datetime) -> TaskLogChange | None:
        """The log's deletion, if that is its last change and happened after `since`."""
        stmt = (
            select(TaskLogChange).where(TaskLogChange.task_log_id == task_log_id)
            .order_by(TaskLogChange.seq.desc()).limit(1)
        )
        last = (await self.session.scalars(stmt)).first()
        if last is None or last.action != "delete" or last.at < since:
            return None
        return last

    async def feed(self, after_seq: int, limit: int, company_id: int | None) -> list[TaskLogChange]:
        stmt = select(TaskLogChange).where(TaskLogChange.seq > after_seq)
        if company_id is not None:
            stmt = stmt.where(TaskLogChange.company_id == company_id)
        stmt = stmt.order_by(TaskLogChange.seq).limit(limit)
        return list((await self.session.scalars(stmt)).all())


def change_view(change: TaskLogChange) -> dict[str, Any]:
    return {
        "cursor": str(change.seq),
        "taskLogId": change.task_log_id,
        "action": change.action,
        "version": change.version,
        "actor": change.actor,
        "requestId": change.request_id,
        "at": iso_utc(change.at),
        "before": change.before,
        "after": change.after,
    }
