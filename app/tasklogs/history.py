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

from sqlalchemy import BigInteger, Integer, String, insert, literal, select, true, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.observability import request_id_var
from app.core.sql import rows_table
from app.core.timeutil import iso_utc
from app.models import ChangeClock, TaskLogChange

_CHANGE_COLUMNS = [("task_log_id", BigInteger()), ("company_id", BigInteger()), ("action", String()),
                   ("version", Integer()), ("before", JSONB()), ("after", JSONB())]


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
        request_id = request_id_var.get()
        count = len(changes)
        bump = update(ChangeClock).where(ChangeClock.id == 1).values(seq=ChangeClock.seq + count)
        if self.session.get_bind().dialect.name == "sqlite":
            # SQLite has no data-modifying WITH; its writers are serialized anyway.
            last = (await self.session.execute(bump.returning(ChangeClock.seq))).scalar_one()
            await self.session.execute(insert(TaskLogChange), [
                {"seq": last - count + 1 + i, "task_log_id": c.task_log_id, "company_id": c.company_id,
                 "action": c.action, "version": c.version, "actor": actor, "request_id": request_id,
                 "before": c.before, "after": c.after}
                for i, c in enumerate(changes)
            ])
            return
        # One statement bumps the clock and appends the changes, so the clock
        # row, which every writer needs, is held for one round trip and the commit.
        clock = bump.returning((ChangeClock.seq - count).label("base")).cte("clock")
        src = rows_table(self.session, "c", _CHANGE_COLUMNS, [
            (c.task_log_id, c.company_id, c.action, c.version, c.before, c.after) for c in changes
        ])
        rows = select(
            clock.c.base + src.c.n, src.c.task_log_id, src.c.company_id, src.c.action, src.c.version,
            literal(actor, String()), literal(request_id, String()), src.c.before, src.c.after,
        ).select_from(clock).join(src, true())
        await self.session.execute(
            insert(TaskLogChange.__table__).from_select(
                ["seq", "task_log_id", "company_id", "action", "version", "actor", "request_id", "before", "after"],
                rows,
            ).add_cte(clock)
        )

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
