"""The rules of task logs. Single create, bulk create and edit share one path:
validate every item against the reference data, write set-based with the
database deciding duplicates, then compute the consequences (daily totals,
allocation checks and alerts, warnings) the same way for all of them."""

from bisect import bisect_left
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.allocation.service import TimeChanges, record_time_changes
from app.auth.principal import Principal
from app.core.errors import (
    AppError,
    Conflict,
    FieldError,
    Forbidden,
    InputRejected,
    NotFound,
    PayloadTooLarge,
)
from app.core.observability import count_on_commit
from app.core.settings import Settings
from app.core.sql import is_unique_violation
from app.core.timeutil import (
    LocalDay,
    hours,
    hours_minutes,
    local_day,
    local_days_touched,
    parse_utc,
    to_utc,
    utcnow,
    zone,
)
from app.locks.service import PeriodLocks
from app.reference.repository import EmployeeContext, ReferenceRepository, TaskContext
from app.tasklogs.cursors import cursor_key, decode_cursor, encode_cursor, invalid_cursor, query_scope
from app.tasklogs.history import Change, FeedCursor, change_view, history_repository
from app.tasklogs.repository import (
    InsertedLog,
    LogKey,
    NearbyLog,
    NewLog,
    TaskLogRepository,
    TaskLogRow,
    UserRange,
    task_log_repository,
)
from app.tasklogs.schemas import TaskLogBulkItem, TaskLogCreate, TaskLogUpdate
from app.timewarnings.service import keep_time_warnings

DUPLICATE_MESSAGE = "Duplicate Time Log."


@dataclass(slots=True)
class Draft:
    """A validated task log, times in UTC, ready to be written."""

    index: int
    task_id: int
    user_id: int
    project_id: int
    start_time: datetime
    end_time: datetime
    description: str
    manual_add: bool
    key: LogKey = field(init=False)  # the duplicate rule's (task, user, start)

    def __post_init__(self) -> None:
        self.key = (self.task_id, self.user_id, self.start_time)

    def row(self, author: str) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "user_id": self.user_id,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "description": self.description,
            "manual_add": self.manual_add,
            "updated_by": author,
        }

    def new_log(self) -> NewLog:
        return NewLog(self.task_id, self.user_id, self.start_time, self.end_time, self.description, self.manual_add)

    @property
    def seconds(self) -> int:
        return int((self.end_time - self.start_time).total_seconds())


class Span(Protocol):
    """Time of one employee that a write added or removed, for daily totals:
    a Draft, or a stored log's row."""

    @property
    def user_id(self) -> int: ...
    @property
    def start_time(self) -> datetime: ...
    @property
    def end_time(self) -> datetime: ...


@dataclass
class WriteResult:
    created: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    daily_totals: list[dict[str, Any]] = field(default_factory=list)
    allocation: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def effects(self) -> dict[str, Any]:
        return {"dailyTotals": self.daily_totals, "allocation": self.allocation, "warnings": self.warnings}


def task_log_view(row: TaskLogRow) -> dict[str, Any]:
    """A task log as clients see it (the TaskLogOut schema). Built by hand
    because list endpoints return tens of thousands of these; the instants
    stay datetimes, which orjson writes as ISO 8601 UTC with a Z much faster
    than formatting them here (see app/core/responses.py)."""
    seconds = int((row.end_time - row.start_time).total_seconds())
    return {
        "taskLogId": row.id,
        "taskId": row.task_id,
        "projectId": row.project_id,
        "userId": row.user_id,
        "userName": row.user_name,
        "startTime": row.start_time,
        "endTime": row.end_time,
        "durationSeconds": seconds,
        "duration": hours_minutes(seconds),
        "description": row.description,
        "manualAdd": row.manual_add,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "createdBy": row.created_by,
        "updatedBy": row.updated_by,
        "version": row.version,
    }


# ---------------------------------------------------------------- validation


@dataclass
class _Context:
    tasks: dict[int, TaskContext]
    employees: dict[int, EmployeeContext]


async def _load_context(session: AsyncSession, actor: Principal, task_ids: set[int], user_ids: set[int]) -> _Context:
    """Tasks and employees as this caller may see them: another company's are
    left out, so they answer exactly like ids that do not exist."""
    tasks, employees = await ReferenceRepository(session).write_contexts(task_ids, user_ids)
    return _Context(
        {k: v for k, v in tasks.items() if actor.sees(v.company_id)},
        {k: v for k, v in employees.items() if actor.sees(v.company_id)},
    )


def _require_may_write_for(actor: Principal, user_ids: set[int]) -> None:
    """Employees and team leaders write only their own time."""
    if not actor.acts_for_others and any(not actor.is_self(uid) for uid in user_ids):
        raise Forbidden("You may only log, edit or delete your own time.")


@dataclass(frozen=True)
class _Limits:
    """The settings' bounds on one log, worked out once per request."""

    longest: timedelta
    latest_end: datetime
    max_hours: float

    @classmethod
    def of(cls, settings: Settings) -> "_Limits":
        return cls(
            timedelta(hours=settings.max_log_hours),
            utcnow() + timedelta(seconds=settings.future_skew_seconds),
            settings.max_log_hours,
        )


# A broken rule: (field, message, error code).
Problem = tuple[str, str, str]


class _Subject(NamedTuple):
    """An item's task and its employee's time zone, once both passed their rules."""

    task: TaskContext
    zone: ZoneInfo


def _subject(user_id: int, task_id: int, ctx: _Context) -> _Subject | Problem:
    """The task and zone of items of this employee and task, or the first
    rule they break; the same for every item of the pair."""
    employee = ctx.employees.get(user_id)
    if employee is None:
        return "userId", f"Employee {user_id} does not exist.", "USER_NOT_FOUND"
    if not employee.is_active:
        return "userId", f"Employee {user_id} is inactive.", "USER_INACTIVE"
    task = ctx.tasks.get(task_id)
    if task is None:
        return "taskId", f"Task {task_id} does not exist.", "TASK_NOT_FOUND"
    if task.company_id != employee.company_id:
        return "taskId", f"Task {task_id} belongs to another company than employee {user_id}.", "COMPANY_MISMATCH"
    return _Subject(task, zone(employee.timezone))


class LogSubject(NamedTuple):
    """Where a log of one employee on one task would belong."""

    task: TaskContext
    employee: EmployeeContext
    zone: ZoneInfo


async def log_subject(session: AsyncSession, actor: Principal, task_id: int, user_id: int) -> LogSubject:
    """The task and employee of a log this caller would write for `user_id` on
    `task_id`, judged by the create's own rules (403 for another's time, 422
    as a create answers). For time that becomes a log later: running timers."""
    _require_may_write_for(actor, {user_id})
    ctx = await _load_context(session, actor, {task_id}, {user_id})
    subject = _subject(user_id, task_id, ctx)
    if not isinstance(subject, _Subject):
        field_name, problem, code = subject
        raise InputRejected([FieldError(field_name, problem, code)])
    return LogSubject(subject.task, ctx.employees[user_id], subject.zone)


def _check(index: int, fields: dict[str, Any], subject: _Subject | Problem, limits: _Limits) -> Draft | Problem:
    """One item against every rule; the first broken rule is its problem."""
    if not isinstance(subject, _Subject):
        return subject
    try:
        start = to_utc(fields["start_time"], subject.zone)
    except ValueError as exc:
        return "startTime", str(exc), "INVALID_LOCAL_TIME"
    try:
        end = to_utc(fields["end_time"], subject.zone)
    except ValueError as exc:
        return "endTime", str(exc), "INVALID_LOCAL_TIME"
    if end <= start:
        return "endTime", "endTime must be after startTime.", "VALIDATION_ERROR"
    if end - start > limits.longest:
        return "endTime", f"A task log may be at most {limits.max_hours:g} hours long.", "LOG_TOO_LONG"
    if end > limits.latest_end:
        return "endTime", "Time cannot be logged in the future.", "FUTURE_TIME"
    task = subject.task
    return Draft(
        index,
        task.task_id,
        fields["user_id"],
        task.project_id,
        start,
        end,
        fields.get("description") or "",
        bool(fields.get("manual_add")),
    )


def _check_all(
    items: Sequence[dict[str, Any]],
    ctx: _Context,
    settings: Settings,
    *,
    batch: bool,
    rejected: dict[int, FieldError] | None = None,
) -> tuple[list[Draft], dict[int, FieldError]]:
    """Every item against every rule: the drafts of the good ones, and the
    problem of each bad one (with those the caller already `rejected`) by index."""
    limits = _Limits.of(settings)
    subjects: dict[tuple[int, int], _Subject | Problem] = {}
    drafts: list[Draft] = []
    errors: dict[int, FieldError] = {}
    for index, fields in enumerate(items):
        if rejected and index in rejected:
            errors[index] = rejected[index]
            continue
        pair = (fields["user_id"], fields["task_id"])
        subject = subjects.get(pair)
        if subject is None:
            subject = subjects[pair] = _subject(*pair, ctx)
        outcome = _check(index, fields, subject, limits)
        if isinstance(outcome, Draft):
            drafts.append(outcome)
        else:
            field_name, problem, code = outcome
            errors[index] = FieldError(f"[{index}].{field_name}" if batch else field_name, problem, code)
    return drafts, errors


def _reject(errors: dict[int, FieldError], count: int, *, batch: bool) -> None:
    """All-or-nothing: every bad item is reported, in item order, and nothing is written."""
    if errors:
        message = None if not batch else f"{len(errors)} of {count} task logs are invalid; nothing was saved."
        raise InputRejected([errors[i] for i in sorted(errors)], message)


def _validate_all(items: Sequence[dict[str, Any]], ctx: _Context, settings: Settings, *, batch: bool) -> list[Draft]:
    drafts, errors = _check_all(items, ctx, settings, batch=batch)
    _reject(errors, len(items), batch=batch)
    return drafts


# ---------------------------------------------------------------- locked periods


def _zone_of(ctx: _Context, user_id: int) -> ZoneInfo:
    employee = ctx.employees.get(user_id)
    return zone(employee.timezone if employee else "UTC")


async def _locks_near(session: AsyncSession, spans: Sequence[Span]) -> PeriodLocks:
    """What locks these spans' employees near their starts: read after
    `_load_context` took the employees' write turn (see app/locks/service.py)."""
    return await PeriodLocks.near(session, [(span.user_id, span.start_time) for span in spans])


async def _refuse_locked(session: AsyncSession, ctx: _Context, spans: Sequence[Span]) -> None:
    """409 PERIOD_LOCKED if the time of any span (a log's old or new time)
    starts in a locked period: an edit may move a log neither into nor out of one."""
    locks = await _locks_near(session, spans)
    for span in spans:
        locks.refuse(span.user_id, span.start_time, _zone_of(ctx, span.user_id))


# ---------------------------------------------------------------- writes


async def create_task_logs(
    session: AsyncSession,
    settings: Settings,
    items: Sequence[dict[str, Any]],
    *,
    batch: bool,
    actor: Principal,
    rejected: dict[int, FieldError] | None = None,
    ctx: _Context | None = None,
) -> WriteResult:
    """Create task logs; duplicates (same task, user and start, stored or
    earlier in the batch) are skipped and reported with the log they repeat.
    Used by the single create (one item) and the bulk create alike.
    `rejected` are items the caller already found bad, reported with the rest;
    `ctx`, the items' tasks and employees if the caller has loaded them."""
    if len(items) > settings.bulk_max_items:
        raise PayloadTooLarge(
            f"At most {settings.bulk_max_items} task logs per request; this one has {len(items)}. "
            "Split the upload into several requests."
        )
    if not items:
        return WriteResult()
    _require_may_write_for(actor, {i["user_id"] for i in items})
    if ctx is None:
        ctx = await _load_context(session, actor, {i["task_id"] for i in items}, {i["user_id"] for i in items})
    drafts, errors = _check_all(items, ctx, settings, batch=batch, rejected=rejected)
    locks = await _locks_near(session, drafts)
    if locks.locks_anyone():
        for draft in drafts:
            refusal = locks.refusal(draft.user_id, draft.start_time, _zone_of(ctx, draft.user_id))
            if refusal is None:
                continue
            if not batch:
                raise refusal.conflict()  # a single create (or a timer's stop) is a 409, like a duplicate
            errors[draft.index] = refusal.field_error(f"[{draft.index}].startTime")
    _reject(errors, len(items), batch=batch)

    first: dict[LogKey, Draft] = {}
    skipped: list[Draft] = []  # repeats of an earlier item; below, those already stored
    for draft in drafts:
        if draft.key in first:
            skipped.append(draft)
        else:
            first[draft.key] = draft
    unique = list(first.values())
    days = _days_touched(drafts, ctx.employees, settings)
    offered = await task_log_repository(session).insert_or_find([d.new_log() for d in unique], actor.label, days.ranges)
    inserted, stored = offered.inserted, offered.stored

    result = WriteResult()
    written: list[tuple[int, Draft]] = []
    log_ids: dict[LogKey, int | None] = {}  # the log that each key names now
    for i, draft in enumerate(unique):  # in batch order
        if i in inserted:
            log_ids[draft.key] = inserted[i].id
            written.append((inserted[i].id, draft))
            result.created.append(_created_view(draft, inserted[i], ctx, actor.label))
        else:
            log_ids[draft.key] = stored.get(i)
            skipped.append(draft)
    for draft in sorted(skipped, key=lambda d: d.index):
        result.skipped.append(
            {
                "index": draft.index,
                "reason": "DUPLICATE",
                "existingTaskLogId": log_ids[draft.key],
                "taskId": draft.task_id,
                "startTime": draft.start_time,  # orjson writes it as iso_utc would
            }
        )

    count_on_commit(session, "task_logs_created", len(result.created))
    count_on_commit(session, "duplicates_skipped", len(result.skipped))
    # Days and budgets of skipped duplicates are reported too: a client
    # re-sending a batch still learns where the day and the project stand.
    # The nearby logs were read as they were before the insert; the new ones join them.
    new_logs = [NearbyLog(log_id, d.user_id, _epoch(d.start_time), _epoch(d.end_time)) for log_id, d in written]
    await _report_days(
        session,
        settings,
        result,
        days=days,
        written={log_id for log_id, _ in written},
        nearby_logs=sorted([*offered.nearby, *new_logs], key=_by_employee_and_start),
    )
    result.allocation = await record_time_changes(session, _time_of(ctx, added=written, reported=drafts))
    await history_repository(session).record(
        [
            Change(view["taskLogId"], ctx.employees[view["userId"]].company_id, "create", 1, None, view)
            for view in result.created
        ],
        actor.label,
    )
    return result


async def create_task_log(
    session: AsyncSession, settings: Settings, item: TaskLogCreate, *, actor: Principal
) -> WriteResult:
    result = await create_task_logs(session, settings, [item.model_dump(by_alias=False)], batch=False, actor=actor)
    if result.skipped:
        existing = result.skipped[0]["existingTaskLogId"]
        raise Conflict(DUPLICATE_MESSAGE, "DUPLICATE_TASK_LOG", existingTaskLogId=existing)
    return result


async def bulk_create_task_logs(
    session: AsyncSession, settings: Settings, user_id: int, items: list[TaskLogBulkItem], *, actor: Principal
) -> WriteResult:
    _require_may_write_for(actor, {user_id})
    # One look-up for the path's employee and every task of the batch.
    ctx = await _load_context(session, actor, {item.task_id for item in items}, {user_id})
    if user_id not in ctx.employees:
        raise NotFound("Employee", user_id, "USER_NOT_FOUND")
    rows = []
    mismatched: dict[int, FieldError] = {}
    for index, item in enumerate(items):
        fields = vars(item).copy()  # the fields' values by name; model_dump or dict() cost 10-40x more
        if fields["user_id"] is None:
            fields["user_id"] = user_id
        elif fields["user_id"] != user_id:
            mismatched[index] = FieldError(
                f"[{index}].userId",
                f"userId {fields['user_id']} differs from the path's user {user_id}.",
                "USER_MISMATCH",
            )
            fields["user_id"] = user_id  # judged as the path's user; the item is rejected anyway
        rows.append(fields)
    return await create_task_logs(session, settings, rows, batch=True, actor=actor, rejected=mismatched, ctx=ctx)


async def _writable_log(
    repo: TaskLogRepository, actor: Principal, log_id: int, expected_version: AbstractSet[int] | None
) -> TaskLogRow:
    """The log, locked, if this caller may change it (404 if it may not even
    see it) and it is still the version the caller last saw (If-Match)."""
    before = await repo.get_view(log_id, lock=True)
    if before is None or not actor.sees(before.company_id):
        raise NotFound("Task log", log_id, "TASK_LOG_NOT_FOUND")
    _require_may_write_for(actor, {before.user_id})
    if expected_version is not None and before.version not in expected_version:
        raise AppError(
            f"The task log is at version {before.version}, not at the one If-Match names.",
            "VERSION_CONFLICT",
            412,
            extra={"data": task_log_view(before)},
        )
    return before


async def update_task_log(
    session: AsyncSession,
    settings: Settings,
    log_id: int,
    patch: TaskLogUpdate,
    *,
    actor: Principal,
    expected_version: AbstractSet[int] | None = None,
) -> WriteResult:
    """Edit a log; it is re-validated as on create and, unless the body says
    otherwise, marked as a manual entry."""
    repo = task_log_repository(session)
    before = await _writable_log(repo, actor, log_id, expected_version)
    changes = patch.model_dump(exclude_unset=True, by_alias=False)
    changes = {k: v for k, v in changes.items() if v is not None or k == "description"}
    merged = {
        "task_id": before.task_id,
        "user_id": before.user_id,
        "start_time": before.start_time,
        "end_time": before.end_time,
        "description": before.description,
        "manual_add": True,
        **changes,
    }
    _require_may_write_for(actor, {merged["user_id"]})
    ctx = await _load_context(session, actor, {merged["task_id"], before.task_id}, {merged["user_id"], before.user_id})
    draft = _validate_all([merged], ctx, settings, batch=False)[0]
    await _refuse_locked(session, ctx, [before, draft])
    try:
        async with session.begin_nested():
            await repo.update(log_id, draft.row(actor.label))
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        existing = (await repo.ids_by_key([draft.key])).get(draft.key)
        raise Conflict(DUPLICATE_MESSAGE, "DUPLICATE_TASK_LOG", existingTaskLogId=existing) from exc
    after = await repo.get_view(log_id)
    assert after is not None  # locked by this transaction

    result = WriteResult(created=[task_log_view(after)])
    await _report_days(
        session,
        settings,
        result,
        days=_days_touched([before, draft], ctx.employees, settings),
        written={log_id},
        removed={log_id},
    )
    # The log may have moved: its old task and project lose the old time.
    result.allocation = await record_time_changes(session, _time_of(ctx, added=[(log_id, draft)], removed=[before]))
    await history_repository(session).record(
        [Change(log_id, after.company_id, "update", after.version, task_log_view(before), result.created[0])],
        actor.label,
    )
    return result


async def delete_task_log(
    session: AsyncSession,
    settings: Settings,
    log_id: int,
    *,
    actor: Principal,
    expected_version: AbstractSet[int] | None = None,
) -> WriteResult:
    """Delete a log. It stays restorable from its history for TASKLOGS_RESTORE_DAYS."""
    repo = task_log_repository(session)
    before = await _writable_log(repo, actor, log_id, expected_version)
    ctx = await _load_context(session, actor, {before.task_id}, {before.user_id})
    await _refuse_locked(session, ctx, [before])
    await repo.delete(log_id)
    result = WriteResult()
    await _report_days(
        session,
        settings,
        result,
        days=_days_touched([before], ctx.employees, settings),
        written=set(),
        removed={log_id},
    )
    result.allocation = await record_time_changes(session, _time_of(ctx, removed=[before]))
    await history_repository(session).record(
        [Change(log_id, before.company_id, "delete", before.version + 1, task_log_view(before), None)], actor.label
    )
    return result


async def restore_task_log(session: AsyncSession, settings: Settings, log_id: int, *, actor: Principal) -> WriteResult:
    """Bring a deleted log back from its history, unless a new log has taken
    its (task, employee, start) meanwhile. Admins and keys only."""
    repo = task_log_repository(session)
    deleted = await history_repository(session).last_delete(log_id, utcnow() - timedelta(days=settings.restore_days))
    if deleted is None or deleted.before is None or not actor.sees(deleted.company_id):
        raise NotFound("Deleted task log", log_id, "TASK_LOG_NOT_FOUND")
    if not actor.acts_for_others:
        raise Forbidden("Only admins may restore task logs.")
    image = deleted.before
    ctx = await _load_context(session, actor, {image["taskId"]}, {image["userId"]})
    if image["taskId"] not in ctx.tasks or image["userId"] not in ctx.employees:
        raise Conflict("The log's task or employee no longer exists.", "CANNOT_RESTORE")
    if ctx.tasks[image["taskId"]].company_id != ctx.employees[image["userId"]].company_id:
        # The employee moved to another company since the delete (a deleted
        # log does not hold them back): a log belongs to one company.
        raise Conflict("The log's employee now belongs to another company than its task.", "CANNOT_RESTORE")
    draft = Draft(
        0,
        image["taskId"],
        image["userId"],
        ctx.tasks[image["taskId"]].project_id,
        parse_utc(image["startTime"]),
        parse_utc(image["endTime"]),
        image["description"],
        image["manualAdd"],
    )
    await _refuse_locked(session, ctx, [draft])
    try:
        async with session.begin_nested():
            await repo.restore(
                {
                    **draft.row(actor.label),
                    "id": log_id,
                    "created_by": image["createdBy"],
                    "created_at": parse_utc(image["createdAt"]),
                    "version": deleted.version + 1,
                }
            )
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        existing = (await repo.ids_by_key([draft.key])).get(draft.key)
        raise Conflict(
            "A new log has taken this log's task, employee and start time.",
            "DUPLICATE_TASK_LOG",
            existingTaskLogId=existing,
        ) from exc
    restored = await repo.get_view(log_id)
    assert restored is not None  # inserted by this transaction
    after = task_log_view(restored)
    result = WriteResult(created=[after])
    await _report_days(
        session,
        settings,
        result,
        days=_days_touched([draft], ctx.employees, settings),
        written={log_id},
    )
    result.allocation = await record_time_changes(session, _time_of(ctx, added=[(log_id, draft)]))
    await history_repository(session).record(
        [Change(log_id, deleted.company_id, "restore", after["version"], None, after)], actor.label
    )
    return result


# ---------------------------------------------------------------- effects


def _time_of(
    ctx: _Context,
    *,
    added: Sequence[tuple[int, Draft]] = (),
    removed: Sequence[TaskLogRow] = (),
    reported: Sequence[Draft] = (),
) -> TimeChanges:
    """Seconds a write adds and removes on the budgets (projects and tasks
    with an allocation) of the tasks in `ctx`; `reported` budgets change by
    nothing but are answered on (a re-sent batch still learns where its
    project stands)."""
    time = TimeChanges()
    for task_id in {d.task_id for d in reported}:
        time.add(ctx.tasks[task_id], 0)
    for log_id, draft in added:
        time.add(ctx.tasks[draft.task_id], draft.seconds, log_id)
    for row in removed:
        # A task this caller can no longer see (moved to another company)
        # keeps no total of this company's: nothing to move.
        if row.task_id in ctx.tasks:
            time.add(ctx.tasks[row.task_id], -int((row.end_time - row.start_time).total_seconds()))
    return time


class _DaysTouched(NamedTuple):
    """The local days a write touched, by (employee, day), and for each of
    its employees the range in which every log with time in those days
    starts: the nearby logs that the day totals and the overlap check read.
    `employees` are the ones whose zones drew the days."""

    windows: dict[tuple[int, date], LocalDay]
    ranges: list[UserRange]
    employees: dict[int, EmployeeContext]


def _days_touched(spans: Sequence[Span], employees: dict[int, EmployeeContext], settings: Settings) -> _DaysTouched:
    windows: dict[tuple[int, date], LocalDay] = {}
    latest: dict[int, LocalDay] = {}  # by employee, the day their last span ended in
    for span in spans:
        last = latest.get(span.user_id)
        if last is not None and last.start <= span.start_time and span.end_time <= last.end:
            continue  # the same day as the span before, as most logs of a batch are: no zone arithmetic
        tz = zone(employees[span.user_id].timezone if span.user_id in employees else "UTC")
        for touched in local_days_touched(span.start_time, span.end_time, tz):
            last = windows.get((span.user_id, touched))
            if last is None:
                last = windows[(span.user_id, touched)] = local_day(touched, tz)
        if last is not None:
            latest[span.user_id] = last
    longest_log = timedelta(hours=settings.max_log_hours)
    # One read serves the day totals and the overlap check. No log is longer
    # than longest_log, so every log with time in a touched day, or
    # overlapping a written log (which lies in those days), starts at most
    # that long before the first of the employee's touched days.
    ranges: dict[int, tuple[datetime, datetime]] = {}
    for (user_id, _), bounds in windows.items():
        lo, hi = ranges.get(user_id, (bounds.start, bounds.end))
        ranges[user_id] = (min(lo, bounds.start), max(hi, bounds.end))
    ranges_of_logs = [UserRange(user_id, lo - longest_log, hi) for user_id, (lo, hi) in ranges.items()]
    return _DaysTouched(windows, ranges_of_logs, employees)


async def _report_days(
    session: AsyncSession,
    settings: Settings,
    result: WriteResult,
    *,
    days: _DaysTouched,
    written: set[int],
    removed: AbstractSet[int] = frozenset(),
    nearby_logs: Sequence[NearbyLog] | None = None,
) -> None:
    """Daily totals of every local day the write touched, and its warnings
    (overlaps, long days), into `result`; the same for every kind of write.
    `written` are the ids of the logs created or edited (checked for
    overlaps), `removed` those whose old time an edit or delete took away.
    `nearby_logs` are the logs in `days.ranges` (sorted by employee and
    start) when the caller has them already; they are read here otherwise.
    Writes only the stored time warnings that change (`keep_time_warnings`)."""
    windows = days.windows
    if not windows:
        return
    if nearby_logs is None:
        nearby_logs = await task_log_repository(session).logs_starting_between(days.ranges)
    nearby = LogsByEmployee(nearby_logs)
    totals = {
        key: nearby.seconds_in(key[0], _epoch(bounds.start), _epoch(bounds.end)) for key, bounds in windows.items()
    }
    # The written logs are among the nearby ones: they lie in the touched days.
    overlaps = sorted(nearby.overlaps_of(written))
    for log_id, other_id in overlaps:
        result.warnings.append({"code": "OVERLAPPING_LOG", "taskLogId": log_id, "overlapsTaskLogId": other_id})
    await keep_time_warnings(
        session, settings, totals=totals, overlaps=overlaps, logs=nearby.logs, employees=days.employees, removed=removed
    )
    for user_id, day in sorted(windows):
        seconds = totals.get((user_id, day), 0)
        result.daily_totals.append(
            {
                "userId": user_id,
                "date": day.isoformat(),
                "totalSeconds": seconds,
                "totalHours": hours(seconds),
                "totalTime": hours_minutes(seconds),
            }
        )
        if seconds > settings.max_daily_hours * 3600:
            result.warnings.append(
                {
                    "code": "DAILY_HOURS_EXCEEDED",
                    "userId": user_id,
                    "date": day.isoformat(),
                    "totalHours": hours(seconds),
                    "limitHours": settings.max_daily_hours,
                }
            )


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def _by_employee_and_start(log: NearbyLog) -> tuple[int, int]:
    return log.user_id, log.start


class LogsByEmployee:
    """Stored logs near a write (instants in whole seconds since 1970, as
    times are kept), by employee and start, answering what the day totals
    and the overlap check ask. Same rules as the reports' SQL: intervals are
    half-open, and a log counts in a day only for its part inside it.

    A log with time in [a, b) starts after a minus its own length, so each
    scan starts at a minus the longest log the employee has here. That is
    the length of their real logs (two hours, say), not the longest a log
    may be: a scan passes a few logs instead of a whole day's."""

    def __init__(self, logs: Sequence[NearbyLog]) -> None:
        self.logs: dict[int, list[NearbyLog]] = {}
        for log in logs:  # sorted by employee and start
            self.logs.setdefault(log.user_id, []).append(log)
        self.starts = {user_id: [log.start for log in logs] for user_id, logs in self.logs.items()}
        self.longest = {user_id: max(log.end - log.start for log in logs) for user_id, logs in self.logs.items()}

    def seconds_in(self, user_id: int, day_start: int, day_end: int) -> int:
        """Seconds of the employee's logs inside [day_start, day_end)."""
        logs = self.logs.get(user_id)
        if logs is None:
            return 0
        seconds = 0
        for i in range(bisect_left(self.starts[user_id], day_start - self.longest[user_id]), len(logs)):
            log = logs[i]
            if log.start >= day_end:
                break
            if log.end > day_start:
                seconds += min(log.end, day_end) - max(log.start, day_start)
        return seconds

    def overlaps_of(self, log_ids: set[int]) -> list[tuple[int, int]]:
        """(log, other log) for each of these logs, which are among the
        stored ones, and each other log of its employee that overlaps it
        (touching end to start is no overlap)."""
        pairs = []
        for user_id, logs in self.logs.items():
            starts, longest = self.starts[user_id], self.longest[user_id]
            for log in logs:
                if log.id not in log_ids:
                    continue
                for i in range(bisect_left(starts, log.start - longest), len(logs)):
                    other = logs[i]
                    if other.start >= log.end:
                        break
                    if other.end > log.start and other.id != log.id:
                        pairs.append((log.id, other.id))
        return pairs


def _created_view(draft: Draft, inserted: InsertedLog, ctx: _Context, author: str) -> dict[str, Any]:
    """task_log_view of a log just inserted, from what the write already knows (no re-read)."""
    employee = ctx.employees[draft.user_id]
    return task_log_view(
        TaskLogRow(
            id=inserted.id,
            task_id=draft.task_id,
            project_id=draft.project_id,
            user_id=draft.user_id,
            user_name=employee.name,
            start_time=draft.start_time,
            end_time=draft.end_time,
            description=draft.description,
            manual_add=draft.manual_add,
            created_at=inserted.created_at,
            updated_at=inserted.updated_at,
            created_by=author,
            updated_by=author,
            version=1,
            company_id=employee.company_id,
        )
    )


# ---------------------------------------------------------------- reads


async def get_task_log(session: AsyncSession, log_id: int, *, actor: Principal) -> dict[str, Any]:
    row = await task_log_repository(session).get_view(log_id)
    if row is None or not actor.sees(row.company_id):
        raise NotFound("Task log", log_id, "TASK_LOG_NOT_FOUND")
    if not actor.reads_company_logs and not actor.is_self(row.user_id):
        raise Forbidden("You may only read your own task logs.")
    return task_log_view(row)


@dataclass
class TaskLogPage:
    logs: list[dict[str, Any]]
    count: int
    total_seconds: int
    page: int | None = None
    page_size: int | None = None


async def list_task_logs(
    session: AsyncSession,
    task_id: int,
    page: int | None,
    page_size: int | None,
    *,
    actor: Principal,
    unpaged_max: int = 10_000,
) -> TaskLogPage:
    """A task's logs, oldest first, with a summary over all of them. Paged
    only when the client asks for a page or a page size. Employees see only
    their own logs (and a summary of those); leaders and admins see all.
    Unpaged, at most `unpaged_max` logs: a task with more is a 422
    TOO_MANY_RESULTS, never a silently cut list."""
    task = (await ReferenceRepository(session).task_contexts({task_id})).get(task_id)
    if task is None or not actor.sees(task.company_id):
        raise NotFound("Task", task_id, "TASK_NOT_FOUND")
    only_user = None if actor.reads_company_logs else actor.employee_id
    repo = task_log_repository(session)
    if page is not None or page_size is not None:
        page, page_size = page or 1, page_size or 50
        rows = await repo.list_for_task(task_id, (page - 1) * page_size, page_size, user_id=only_user)
        count, seconds = await repo.task_summary(task_id, user_id=only_user)
        return TaskLogPage([task_log_view(r) for r in rows], count, seconds, page, page_size)
    # One row more than allowed tells "too many" without counting them all.
    rows = await repo.list_for_task(task_id, 0, unpaged_max + 1, user_id=only_user)
    if len(rows) > unpaged_max:
        raise InputRejected(
            [
                FieldError(
                    "page",
                    f"Task {task_id} has more than {unpaged_max} logs: ask for them with page and page_size, "
                    f"or page through GET /tasklogs/?taskId={task_id}.",
                    "TOO_MANY_RESULTS",
                )
            ]
        )
    logs = [task_log_view(r) for r in rows]
    # The whole list is here: its summary needs no second query.
    return TaskLogPage(logs, len(logs), sum(log["durationSeconds"] for log in logs))


async def task_log_history(
    session: AsyncSession, settings: Settings, log_id: int, *, actor: Principal, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The changes of a log, oldest first (also after it was deleted), at
    most `limit` after the position `cursor` holds, and the cursor of the
    next page (None on the last). For the log's owner, and for admins and
    keys of its company. The cursors are signed like the search's and bound
    to the log: altered, or given to another log's history, they are 422."""
    repo = history_repository(session)
    latest = await repo.latest_of_log(log_id)
    if latest is None or not actor.sees(latest.company_id):
        raise NotFound("Task log", log_id, "TASK_LOG_NOT_FOUND")
    owner = (latest.after or latest.before or {}).get("userId")
    if not actor.acts_for_others and not (owner is not None and actor.is_self(owner)):
        raise Forbidden("Only the log's owner and admins may read its history.")
    key, scope = cursor_key(settings), query_scope(history_of=log_id)
    start = FeedCursor(0, 0) if cursor is None else _history_position(decode_cursor(key, scope, cursor))
    changes = await repo.page_of_log(log_id, start, limit + 1)
    if len(changes) <= limit:
        return [change_view(c) for c in changes], None
    last = FeedCursor.of(changes[limit - 1])
    return [change_view(c) for c in changes[:limit]], encode_cursor(key, scope, [last.xid, last.seq])


def _history_position(position: list[Any]) -> FeedCursor:
    """The (xid, seq) a history cursor holds; its signature is already checked."""
    if len(position) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in position):
        raise invalid_cursor("Not a cursor of this history: start again without a cursor.")
    return FeedCursor(*position)


async def change_feed(
    session: AsyncSession, cursor: str | None, limit: int, *, actor: Principal
) -> tuple[list[dict[str, Any]], str]:
    """Creates, edits, deletes and restores in commit order after `cursor`;
    returns them and the cursor to ask with next (the same one when nothing
    is new). For services and admins; a company's callers see its changes."""
    if not actor.acts_for_others:
        raise Forbidden("The change feed is for admins and services.")
    after = FeedCursor.parse(cursor)
    company = None if actor.is_platform else actor.company_id
    changes = await history_repository(session).feed(after, limit, company)
    return [change_view(c) for c in changes], str(FeedCursor.of(changes[-1]) if changes else after)
