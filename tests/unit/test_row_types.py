"""app/core/rows.py, named_as: a statement whose rows fill a row type by
position must name its columns as the type's fields, in order, or fail when
its module is imported."""

from dataclasses import dataclass
from typing import NamedTuple

import pytest
from sqlalchemy import select

from app.core.rows import named_as
from app.models import TaskLog


class LogTimes(NamedTuple):
    id: int
    start_time: object
    end_time: object


@dataclass(frozen=True)
class LogTimesRecord:
    id: int
    start_time: object
    end_time: object


@pytest.mark.parametrize("row_type", [LogTimes, LogTimesRecord])
def test_a_statement_in_field_order_is_returned_unchanged(row_type):
    statement = select(TaskLog.id, TaskLog.start_time, TaskLog.end_time)
    assert named_as(row_type, statement) is statement
    columns = (TaskLog.id, TaskLog.start_time, TaskLog.end_time)
    assert named_as(row_type, columns) is columns


@pytest.mark.parametrize(
    "columns",
    [
        (TaskLog.id, TaskLog.end_time, TaskLog.start_time),  # swapped: the bug this exists for
        (TaskLog.id, TaskLog.start_time),  # one missing
        (TaskLog.id, TaskLog.start_time, TaskLog.end_time, TaskLog.version),  # one too many
        (TaskLog.id.label("log_id"), TaskLog.start_time, TaskLog.end_time),  # renamed
    ],
)
@pytest.mark.parametrize("row_type", [LogTimes, LogTimesRecord])
def test_columns_not_named_as_the_fields_are_refused(row_type, columns):
    with pytest.raises(TypeError, match="LogTimes"):
        named_as(row_type, select(*columns))
    with pytest.raises(TypeError, match="LogTimes"):
        named_as(row_type, columns)


def test_the_message_names_both_orders():
    with pytest.raises(TypeError) as refused:
        named_as(LogTimes, (TaskLog.id, TaskLog.end_time, TaskLog.start_time))
    assert "('id', 'end_time', 'start_time')" in str(refused.value)
    assert "('id', 'start_time', 'end_time')" in str(refused.value)
