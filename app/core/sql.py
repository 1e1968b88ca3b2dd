"""Portable SQL pieces whose spelling differs between PostgreSQL and SQLite.

Repositories use these instead of branching on the dialect themselves."""

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import BigInteger, DateTime, Integer, String, bindparam, column, func, select, type_coerce
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType, TypeDecorator

T = TypeVar("T")

# Platform ids and our own ids are 64-bit on PostgreSQL; SQLite only
# auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, always UTC. PostgreSQL stores `timestamptz`; SQLite stores
    the UTC wall time as text, which keeps its ordering and uniqueness exact."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        # asyncpg already gives aware UTC datetimes: no call per value (a
        # task's list returns tens of thousands of them).
        if dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class least(FunctionElement[Any]):
    inherit_cache = True


class greatest(FunctionElement[Any]):
    inherit_cache = True


class seconds_between(FunctionElement[int]):
    """Whole seconds from the first instant to the second (`b - a`)."""

    type = BigInteger()
    inherit_cache = True


class epoch_seconds(FunctionElement[int]):
    """Whole seconds since 1970 of an instant (a UTCDateTime column)."""

    type = BigInteger()
    inherit_cache = True


# date_part, not EXTRACT: since PostgreSQL 14 EXTRACT computes in numeric,
# several times slower on reports that sum a month of logs; our instants are
# whole seconds, which a double holds exactly.
@compiles(epoch_seconds)
def _epoch_pg(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(date_part('epoch', {compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def _spelled(function: type[FunctionElement[Any]], postgresql: str, sqlite: str) -> None:
    """Compile `function(...)` to each dialect's name for it."""
    for dialect, name in ((None, postgresql), ("sqlite", sqlite)):

        def render(element: Any, compiler: Any, _name: str = name, **kw: Any) -> str:
            return f"{_name}({compiler.process(element.clauses, **kw)})"

        compiles(function, *([dialect] if dialect else []))(render)


_spelled(least, "LEAST", "MIN")
_spelled(greatest, "GREATEST", "MAX")


@compiles(seconds_between)
def _seconds_pg(element: seconds_between, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(date_part('epoch', ({b}) - ({a})) AS BIGINT)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST(strftime('%s', {b}) AS INTEGER) - CAST(strftime('%s', {a}) AS INTEGER))"


class IdList(TypeDecorator[list[int]]):
    """A list of ids as one parameter: a bigint[] on PostgreSQL, JSON text
    on SQLite (read back with json_each). One parameter whatever the count,
    so the statement's SQL is the same for every call: an expanding IN
    renders its SQL anew on each execution."""

    impl = String()
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(ARRAY(BigInteger()))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        ids = [int(i) for i in value]
        return json.dumps(ids) if dialect.name == "sqlite" else ids


class Condition(FunctionElement[Any]):
    """A WHERE condition of ours that each dialect spells its own way.

    Typed NullType, not Boolean, on purpose: SQLite has no boolean type, so
    SQLAlchemy writes a Boolean-typed expression standing alone in a WHERE
    as `(expression) = 1`, and SQLite cannot use an index for
    `(x IN (SELECT ...)) = 1`: it scanned every employee for each write, and
    every log for a search by project."""

    type = NullType()
    inherit_cache = True


class among(Condition):
    """`among(column, bindparam(name, type_=IdList()))`: the column's value
    is one of the ids of the list parameter."""

    inherit_cache = True


@compiles(among)
def _among_pg(element: among, compiler: Any, **kw: Any) -> str:
    value, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{value} = ANY({ids})"


@compiles(among, "sqlite")
def _among_sqlite(element: among, compiler: Any, **kw: Any) -> str:
    value, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{value} IN (SELECT value FROM json_each({ids}))"


def ids_param(name: str) -> Any:
    """The bound parameter of a list of ids (see `among`)."""
    return bindparam(name, type_=IdList())


def dialect_insert(session: Any) -> Any:
    """The INSERT construct of the session's dialect, which knows ON CONFLICT
    (PostgreSQL and SQLite spell it the same, SQLAlchemy needs their own class)."""
    return dialect_insert_for(dialect_of(session))


def dialect_insert_for(dialect: str) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return sqlite.insert if dialect == "sqlite" else postgresql.insert


def is_unique_violation(exc: Exception) -> bool:
    """True for a UNIQUE constraint failure, on asyncpg and on SQLite."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "pgcode", None) == "23505":
        return True
    return "UNIQUE constraint failed" in str(orig)


class instant_from_micros(FunctionElement[datetime]):
    """PostgreSQL: the instant a count of microseconds since 1970 names.
    Whole seconds and the rest are added apart: an interval is multiplied as
    a double, which is exact for either part but not for a large count."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(instant_from_micros)
def _instant_from_micros_pg(element: instant_from_micros, compiler: Any, **kw: Any) -> str:
    micros = compiler.process(element.clauses, **kw)
    return (
        f"(TIMESTAMPTZ 'epoch' + (({micros}) / 1000000) * INTERVAL '1 second'"
        f" + (({micros}) % 1000000) * INTERVAL '1 microsecond')"
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class RowsTable:
    """A list of rows given to a statement as a table to join or select
    from, with `.c.<column>` (and `.c.n`, the row's 1-based position).

    The rows travel as parameters, never in the SQL, so a statement's text is
    the same however many rows it gets: it is built, compiled (and on
    PostgreSQL prepared) once and reused. PostgreSQL gets `unnest` of one
    array parameter per column; SQLite, which has no arrays, one JSON array
    of the rows, read back with `json_each`."""

    def __init__(self, name: str, columns: list[tuple[str, Any]]) -> None:
        self.name = name
        self.columns = columns
        self.instants = {c for c, t in columns if isinstance(t, UTCDateTime)}

    def source(self, dialect: str) -> Any:
        """The table; its rows come from `params`."""
        if dialect == "sqlite":
            rows = func.json_each(bindparam(f"{self.name}_rows", type_=String())).table_valued("key", "value")
            return select(
                *[
                    type_coerce(func.json_extract(rows.c.value, f"$[{i}]"), t).label(c)
                    for i, (c, t) in enumerate(self.columns)
                ],
                (rows.c.key + 1).label("n"),
            ).subquery(self.name)
        # Instants travel as microseconds since 1970: asyncpg encodes an
        # array's timestamps at about twice the cost of working out and
        # encoding those integers (a thousand-row upload sends two thousand).
        sent = [(c, BigInteger() if c in self.instants else t) for c, t in self.columns]
        unnested = func.unnest(*[bindparam(f"{self.name}_{c}", type_=ARRAY(t)) for c, t in sent]).table_valued(
            *[column(c, t) for c, t in sent], with_ordinality="n"
        )
        if not self.instants:
            return unnested.render_derived(name=self.name)
        unnested = unnested.render_derived(name=f"{self.name}_sent")
        return select(
            *[
                instant_from_micros(unnested.c[c]).label(c) if c in self.instants else unnested.c[c]
                for c, _ in self.columns
            ],
            unnested.c.n,
        ).subquery(self.name)

    def params(self, dialect: str, rows: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
        if dialect == "sqlite":
            # Instants as SQLite keeps them (UTCDateTime's own text), so they compare as stored.
            as_stored = [
                [_SQLITE_INSTANT(v) if c in self.instants else v for (c, _), v in zip(self.columns, row, strict=True)]
                for row in rows
            ]
            return {f"{self.name}_rows": json.dumps(as_stored)}
        arrays = list(zip(*rows, strict=True)) if rows else [() for _ in self.columns]
        return {
            f"{self.name}_{c}": [(v - _EPOCH) // _MICROSECOND for v in a] if c in self.instants else list(a)
            for (c, _), a in zip(self.columns, arrays, strict=True)
        }


def columns_as_arrays(columns: Sequence[Any], *order_by: Any) -> Any:
    """PostgreSQL: one row holding each of `columns` (of one FROM) as an
    array of its values in `order_by` order (NULL arrays when there are no rows).

    For statements that answer a thousand rows of a few numbers: SQLAlchemy
    builds one Row instead of a thousand (about 0.7 us each), and asyncpg
    decodes arrays faster than records. Read it with `zip` over the columns."""
    return select(*[func.array_agg(aggregate_order_by(c, *order_by)).label(c.name) for c in columns])


def _sqlite_instant_text() -> Callable[[datetime], str]:
    """UTCDateTime's conversion of an instant to the text SQLite stores."""
    dialect = sqlite.dialect()
    convert = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert convert is not None  # SQLite's DATETIME writes text
    return convert


_SQLITE_INSTANT = _sqlite_instant_text()


def dialect_of(session: Any) -> str:
    return str(session.get_bind().dialect.name)


def for_dialect(session: Any, *, postgresql: Callable[[Any], T], sqlite: Callable[[Any], T]) -> T:
    """The repository of the session's database, built once per use: where
    PostgreSQL and SQLite need different SQL, a repository has one class for
    each (the shared SQL in the base), and no function asks which it runs on."""
    return (sqlite if dialect_of(session) == "sqlite" else postgresql)(session)
