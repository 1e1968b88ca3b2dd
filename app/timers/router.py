"""Running timer endpoints: start, see, edit, discard and stop (which creates the task log)."""

from typing import Annotated, Any

from fastapi import Body, Path, Query

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, error_responses
from app.core.settings import AppSettings
from app.tasklogs.router import with_etag
from app.timers import service
from app.timers.schemas import (
    CurrentTimerAnswer,
    TimerAnswer,
    TimerEdit,
    TimerListAnswer,
    TimerStart,
    TimerStartAnswer,
    TimerStop,
    TimerStopAnswer,
)

router = Router(tags=["Timers"], responses=AUTH_ERRORS)

UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The employee whose timer it is.", examples=[10])]
TimerId = Annotated[int, Path(alias="timerId", ge=1, le=MAX_ID, examples=[1])]

# The demo company's (`tasklogs demo`): employee 10's timer (timer 1) runs, employee 11's does not.
START_EXAMPLES: dict[str, Any] = {
    "now": {
        "summary": "Start a timer now (an employee's own token may leave out userId)",
        "value": {"taskId": 253, "userId": 11, "description": "Offline sync"},
    },
    "forEmployee": {
        "summary": "An admin starts an employee's timer at a local time",
        "value": {"taskId": 253, "userId": 11, "startTime": "2024-10-29T09:00:00"},
    },
    "switch": {
        "summary": "Switch task: stop the running timer (creating its log) and start this one",
        "value": {"taskId": 251, "userId": 10, "stopRunning": True},
    },
}
STOP_EXAMPLES: dict[str, Any] = {
    "now": {"summary": "Stop now", "value": {}},
    "described": {
        "summary": "Stop now with a final description (an `endTime` stops it earlier)",
        "value": {"description": "Login page done"},
    },
}
EDIT_EXAMPLES: dict[str, Any] = {
    "task": {"summary": "Move the timer to another task", "value": {"taskId": 251}},
    "describe": {"summary": "Say what it is for", "value": {"description": "Login page and session expiry"}},
}


@router.post(
    "/timers/start/",
    operation_id="start_timer",
    summary="Start a timer",
    response_model=TimerStartAnswer,
    responses=error_responses(409, 422),
)
async def start_timer(
    body: Annotated[TimerStart, Body(openapi_examples=START_EXAMPLES)],
    session: Session,
    settings: AppSettings,
    actor: Actor,
) -> EnvelopeResponse:
    """Start a timer on a task, for the caller (or, for admins and keys, for `userId`). An employee has at most
    one running timer: starting another is 409 `TIMER_ALREADY_RUNNING` with the running one in `data`, unless
    `stopRunning: true`, which stops it first (its log is created, ending at the new start)."""
    result = await service.start_timer(session, settings, body, actor=actor)
    return ok("Timer started", result.timer, stopped=result.stopped_view())


@router.get(
    "/timers/current/{user_id}/",
    operation_id="get_current_timer",
    summary="The employee's running timer",
    response_model=CurrentTimerAnswer,
    responses=error_responses(404, 422),
)
async def get_current_timer(user_id: UserId, session: Session, actor: Actor) -> EnvelopeResponse:
    """The employee's running timer, or `data: null` when none runs. Employees and team leaders ask for their
    own; admins and keys for anyone of their company."""
    timer = await service.current_timer(session, user_id, actor=actor)
    return ok("Running timer" if timer else "No running timer", timer)


@router.post(
    "/timers/stop/{user_id}/",
    operation_id="stop_timer",
    summary="Stop the running timer (creates its task log)",
    response_model=TimerStopAnswer,
    responses=error_responses(404, 409, 422),
)
async def stop_timer(
    user_id: UserId,
    body: Annotated[TimerStop, Body(openapi_examples=STOP_EXAMPLES)],
    session: Session,
    settings: AppSettings,
    actor: Actor,
) -> EnvelopeResponse:
    """Stop the employee's timer and create its task log exactly as `POST /tasklog/create/` does (same rules,
    duplicate check, daily totals, allocation and alert, warnings, history), answering like it, with the stopped
    timer in `timer`. A timer longer than `TASKLOGS_MAX_LOG_HOURS` stops at its start + that maximum (warning
    `TIMER_CAPPED`). If the log is refused (e.g. 409 `DUPLICATE_TASK_LOG`), the timer keeps running.
    404 `NO_RUNNING_TIMER` when none runs."""
    result = await service.stop_timer(session, settings, user_id, body, actor=actor)
    log = result.task_log
    return with_etag(ok("Timer stopped", log, timer=result.timer, **result.log.effects()), log)


@router.patch(
    "/timers/{timerId}/",
    operation_id="edit_timer",
    summary="Edit the running timer",
    response_model=TimerAnswer,
    responses=error_responses(404, 422),
)
async def edit_timer(
    timer_id: TimerId,
    body: Annotated[TimerEdit, Body(openapi_examples=EDIT_EXAMPLES)],
    session: Session,
    settings: AppSettings,
    actor: Actor,
) -> EnvelopeResponse:
    """Change `taskId`, `description` or `startTime` of a running timer. 404 `TIMER_NOT_FOUND` once stopped."""
    return ok("Timer updated", await service.edit_timer(session, settings, timer_id, body, actor=actor))


@router.delete(
    "/timers/{timerId}/",
    operation_id="discard_timer",
    summary="Discard the running timer",
    response_model=TimerAnswer,
    responses=error_responses(404, 422),
)
async def discard_timer(timer_id: TimerId, session: Session, actor: Actor) -> EnvelopeResponse:
    """Throw the running timer away without creating a log; answers the discarded timer."""
    return ok("Timer discarded", await service.discard_timer(session, timer_id, actor=actor))


@router.get(
    "/timers/",
    operation_id="list_timers",
    summary="Running timers",
    response_model=TimerListAnswer,
    responses=error_responses(404, 422),
)
async def list_timers(
    session: Session,
    settings: AppSettings,
    actor: Actor,
    company_id: Annotated[
        int | None,
        Query(
            alias="companyId",
            ge=1,
            le=MAX_ID,
            description="The company (default: the caller's; platform keys: every company).",
            examples=[1],
        ),
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, examples=[1])] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=10_000, description="At most TASKLOGS_MAX_PAGE_SIZE.", examples=[50])
    ] = 50,
) -> EnvelopeResponse:
    """Running timers, longest-running first: a company's for its admins and keys, every company's for
    platform keys; employees and team leaders get their own. Another company's `companyId` is a 404."""
    page_size = min(page_size, settings.max_page_size)
    result = await service.list_timers(session, company_id, page, page_size, actor=actor)
    pagination = {"page": result.page, "pageSize": result.page_size, "total": result.total}
    return ok("Running timers", result.timers, pagination=pagination)
