"""Task log endpoints, on the Dyzo paths (with and without trailing slash)."""

from typing import Annotated, Any

from fastapi import Body, Path, Query

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, error_responses
from app.core.settings import AppSettings
from app.core.timeutil import hours_minutes
from app.tasklogs import service
from app.tasklogs.schemas import (
    BulkAnswer,
    DeleteAnswer,
    TaskLogAnswer,
    TaskLogBulkItem,
    TaskLogCreate,
    TaskLogsAnswer,
    TaskLogUpdate,
    TaskLogWriteAnswer,
)

router = Router(tags=["Task logs"], responses=AUTH_ERRORS)

# The Dyzo documentation's own request examples, offered in the Swagger UI.
CREATE_EXAMPLES: dict[str, Any] = {
    "dyzo": {
        "summary": "Dyzo's example (snake_case, UTC)",
        "value": {"task_id": 250, "employee_id": 10, "start_time": "2024-10-29T09:00:00Z",
                  "end_time": "2024-10-29T10:30:00Z", "description": "Worked on authentication"},
    },
    "camelCase": {
        "summary": "camelCase, local wall time (read in the employee's time zone)",
        "value": {"taskId": 250, "userId": 10, "startTime": "2024-10-29T11:00:00",
                  "endTime": "2024-10-29T12:15:00", "description": "Manual entry", "manualAdd": True},
    },
}
BULK_EXAMPLES: dict[str, Any] = {
    "dyzo": {
        "summary": "Dyzo's example: three logs of one day",
        "value": [
            {"taskId": 250, "userId": 10, "startTime": "2024-10-29T09:00:00Z", "endTime": "2024-10-29T10:30:00Z",
             "description": "Worked on authentication module", "manualAdd": False},
            {"taskId": 251, "userId": 10, "startTime": "2024-10-29T10:30:00Z", "endTime": "2024-10-29T12:00:00Z",
             "description": "Code review and testing", "manualAdd": False},
            {"taskId": 252, "userId": 10, "startTime": "2024-10-29T13:00:00Z", "endTime": "2024-10-29T15:30:00Z",
             "description": "Bug fixes and optimization", "manualAdd": False},
        ],
    },
}
UPDATE_EXAMPLES: dict[str, Any] = {
    "dyzo": {
        "summary": "Dyzo's example",
        "value": {"startTime": "2024-10-29T09:00:00Z", "endTime": "2024-10-29T11:00:00Z",
                  "description": "Research and planning", "taskId": 250, "userId": 10},
    },
    "description": {"summary": "Only the description", "value": {"description": "Pairing on login"}},
}
LogId = Annotated[int, Path(alias="taskLogId", ge=1, le=MAX_ID)]


@router.post(
    "/tasklog/create/", operation_id="create_task_log", summary="Create Task Log",
    response_model=TaskLogWriteAnswer, responses=error_responses(409, 422),
)
async def create_task_log(
    body: Annotated[TaskLogCreate, Body(openapi_examples=CREATE_EXAMPLES)],
    session: Session,
    settings: AppSettings,
    actor: Actor,
) -> EnvelopeResponse:
    """Log time spent on a task. Answers the created log with the employee's `dailyTotals` for the local
    days it touches, the `allocation` of its project and task, and `warnings` (overlap, long day).
    A log with the same task, employee and start time as a stored one is a 409 `DUPLICATE_TASK_LOG`."""
    result = await service.create_task_log(session, settings, body, actor=actor)
    return ok("Task log created", result.created[0], **result.effects())


@router.post(
    "/tasklogs/bulk/create/{user_id}/", operation_id="bulk_create_task_logs", summary="Bulk Create Task Logs",
    tags=["Bulk"], response_model=BulkAnswer, responses=error_responses(404, 413, 422),
)
async def bulk_create_task_logs(
    user_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: Annotated[list[TaskLogBulkItem], Body(openapi_examples=BULK_EXAMPLES)],
    session: Session,
    settings: AppSettings,
    actor: Actor,
) -> EnvelopeResponse:
    """Create many task logs in one request and one transaction. Items that repeat a stored log (same
    taskId, userId and startTime), or an earlier item of the batch, are skipped and listed with the id of
    the log they repeat. Validation is all-or-nothing: any bad item makes a 422 naming each bad item
    (`[3].endTime`) and nothing is saved."""
    result = await service.bulk_create_task_logs(session, settings, user_id, body, actor=actor)
    created, skipped = len(result.created), len(result.skipped)
    message = f"{created} created, {skipped} duplicate{'' if skipped == 1 else 's'} skipped"
    return ok(message, {"created": result.created, "skipped": result.skipped}, **result.effects())


@router.get(
    "/taskLogs/task/{taskId}/", operation_id="get_task_logs", summary="Get Task Logs",
    response_model=TaskLogsAnswer, responses=error_responses(404, 422),
)
async def get_task_logs(
    task_id: Annotated[int, Path(alias="taskId", ge=1, le=MAX_ID)],
    session: Session,
    settings: AppSettings,
    actor: Actor,
    page: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    page_size: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> EnvelopeResponse:
    """All logs of a task, oldest first, with a `summary` over all of them. Give `page` and/or
    `page_size` (default 50) to page; the answer then has a `pagination` object."""
    if page_size is not None and page_size > settings.max_page_size:
        page_size = settings.max_page_size
    result = await service.list_task_logs(session, task_id, page, page_size, actor=actor)
    extra: dict[str, Any] = {
        "summary": {"count": result.count, "totalSeconds": result.total_seconds,
                    "totalTime": hours_minutes(result.total_seconds)}
    }
    if result.page is not None:
        extra["pagination"] = {"page": result.page, "pageSize": result.page_size, "total": result.count}
    return ok("Task logs", result.logs, **extra)


@router.get(
    "/tasklogs/{taskLogId}/", operation_id="get_task_log", summary="Get one task log",
    response_model=TaskLogAnswer, responses=error_responses(404, 422),
)
async def get_task_log(log_id: LogId, session: Session, actor: Actor) -> EnvelopeResponse:
    """One task log. Employees may read their own; team leaders, admins and keys their company's."""
    return ok("Task log", await service.get_task_log(session, log_id, actor=actor))


UPDATE_DOC = """Update a task log entry (manual entry). Every field is optional; the log is re-validated as on
create and marked `manualAdd: true` unless the body says otherwise. Moving it onto the task, employee
and start time of another log is a 409 `DUPLICATE_TASK_LOG`."""


@router.put(
    "/tasklogs/{taskLogId}/", operation_id="update_task_log", summary="Update Task Log",
    response_model=TaskLogWriteAnswer, responses=error_responses(404, 409, 422), description=UPDATE_DOC,
)
@router.patch(
    "/tasklogs/{taskLogId}/", operation_id="patch_task_log", summary="Update Task Log (partial)",
    response_model=TaskLogWriteAnswer, responses=error_responses(404, 409, 422), description=UPDATE_DOC,
)
async def update_task_log(log_id: LogId, body: Annotated[TaskLogUpdate, Body(openapi_examples=UPDATE_EXAMPLES)],
                          session: Session,
                          settings: AppSettings, actor: Actor) -> EnvelopeResponse:
    result = await service.update_task_log(session, settings, log_id, body, actor=actor)
    return ok("Task log updated", result.created[0], **result.effects())


@router.delete(
    "/api/tasklogs/delete/{pk}/", operation_id="delete_task_log", summary="Delete Task Log",
    response_model=DeleteAnswer, responses=error_responses(404, 422),
)
async def delete_task_log(pk: Annotated[int, Path(ge=1, le=MAX_ID)], session: Session,
                          settings: AppSettings, actor: Actor) -> EnvelopeResponse:
    """Delete a task log. The answer carries the employee's new `dailyTotals` and the re-computed
    `allocation` of the log's project and task."""
    result = await service.delete_task_log(session, settings, pk, actor=actor)
    return ok("Task log deleted", {"taskLogId": pk}, **result.effects())
