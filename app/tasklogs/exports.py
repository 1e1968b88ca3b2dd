"""The export of task logs as NDJSON or spreadsheet-safe CSV, batch by batch
(the rows come from `search.export_rows`, in keyset batches)."""

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from typing import Any, Literal

import orjson

from app.core.responses import TEXT_KEY_OPTIONS
from app.tasklogs.repository import TaskLogRow
from app.tasklogs.service import task_log_view
from app.timesheets.exports import neutralise

NDJSON_MEDIA_TYPE = "application/x-ndjson"
EXPORT_COLUMNS = [
    "taskLogId",
    "taskId",
    "projectId",
    "userId",
    "userName",
    "startTime",
    "endTime",
    "durationSeconds",
    "duration",
    "description",
    "manualAdd",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "version",
]
_TEXT_COLUMNS = {"userName", "description", "createdBy", "updatedBy"}


def _csv_cell(column: str, value: Any) -> str:
    """One CSV cell: text that a spreadsheet would run as a formula is
    neutralised, instants are UTC with a Z, booleans lower case."""
    if value is None:
        return ""
    if column in _TEXT_COLUMNS:
        return neutralise(str(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _csv_lines(rows: list[TaskLogRow], header: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        view = task_log_view(row)
        writer.writerow([_csv_cell(c, view[c]) for c in EXPORT_COLUMNS])
    return buffer.getvalue().encode("utf-8")


# A view's keys are text: the faster options (see `dumps`).
_NDJSON_OPTIONS = TEXT_KEY_OPTIONS | orjson.OPT_APPEND_NEWLINE


def _ndjson_lines(rows: list[TaskLogRow]) -> bytes:
    # orjson writes each line's newline itself: no second copy of every line.
    return b"".join(orjson.dumps(task_log_view(row), option=_NDJSON_OPTIONS) for row in rows)


async def stream(batches: AsyncIterable[list[TaskLogRow]], output: Literal["ndjson", "csv"]) -> AsyncIterator[bytes]:
    """The export's bytes, one chunk per batch; a CSV always has its header row."""
    first = True
    async for rows in batches:
        yield _csv_lines(rows, first) if output == "csv" else _ndjson_lines(rows)
        first = False
    if first and output == "csv":
        yield _csv_lines([], True)
