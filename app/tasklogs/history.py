"""The history of task logs, which is also the change feed for other services.

Commit order: the writer takes its `seq` numbers by bumping the single
change_clock row as the *last* statement of its transaction. That row stays
locked until the commit, so a later writer gets later numbers only after the
earlier one has committed (or rolled back, freeing its numbers). A reader
that has seen `seq` N therefore never sees a change below N appear later:
the cursor neither skips nor repeats, even with many writers."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, Integer, String, Table, bindparam, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.observability import request_id_var
from app.core.sql import RowsTable, dialect_of, prebuilt
from app.core.timeutil import iso_utc
from app.models import ChangeClock, TaskLogChange

_CHANGES = cast(Table, TaskLogChange.__table__)
_CLOCK = cast(Table, ChangeClock.__table__)
CHANGES = RowsTable("c", [("task_log_id", BigInteger()), ("company_id", BigInteger()), ("action", String()),
                          ("version", Integer()), ("before", JSON()), ("after", JSON())])


def _bump(dialect: str) -> Any:
    """Take `count` numbers off the clock; returns the last one."""
    return (
        update(_CLOCK).where(_CLOCK.c.id == 1)
        .values(seq=_CLOCK.c.seq + bindparam("count", type_=BigInteger())).returning(_CLOCK.c.seq)
    )


def _bump_and_append(dialect: str) -> Any:
    clock = _bump(dialect).cte("clock")
    src = CHANGES.source(dialect, [])
    rows = select(
        clock.c.seq - bindparam("count", type_=BigInteger()) + src.c.n, src.c.task_log_id, src.c.company_id,
        src.c.action, src.c.version, bindparam("actor", type_=String()), bindparam("request_id", type_=String()),
        src.c.before, src.c.after,
    ).select_from(clock).join(src, true())
    names = ["seq", "task_log_id", "company_id", "action", "version", "actor", "request_id", "before", "after"]
    return insert(_CHANGES).from_select(names, rows).add_cte(clock)


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
        rows = [(c.task_log_id, c.company_id, c.action, c.version, c.before, c.after) for c in changes]
        params = {"count": len(changes), "actor": actor, "request_id": request_id_var.get()}
        if dialect_of(self.session) == "sqlite":
            # SQLite has no data-modifying WITH; its writers take turns anyway.
            last = (await self.session.execute(prebuilt(self.session, "history.bump", _bump), params)).scalar_one()
            first = last - len(changes) + 1
            await self.session.execute(
                prebuilt(self.session, "history.append", lambda d: insert(_CHANGES)),
                [{"seq": first + i, "task_log_id": t, "company_id": co, "action": a, "version": v,
                  "actor": actor, "request_id": params["request_id"], "before": b, "after": af}
                 for i, (t, co, a, v, b, af) in enumerate(rows)],
            )
            return
        # One statement bumps the clock and appends the changes, so the clock
        # row, which every writer needs, is held for one round trip and the commit.
        stmt = prebuilt(self.session, "history.record", _bump_and_append)
        await self.session.execute(stmt, {**params, **CHANGES.params("postgresql", rows)})

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
