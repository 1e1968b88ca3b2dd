"""Named row types filled from SQL rows by position.

Where a read is hot, a repository builds its row type positionally
(`TaskLogRow(*row)`), which is cheaper than by name. That is only right while
the statement's columns come in the type's field order, so each such
statement is declared through `named_as`: a reordered, missing or renamed
column then fails when the module is imported, not as silently swapped
values in an answer."""

import dataclasses
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy.sql import Select

# A SELECT, or a tuple of columns for RETURNING.
Columns = TypeVar("Columns")


def _field_names(row_type: type) -> tuple[str, ...]:
    """The fields of a NamedTuple or a dataclass, in order."""
    if dataclasses.is_dataclass(row_type):
        return tuple(field.name for field in dataclasses.fields(row_type))
    return tuple(row_type._fields)  # type: ignore[attr-defined]


def named_as(row_type: type, columns: Columns) -> Columns:
    """`columns` (a SELECT, or a tuple of columns for RETURNING), unchanged,
    once their names are proven to be `row_type`'s fields in order."""
    selected: Iterable[Any] = columns.selected_columns if isinstance(columns, Select) else columns  # type: ignore[assignment]
    names = tuple(column.name for column in selected)
    expected = _field_names(row_type)
    if names != expected:
        raise TypeError(f"columns {names} are not {row_type.__name__}'s fields {expected}, in that order")
    return columns
