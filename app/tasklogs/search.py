"""The rules of finding task logs: `GET /tasklogs/` (keyset pages with signed
cursors) and `GET /tasklogs/export/` (the same query streamed in batches).

What a caller may see is decided here, before any SQL: an employee only their
own logs (asking for other employees gives an empty list, not a 403, so a
client can send the same query for everyone), team leaders, admins and
company keys their company, platform keys everything. Ids of another company
simply match nothing."""

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.principal import Principal
from app.core.errors import FieldError, InputRejected
from app.core.settings import Settings
from app.core.timeutil import local_day, zone
from app.reference.repository import ReferenceRepository
from app.tasklogs.cursors import cursor_key, decode_cursor, encode_cursor, invalid_cursor, query_scope
from app.tasklogs.repository import KeysetPosition, LogSearch, TaskLogRow, task_log_repository

# Rows per statement of an export: each batch is its own keyset query, so
# memory stays that of two batches (the one sent, the one read ahead)
# however long the export. Each batch also has a fixed cost (a session, a
# statement, a chunk of the response): 2,500 exported 1M logs 1.02-1.10x
# as fast as the bench's floor, where 1,000 made 0.86-0.91x, for a peak of
# 28 MB over the process's resting size instead of 12 (bench/RESULTS.md).
EXPORT_BATCH = 2500

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class LogFilters:
    """The filters as the client sent them (times still text)."""

    employee_ids: list[int] | None = None
    project_ids: list[int] | None = None
    task_ids: list[int] | None = None
    start: str | None = None  # `from`
    end: str | None = None  # `to`
    timezone: str | None = None
    manual_add: bool | None = None
    text: str | None = None
    updated_since: str | None = None
    descending: bool = False


def _ids(ids: list[int] | None) -> tuple[int, ...] | None:
    return None if ids is None else tuple(sorted(set(ids)))


class _Instants:
    """Reads `from`, `to` and `updatedSince`: an instant with an offset, or a
    date meaning its local midnight in the query's zone (looked up once,
    only when a date is given)."""

    def __init__(self, session: AsyncSession, filters: LogFilters, actor: Principal) -> None:
        self.session, self.filters, self.actor = session, filters, actor
        self._zone: Any = None

    async def zone(self) -> Any:
        if self._zone is None:
            name = self.filters.timezone
            if name is None and not self.actor.is_platform and self.actor.company_id is not None:
                name = await ReferenceRepository(self.session).company_timezone(self.actor.company_id)
            self._zone = zone(name) if name else UTC
        return self._zone

    async def read(self, field: str, value: str | None) -> datetime | None:
        if value is None:
            return None
        if _DATE.fullmatch(value):
            try:
                return local_day(date.fromisoformat(value), await self.zone()).start
            except (ValueError, OverflowError) as exc:
                raise InputRejected([FieldError(field, f"{value!r} is not a date.", "INVALID_TIME")]) from exc
        try:
            instant = datetime.fromisoformat(value)
            if instant.tzinfo is not None:
                return instant.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
        raise InputRejected(
            [
                FieldError(
                    field,
                    "An ISO 8601 instant with an offset (2024-10-01T00:00:00Z) or a date (2024-10-01).",
                    "INVALID_TIME",
                )
            ]
        )


async def resolve_search(
    session: AsyncSession, settings: Settings, filters: LogFilters, *, actor: Principal
) -> LogSearch:
    """The filters with the caller's access applied and times as UTC instants."""
    if filters.timezone is not None:
        try:
            zone(filters.timezone)
        except ValueError as exc:
            raise InputRejected([FieldError("timezone", str(exc), "INVALID_TIMEZONE")]) from exc
    instants = _Instants(session, filters, actor)
    start = await instants.read("from", filters.start)
    end = await instants.read("to", filters.end)
    if filters.text is not None and any(ord(c) < 32 for c in filters.text):
        raise InputRejected([FieldError("q", "No control characters.", "INVALID_TEXT")])
    if start is not None and end is not None and end <= start:
        raise InputRejected([FieldError("to", "`to` must be after `from`.", "INVALID_RANGE")])
    employee_ids = _ids(filters.employee_ids)
    company_id = None if actor.is_platform else actor.company_id
    if not actor.reads_company_logs:
        me = actor.employee_id
        # Their own logs only: anyone else's ids match nothing.
        employee_ids = (me,) if me is not None and (employee_ids is None or me in employee_ids) else ()
    if not actor.is_platform and company_id is None:
        employee_ids = ()
    longest = timedelta(hours=max(settings.max_log_hours, 24))
    return LogSearch(
        employee_ids=employee_ids,
        project_ids=_ids(filters.project_ids),
        task_ids=_ids(filters.task_ids),
        company_id=company_id,
        start=start,
        end=end,
        starts_after=None if start is None or start - datetime.min.replace(tzinfo=UTC) <= longest else start - longest,
        manual_add=filters.manual_add,
        text=filters.text,
        updated_since=await instants.read("updatedSince", filters.updated_since),
        descending=filters.descending,
    )


def _scope(search: LogSearch) -> str:
    return query_scope(**asdict(search))


def _position(cursor: list[Any]) -> KeysetPosition:
    if len(cursor) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in cursor):
        raise invalid_cursor()
    seconds, log_id = cursor
    try:
        return KeysetPosition(datetime.fromtimestamp(seconds, UTC), log_id)
    except (OverflowError, OSError, ValueError) as exc:
        raise invalid_cursor() from exc


@dataclass
class LogPage:
    rows: list[TaskLogRow]
    next_cursor: str | None


async def search_task_logs(
    session: AsyncSession,
    settings: Settings,
    filters: LogFilters,
    limit: int,
    cursor: str | None,
    *,
    actor: Principal,
) -> LogPage:
    """One page of the logs matching the filters, in start order, and the
    cursor of the next page (None on the last). One query of limit + 1 rows:
    the extra row only says whether there is a next page."""
    search = await resolve_search(session, settings, filters, actor=actor)
    key, scope = cursor_key(settings), _scope(search)
    after = None if cursor is None else _position(decode_cursor(key, scope, cursor))
    rows = await task_log_repository(session).search(search, after, limit + 1)
    if len(rows) <= limit:
        return LogPage(rows, None)
    last = rows[limit - 1]
    return LogPage(rows[:limit], encode_cursor(key, scope, [int(last.start_time.timestamp()), last.id]))


async def plan_export(session: AsyncSession, settings: Settings, filters: LogFilters, *, actor: Principal) -> LogSearch:
    """The export's query, refused before anything is streamed: `from` and
    `to` are required, at most TASKLOGS_EXPORT_MAX_DAYS apart."""
    missing = [
        FieldError(name, f"`{name}` is required for an export.", "MISSING_FIELD")
        for name, value in (("from", filters.start), ("to", filters.end))
        if value is None
    ]
    if missing:
        raise InputRejected(missing)
    search = await resolve_search(session, settings, filters, actor=actor)
    assert search.start is not None and search.end is not None
    if search.end - search.start > timedelta(days=settings.export_max_days):
        raise InputRejected(
            [
                FieldError(
                    "to",
                    f"An export covers at most {settings.export_max_days} days: split it into several.",
                    "EXPORT_TOO_LONG",
                )
            ]
        )
    return search


async def export_rows(
    sessionmaker: async_sessionmaker[AsyncSession], search: LogSearch, batch: int = EXPORT_BATCH
) -> AsyncIterator[list[TaskLogRow]]:
    """Every log of the search in order, a batch at a time, each batch its
    own short session and keyset query (no connection is held while the
    client reads). The next batch is read while the caller formats and
    sends this one, so the database and the service work at the same time;
    at most two batches are held."""

    async def batch_after(after: KeysetPosition | None) -> list[TaskLogRow]:
        async with sessionmaker() as session:
            return await task_log_repository(session).search(search, after, batch)

    reading = asyncio.ensure_future(batch_after(None))
    try:
        while True:
            rows = await reading
            if len(rows) < batch:
                if rows:
                    yield rows
                return
            reading = asyncio.ensure_future(batch_after(KeysetPosition(rows[-1].start_time, rows[-1].id)))
            yield rows
    finally:
        # The client went away (or the stream failed): the read ahead is not wanted.
        if not reading.done():
            reading.cancel()
            with suppress(asyncio.CancelledError):
                await reading
