"""The rules of running timers. A timer is a task log in the making: it is
started on a task by one employee, at most one runs per employee (the
database decides, see TimerRepository.start), and stopping it creates its
log through the task log create itself (`app.tasklogs.service`), in the same
transaction that removes the timer: a stop whose log is refused (a
duplicate, a bad time) leaves the timer running.

The order of locks: every write of an employee's time locks the employee's
row first (`ReferenceRepository.write_contexts`), and a timer's write locks
the timer's row only after it. A start with `stopRunning` locks the
employee, then the timer it stops; a stop, an edit or a discard that locked
the timer first, then the employee (in the stop's create), would deadlock
with it, and PostgreSQL would roll one back as a 503 (seen under mixed
concurrent load, 2026-12-05)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.core.errors import Conflict, FieldError, Forbidden, InputRejected, NotFound
from app.core.settings import Settings
from app.core.timeutil import to_utc, utcnow, zone
from app.events.outbox import event_of, record_events
from app.locks.service import PeriodLocks
from app.reference.repository import ReferenceRepository
from app.tasklogs import service as tasklogs
from app.tasklogs.schemas import TaskLogCreate
from app.timers.repository import TimerRepository, TimerRow
from app.timers.schemas import TimerEdit, TimerStart, TimerStop


def timer_view(timer: TimerRow, now: datetime) -> dict[str, Any]:
    """A running timer as clients see it (TimerOut)."""
    return {
        "timerId": timer.id,
        "taskId": timer.task_id,
        "projectId": timer.project_id,
        "userId": timer.user_id,
        "description": timer.description,
        "startTime": timer.start_time,
        "elapsedSeconds": max(0, int((now - timer.start_time).total_seconds())),
        "running": True,
    }


@dataclass
class StopResult:
    """A stopped timer: the log its stop created (as a create answers) and the timer."""

    log: tasklogs.WriteResult
    timer: dict[str, Any]

    @property
    def task_log(self) -> dict[str, Any]:
        """The log the stop created, as a create answers it."""
        return self.log.created[0]


@dataclass
class StartResult:
    timer: dict[str, Any]
    stopped: StopResult | None = None

    def stopped_view(self) -> dict[str, Any] | None:
        """The answer's `stopped` (StoppedTimer) after `stopRunning`: the log
        the stop created, the stopped timer, and the log's daily totals,
        allocation and warnings; None when no timer was running."""
        if self.stopped is None:
            return None
        return {"taskLog": self.stopped.task_log, "timer": self.stopped.timer} | self.stopped.log.effects()


def _now() -> datetime:
    return utcnow().replace(microsecond=0)  # times are kept to the second


def _instant(value: datetime, tz: ZoneInfo, field: str, settings: Settings) -> datetime:
    """A start or stop time in UTC, by the log rules: an offset or the
    employee's wall time, and not in the future beyond the allowed skew."""
    try:
        instant = to_utc(value, tz)
    except ValueError as exc:
        raise InputRejected([FieldError(field, str(exc), "INVALID_LOCAL_TIME")]) from exc
    if instant > utcnow() + timedelta(seconds=settings.future_skew_seconds):
        raise InputRejected([FieldError(field, "A timer cannot start or stop in the future.", "FUTURE_TIME")])
    return instant


def _require_controls(actor: Principal, user_id: int, company_id: int, missing: NotFound) -> None:
    """Employees and team leaders control their own timer; admins and keys
    their company's; another company's timer does not exist for the caller."""
    if not actor.sees(company_id):
        raise missing
    if not actor.acts_for_others and not actor.is_self(user_id):
        raise Forbidden("You may only see and control your own timer.")


async def _employee_in_reach(session: AsyncSession, actor: Principal, user_id: int, *, writing: bool) -> None:
    """The employee exists for the caller, who controls their timer.
    `writing`: their row is locked as every write of their time locks it."""
    references = ReferenceRepository(session)
    if writing:
        _, employees = await references.write_contexts(set(), {user_id})
        employee = employees.get(user_id)
    else:
        employee = await references.employee_context(user_id)
    missing = NotFound("Employee", user_id, "USER_NOT_FOUND")
    if employee is None:
        raise missing
    _require_controls(actor, user_id, employee.company_id, missing)


async def start_timer(session: AsyncSession, settings: Settings, body: TimerStart, *, actor: Principal) -> StartResult:
    """Start the employee's timer (the caller's own unless an admin or key
    names another). 409 TIMER_ALREADY_RUNNING, with the running timer, if
    theirs runs, unless `stopRunning`: then it is stopped at the new start,
    its log created, and the new one started, all in this transaction."""
    user_id = body.user_id if body.user_id is not None else actor.employee_id
    if user_id is None:
        raise InputRejected([FieldError("userId", "A key must name the employee whose timer starts.", "REQUIRED")])
    subject = await tasklogs.log_subject(session, actor, body.task_id, user_id)
    start = _now() if body.start_time is None else _instant(body.start_time, subject.zone, "startTime", settings)
    # Its log would start then: a timer cannot run in a locked period (it could never stop).
    (await PeriodLocks.near(session, [(user_id, start)])).refuse(user_id, start, subject.zone)
    repo = TimerRepository(session)
    stopped = None
    if body.stop_running:
        running = await repo.running_of(user_id, lock=True)
        if running is not None:
            stopped = await _stop(session, settings, running, start, None, actor=actor)
    timer_id = await repo.start(user_id, body.task_id, start, body.description or "", actor.label)
    if timer_id is None:
        running = await repo.running_of(user_id)
        raise Conflict(
            f"Employee {user_id} already has a running timer; stop it first, or start with stopRunning: true.",
            "TIMER_ALREADY_RUNNING",
            data=None if running is None else timer_view(running, _now()),
        )
    description = body.description or ""
    employee = subject.employee
    started = TimerRow(
        timer_id,
        user_id,
        body.task_id,
        subject.task.project_id,
        start,
        description,
        employee.company_id,
        employee.timezone,
    )
    view = timer_view(started, _now())
    await record_events(session, [event_of("timer.started", employee.company_id, view)])
    return StartResult(view, stopped)


async def current_timer(session: AsyncSession, user_id: int, *, actor: Principal) -> dict[str, Any] | None:
    """The employee's running timer, or None."""
    await _employee_in_reach(session, actor, user_id, writing=False)
    running = await TimerRepository(session).running_of(user_id)
    return None if running is None else timer_view(running, _now())


async def stop_timer(
    session: AsyncSession, settings: Settings, user_id: int, body: TimerStop, *, actor: Principal
) -> StopResult:
    """Stop the employee's running timer (404 NO_RUNNING_TIMER if none): its
    log is created exactly as `POST /tasklog/create/` would create it."""
    await _employee_in_reach(session, actor, user_id, writing=True)
    running = await TimerRepository(session).running_of(user_id, lock=True)
    if running is None:
        raise NotFound("Running timer of employee", user_id, "NO_RUNNING_TIMER")
    end = _now() if body.end_time is None else body.end_time
    return await _stop(session, settings, running, end, body.description, actor=actor)


async def _stop(
    session: AsyncSession,
    settings: Settings,
    timer: TimerRow,
    end: datetime,
    description: str | None,
    *,
    actor: Principal,
) -> StopResult:
    """Create the timer's log through the task log create, then remove the
    timer. A timer that ran longer than a log may be is stopped at its start
    + TASKLOGS_MAX_LOG_HOURS, with the warning TIMER_CAPPED."""
    try:
        end = to_utc(end, zone(timer.timezone))
    except ValueError as exc:
        raise InputRejected([FieldError("endTime", str(exc), "INVALID_LOCAL_TIME")]) from exc
    longest = timedelta(hours=settings.max_log_hours)
    capped = end - timer.start_time > longest
    if capped:
        end = timer.start_time + longest
    item = TaskLogCreate(
        task_id=timer.task_id,
        user_id=timer.user_id,
        start_time=timer.start_time,
        end_time=end,
        description=timer.description if description is None else description,
        manual_add=False,
    )
    # The create's own rules, duplicate check and consequences; a refusal
    # raises before the timer is removed, and rolls the request back.
    result = await tasklogs.create_task_log(session, settings, item, actor=actor)
    await TimerRepository(session).remove(timer.id)
    log = result.created[0]
    if capped:
        result.warnings.append(
            {
                "code": "TIMER_CAPPED",
                "timerId": timer.id,
                "taskLogId": log["taskLogId"],
                "limitHours": settings.max_log_hours,
            }
        )
    stopped = timer_view(timer, end) | {
        "description": log["description"],
        "running": False,
        "endTime": end,
        "taskLogId": log["taskLogId"],
    }
    await record_events(session, [event_of("timer.stopped", timer.company_id, stopped)])
    return StopResult(result, stopped)


async def _controlled_timer(session: AsyncSession, timer_id: int, actor: Principal) -> TimerRow:
    """The running timer, locked for a change by this caller. Its employee's
    row is locked first (see the module's note on the order of locks); the
    timer may have stopped while this waited."""
    repo = TimerRepository(session)
    missing = NotFound("Running timer", timer_id, "TIMER_NOT_FOUND")
    whose = await repo.get(timer_id)
    if whose is None:
        raise missing
    _require_controls(actor, whose.user_id, whose.company_id, missing)
    await ReferenceRepository(session).write_contexts(set(), {whose.user_id})  # the employee's write turn
    timer = await repo.get(timer_id, lock=True)
    if timer is None:
        raise missing
    return timer


async def edit_timer(
    session: AsyncSession, settings: Settings, timer_id: int, body: TimerEdit, *, actor: Principal
) -> dict[str, Any]:
    """Change the task, description or start of a running timer; a new task
    must pass the same rules as on start."""
    timer = await _controlled_timer(session, timer_id, actor)
    changes = body.model_dump(exclude_unset=True, by_alias=False)
    values: dict[str, Any] = {}
    if changes.get("task_id") is not None:
        await tasklogs.log_subject(session, actor, changes["task_id"], timer.user_id)
        values["task_id"] = changes["task_id"]
    if "description" in changes:
        values["description"] = changes["description"] or ""
    if changes.get("start_time") is not None:
        tz = zone(timer.timezone)
        values["start_time"] = _instant(changes["start_time"], tz, "startTime", settings)
        # A courtesy: the stop would be refused anyway (its create checks the locks).
        (await PeriodLocks.near(session, [(timer.user_id, values["start_time"])])).refuse(
            timer.user_id, values["start_time"], tz
        )
    repo = TimerRepository(session)
    if values:
        await repo.change(timer_id, values)
    edited = await repo.get(timer_id)
    assert edited is not None  # locked by this transaction
    return timer_view(edited, _now())


async def discard_timer(session: AsyncSession, timer_id: int, *, actor: Principal) -> dict[str, Any]:
    """Throw a running timer away without creating a log."""
    timer = await _controlled_timer(session, timer_id, actor)
    await TimerRepository(session).remove(timer_id)
    discarded = timer_view(timer, _now()) | {"running": False}
    await record_events(session, [event_of("timer.discarded", timer.company_id, discarded)])
    return discarded


@dataclass
class TimerPage:
    timers: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


async def list_timers(
    session: AsyncSession, company_id: int | None, page: int, page_size: int, *, actor: Principal
) -> TimerPage:
    """Running timers: a company's for its admins and keys (their own
    company by default), every company's (or one's) for platform keys, and
    employees' and team leaders' own."""
    if company_id is not None and not actor.sees(company_id):
        raise NotFound("Company", company_id, "COMPANY_NOT_FOUND")
    if not actor.is_platform:
        company_id = actor.company_id
    only_user = None if actor.acts_for_others else actor.employee_id
    rows, total = await TimerRepository(session).page(company_id, only_user, (page - 1) * page_size, page_size)
    now = _now()
    return TimerPage([timer_view(r, now) for r in rows], total, page, page_size)
