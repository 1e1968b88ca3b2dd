"""Task log endpoints, on the Dyzo paths (with and without trailing slash)."""

import re
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, error_responses
from app.core.settings import AppSettings
from app.core.timeutil import hours_minutes
from app.tasklogs import exports, search, service
from app.tasklogs.exports import NDJSON_MEDIA_TYPE
from app.tasklogs.schemas import (
    BulkAnswer,
    ChangeFeedAnswer,
    DeleteAnswer,
    TaskLogAnswer,
    TaskLogBulkItem,
    TaskLogCreate,
    TaskLogHistoryAnswer,
    TaskLogsAnswer,
    TaskLogSearchAnswer,
    TaskLogUpdate,
    TaskLogWriteAnswer,
    VersionConflictAnswer,
)
from app.timesheets.exports import CSV_MEDIA_TYPE

router = Router(tags=["Task logs"], responses=AUTH_ERRORS)

BULK_HARD_LIMIT = 10_000

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The `ETag` of the log as last read (`"3"`), or a list of them; a stale one is 412 with the '
        "current log in `data`.",
        examples=['"1"'],
    ),
]
# The answers that carry the log's version as `ETag` (see `with_etag`).
WITH_ETAG: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "ETag": {
                "description": 'The log\'s version as an entity tag (`"3"`): send it back as `If-Match`.',
                "schema": {"type": "string"},
            }
        }
    }
}
VERSION_CONFLICT: dict[int | str, dict[str, Any]] = {
    412: {
        "model": VersionConflictAnswer,
        "description": "VERSION_CONFLICT: If-Match names another version; `data` holds the current log.",
    }
}


# A version as an entity tag: "3" (or W/"3"), ASCII digits within a signed
# 64-bit integer. `str.isdigit()` would take "²" too, which `int()` refuses.
_VERSION_TAG = re.compile('(?:W/)?"?([0-9]{1,19})"?')


def expected_version(if_match: str | None) -> frozenset[int] | None:
    """`If-Match: "3"` -> {3}; a list (`"0", "18"`) -> any of them; `*` or no
    header -> no check. A tag that is not one of our versions matches none
    (an empty set: a 412)."""
    if if_match is None:
        return None
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags:
        return None
    matches = (_VERSION_TAG.fullmatch(tag) for tag in tags)
    return frozenset(v for m in matches if m is not None and (v := int(m[1])) <= MAX_ID)


def with_etag(response: EnvelopeResponse, log: dict[str, Any]) -> EnvelopeResponse:
    response.headers["ETag"] = f'"{log["version"]}"'
    return response


# The Dyzo documentation's own request examples, offered in the Swagger UI.
CREATE_EXAMPLES: dict[str, Any] = {
    "dyzo": {
        "summary": "Dyzo's example (snake_case, UTC)",
        "value": {
            "task_id": 250,
            "employee_id": 10,
            "start_time": "2024-10-29T09:00:00Z",
            "end_time": "2024-10-29T10:30:00Z",
            "description": "Worked on authentication",
        },
    },
    "camelCase": {
        "summary": "camelCase, local wall time (read in the employee's time zone)",
        "value": {
            "taskId": 250,
            "userId": 10,
            "startTime": "2024-10-29T11:00:00",
            "endTime": "2024-10-29T12:15:00",
            "description": "Manual entry",
            "manualAdd": True,
        },
    },
}
BULK_EXAMPLES: dict[str, Any] = {
    "dyzo": {
        "summary": "Dyzo's example: three logs of one day",
        "value": [
            {
                "taskId": 250,
                "userId": 10,
                "startTime": "2024-10-29T09:00:00Z",
                "endTime": "2024-10-29T10:30:00Z",
                "description": "Worked on authentication module",
                "manualAdd": False,
            },
            {
                "taskId": 251,
                "userId": 10,
                "startTime": "2024-10-29T10:30:00Z",
                "endTime": "2024-10-29T12:00:00Z",
                "description": "Code review and testing",
                "manualAdd": False,
            },
            {
                "taskId": 252,
                "userId": 10,
                "startTime": "2024-10-29T13:00:00Z",
                "endTime": "2024-10-29T15:30:00Z",
                "description": "Bug fixes and optimization",
                "manualAdd": False,
            },
        ],
    },
}
UPDATE_EXAMPLES: dict[str, Any] = {
    "dyzo": {
        "summary": "Dyzo's example",
        "value": {
            "startTime": "2024-10-29T09:00:00Z",
            "endTime": "2024-10-29T11:00:00Z",
            "description": "Research and planning",
            "taskId": 250,
            "userId": 10,
        },
    },
    "description": {"summary": "Only the description", "value": {"description": "Pairing on login"}},
}
LogId = Annotated[int, Path(alias="taskLogId", ge=1, le=MAX_ID)]


@router.post(
    "/tasklog/create/",
    operation_id="create_task_log",
    summary="Create Task Log",
    response_model=TaskLogWriteAnswer,
    responses={**error_responses(409, 422), **WITH_ETAG},
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
    return with_etag(ok("Task log created", result.created[0], **result.effects()), result.created[0])


@router.post(
    "/tasklogs/bulk/create/{user_id}/",
    operation_id="bulk_create_task_logs",
    summary="Bulk Create Task Logs",
    tags=["Bulk"],
    response_model=BulkAnswer,
    responses=error_responses(404, 413, 422),
)
async def bulk_create_task_logs(
    user_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    # The hard ceiling makes a 100,000-item array fail before any item is
    # validated; the configurable TASKLOGS_BULK_MAX_ITEMS applies below it.
    body: Annotated[list[TaskLogBulkItem], Body(openapi_examples=BULK_EXAMPLES, max_length=BULK_HARD_LIMIT)],
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
    "/taskLogs/task/{taskId}/",
    operation_id="get_task_logs",
    summary="Get Task Logs",
    response_model=TaskLogsAnswer,
    responses=error_responses(404, 422),
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
    `page_size` (default 50) to page; the answer then has a `pagination` object. Without them, a task
    with more than `TASKLOGS_UNPAGED_MAX` (10,000) logs is a 422 `TOO_MANY_RESULTS`: page it, or use
    `GET /tasklogs/?taskId=`."""
    if page_size is not None and page_size > settings.max_page_size:
        page_size = settings.max_page_size
    result = await service.list_task_logs(
        session, task_id, page, page_size, actor=actor, unpaged_max=settings.unpaged_max
    )
    extra: dict[str, Any] = {
        "summary": {
            "count": result.count,
            "totalSeconds": result.total_seconds,
            "totalTime": hours_minutes(result.total_seconds),
        }
    }
    if result.page is not None:
        extra["pagination"] = {"page": result.page, "pageSize": result.page_size, "total": result.count}
    return ok("Task logs", result.logs, **extra)


@router.get(
    "/tasklogs/changes/",
    operation_id="list_task_log_changes",
    summary="Change feed of task logs",
    response_model=ChangeFeedAnswer,
    responses=error_responses(422),
)
async def list_task_log_changes(
    session: Session,
    actor: Actor,
    since: Annotated[
        str | None,
        Query(max_length=32, description="The `nextCursor` of the previous page; omit to start from the beginning."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EnvelopeResponse:
    """Every create, edit, delete and restore, in commit order, for services that keep a copy. Ask again
    with `since=<nextCursor>`: the cursor never skips or repeats a change, even when writers commit out of
    order. Each change carries the log's `version`, and `before`/`after` images. Admins and keys only;
    a company's callers see that company's changes."""
    changes, cursor = await service.change_feed(session, since, limit, actor=actor)
    return ok("Task log changes", changes, nextCursor=cursor)


# ---------------------------------------------------------------- search and export

FilterId = Annotated[int, Field(ge=1, le=MAX_ID)]
IdsQuery = list[FilterId] | None
TIME_DOC = (
    "An ISO 8601 instant with an offset, or a date `YYYY-MM-DD` meaning local midnight in `timezone` "
    "(else the company's zone; UTC for a platform key)."
)


# async, though it awaits nothing: FastAPI runs a plain `def` dependency in a
# worker thread, and that hop (two thread switches and the GIL handed over
# twice) cost more than the whole filter parsing.
async def log_filters(
    employee_id: Annotated[
        IdsQuery,
        Query(
            alias="employeeId",
            max_length=1000,
            description=(
                "Only these employees' logs (repeat the parameter for several). Employees always get only their "
                "own: asking for others gives an empty list."
            ),
            examples=[[10]],
        ),
    ] = None,
    user_id_camel: Annotated[
        IdsQuery, Query(alias="userId", max_length=1000, description="Same as `employeeId`.", examples=[[10]])
    ] = None,
    user_id_snake: Annotated[
        IdsQuery, Query(alias="user_id", max_length=1000, description="Same as `employeeId`.", examples=[[10]])
    ] = None,
    project_id: Annotated[
        IdsQuery,
        Query(
            alias="projectId",
            max_length=1000,
            description=("Only logs of these projects' tasks (repeatable)."),
            examples=[[7]],
        ),
    ] = None,
    task_id: Annotated[
        IdsQuery,
        Query(
            alias="taskId", max_length=1000, description=("Only logs of these tasks (repeatable)."), examples=[[250]]
        ),
    ] = None,
    start: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=40,
            description=("Window start: logs that overlap [from, to). " + TIME_DOC),
            examples=["2024-10-01"],
        ),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            alias="to",
            max_length=40,
            description=("Window end, exclusive (`to=2024-11-01` ends with October 31). " + TIME_DOC),
            examples=["2024-11-01"],
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        Query(
            max_length=64,
            description=(
                "IANA zone in which the dates `from`/`to` are read (default: the company's; UTC for a platform key)."
            ),
            examples=["Europe/Berlin"],
        ),
    ] = None,
    manual_add: Annotated[
        bool | None,
        Query(alias="manualAdd", description=("Only logs typed in by hand (true) or timed (false)."), examples=[True]),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description=("Case-insensitive substring of the description (`%` and `_` are plain characters)."),
            examples=["review"],
        ),
    ] = None,
    updated_since: Annotated[
        str | None,
        Query(
            alias="updatedSince",
            max_length=40,
            description=("Only logs created or edited at or after this instant."),
            examples=["2024-10-29T00:00:00Z"],
        ),
    ] = None,
    order: Annotated[
        Literal["startTime", "-startTime"],
        Query(
            description=("`startTime`: oldest first (default); `-startTime`: newest first. Ties by taskLogId."),
            examples=["startTime"],
        ),
    ] = "startTime",
) -> search.LogFilters:
    aliases = [ids for ids in (employee_id, user_id_camel, user_id_snake) if ids is not None]
    return search.LogFilters(
        employee_ids=[i for ids in aliases for i in ids] if aliases else None,
        project_ids=project_id,
        task_ids=task_id,
        start=start,
        end=end,
        timezone=timezone,
        manual_add=manual_add,
        text=q,
        updated_since=updated_since,
        descending=order == "-startTime",
    )


Filters = Annotated[search.LogFilters, Depends(log_filters)]


@router.get(
    "/tasklogs/",
    operation_id="search_task_logs",
    summary="Find task logs",
    response_model=TaskLogSearchAnswer,
    responses=error_responses(422),
)
async def search_task_logs(
    filters: Filters,
    session: Session,
    settings: AppSettings,
    actor: Actor,
    limit: Annotated[int, Query(ge=1, le=1000, description="Logs per page (at most 1,000).", examples=[100])] = 100,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            # No example: a cursor is only ever one the service gave out.
            description=("The `nextCursor` of the previous page, with the same filters; omit for the first page."),
        ),
    ] = None,
) -> EnvelopeResponse:
    """Task logs matching every filter given, in start order, a page at a time. Follow `nextCursor` (null on
    the last page) with the same filters: pages never repeat a log and never skip one that existed when the
    first page was read, even while logs are added. A cursor altered or used with other filters is a 422
    `INVALID_CURSOR`. Employees see their own logs; team leaders, admins and company keys their company's;
    platform keys all."""
    page = await search.search_task_logs(session, settings, filters, limit, cursor, actor=actor)
    return ok("Task logs", [service.task_log_view(r) for r in page.rows], nextCursor=page.next_cursor)


@router.get(
    "/tasklogs/export/",
    operation_id="export_task_logs",
    summary="Export task logs (streamed)",
    responses={
        200: {
            "description": "Every matching log, in order: one JSON object a line (`format=ndjson`) "
            "or CSV with a header row (`format=csv`).",
            "content": {NDJSON_MEDIA_TYPE: {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}},
        },
        **error_responses(422),
    },
)
async def export_task_logs(
    request: Request,
    filters: Filters,
    session: Session,
    settings: AppSettings,
    actor: Actor,
    output: Annotated[
        Literal["ndjson", "csv"],
        Query(
            alias="format",
            description=(
                "`ndjson`: one task-log view a line; `csv`: spreadsheet-safe CSV (cells that would start a formula "
                "are prefixed with `'`)."
            ),
            examples=["ndjson"],
        ),
    ] = "ndjson",
) -> StreamingResponse:
    """Every log of the same filters as `GET /tasklogs/` (no `limit`, no `cursor`), streamed in order with
    constant memory. `from` and `to` are required, at most `TASKLOGS_EXPORT_MAX_DAYS` (366) days apart."""
    plan = await search.plan_export(session, settings, filters, actor=actor)
    sessionmaker = request.app.state.read_sessionmaker

    media_type, suffix = (CSV_MEDIA_TYPE, "csv") if output == "csv" else (NDJSON_MEDIA_TYPE, "ndjson")
    return StreamingResponse(
        exports.stream(search.export_rows(sessionmaker, plan), output),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="tasklogs.{suffix}"'},
    )


@router.get(
    "/tasklogs/{taskLogId}/",
    operation_id="get_task_log",
    summary="Get one task log",
    response_model=TaskLogAnswer,
    responses={**error_responses(404, 422), **WITH_ETAG},
)
async def get_task_log(log_id: LogId, session: Session, actor: Actor) -> EnvelopeResponse:
    """One task log. Employees may read their own; team leaders, admins and keys their company's.
    The `ETag` header is the log's version: send it back as `If-Match` to edit or delete safely."""
    log = await service.get_task_log(session, log_id, actor=actor)
    return with_etag(ok("Task log", log), log)


UPDATE_DOC = """Update a task log entry (manual entry). Every field is optional; the log is re-validated as on
create and marked `manualAdd: true` unless the body says otherwise. Moving it onto the task, employee
and start time of another log is a 409 `DUPLICATE_TASK_LOG`."""


@router.put(
    "/tasklogs/{taskLogId}/",
    operation_id="update_task_log",
    summary="Update Task Log",
    response_model=TaskLogWriteAnswer,
    responses={**error_responses(404, 409, 422), **VERSION_CONFLICT, **WITH_ETAG},
    description=UPDATE_DOC,
)
@router.patch(
    "/tasklogs/{taskLogId}/",
    operation_id="patch_task_log",
    summary="Update Task Log (partial)",
    response_model=TaskLogWriteAnswer,
    responses={**error_responses(404, 409, 422), **VERSION_CONFLICT, **WITH_ETAG},
    description=UPDATE_DOC,
)
async def update_task_log(
    log_id: LogId,
    body: Annotated[TaskLogUpdate, Body(openapi_examples=UPDATE_EXAMPLES)],
    session: Session,
    settings: AppSettings,
    actor: Actor,
    if_match: IfMatch = None,
) -> EnvelopeResponse:
    result = await service.update_task_log(
        session, settings, log_id, body, actor=actor, expected_version=expected_version(if_match)
    )
    return with_etag(ok("Task log updated", result.created[0], **result.effects()), result.created[0])


@router.delete(
    "/api/tasklogs/delete/{pk}/",
    operation_id="delete_task_log",
    summary="Delete Task Log",
    response_model=DeleteAnswer,
    responses={**error_responses(404, 422), **VERSION_CONFLICT},
)
async def delete_task_log(
    pk: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: Session,
    settings: AppSettings,
    actor: Actor,
    if_match: IfMatch = None,
) -> EnvelopeResponse:
    """Delete a task log. The answer carries the employee's new `dailyTotals` and the re-computed
    `allocation` of the log's project and task. The log stays restorable by an admin for
    `TASKLOGS_RESTORE_DAYS` (`POST /tasklogs/{taskLogId}/restore/`); deleted logs count nowhere."""
    result = await service.delete_task_log(
        session, settings, pk, actor=actor, expected_version=expected_version(if_match)
    )
    return ok("Task log deleted", {"taskLogId": pk}, **result.effects())


@router.post(
    "/tasklogs/{taskLogId}/restore/",
    operation_id="restore_task_log",
    summary="Restore a deleted task log",
    response_model=TaskLogWriteAnswer,
    responses={**error_responses(404, 409, 422), **WITH_ETAG},
)
async def restore_task_log(log_id: LogId, session: Session, settings: AppSettings, actor: Actor) -> EnvelopeResponse:
    """Bring back a log deleted less than `TASKLOGS_RESTORE_DAYS` ago, under its old id (admins and keys).
    409 `DUPLICATE_TASK_LOG` when a new log has taken its task, employee and start time meanwhile."""
    result = await service.restore_task_log(session, settings, log_id, actor=actor)
    return with_etag(ok("Task log restored", result.created[0], **result.effects()), result.created[0])


@router.get(
    "/tasklogs/{taskLogId}/history/",
    operation_id="get_task_log_history",
    summary="History of a task log",
    response_model=TaskLogHistoryAnswer,
    responses=error_responses(404, 422),
)
async def get_task_log_history(
    log_id: LogId,
    session: Session,
    settings: AppSettings,
    actor: Actor,
    limit: Annotated[int, Query(ge=1, le=1000, description="Changes per page (at most 1,000).", examples=[100])] = 100,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            description=(
                "The `nextCursor` of the previous page of this log's history; omit for the first. Opaque and "
                "signed: altered, or given to another log's history, it is a 422 `INVALID_CURSOR`."
            ),
            # No example: a cursor is signed with this deployment's secret, so any fixed one is a 422.
        ),
    ] = None,
) -> EnvelopeResponse:
    """The changes of the log, oldest first, a page of `limit` at a time (follow `nextCursor`, null on the
    last page): who (`actor`), when, in which request (`requestId`), and the log `before` and `after`. For
    the log's owner and the company's admins and keys."""
    changes, next_cursor = await service.task_log_history(
        session, settings, log_id, actor=actor, limit=limit, cursor=cursor
    )
    return ok("Task log history", changes, nextCursor=next_cursor)
