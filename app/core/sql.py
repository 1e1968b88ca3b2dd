"""Portable SQL pieces whose spelling differs between PostgreSQL and SQLite.

Repositories use these instead of branching on the dialect themselves."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, column, func, literal, values
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

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


@compiles(epoch_seconds)
def _epoch_pg(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(least)
def _least_pg(element: least, compiler: Any, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: Any, **kw: Any) -> str:
    return f"MIN({compiler.process(element.clauses, **kw)})"


@compiles(greatest)
def _greatest_pg(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"MAX({compiler.process(element.clauses, **kw)})"


@compiles(seconds_between)
def _seconds_pg(element: seconds_between, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({b}) - ({a})) AS BIGINT)"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST(strftime('%s', {b}) AS INTEGER) - CAST(strftime('%s', {a}) AS INTEGER))"


def dialect_insert(session: Any) -> Any:
    """The INSERT construct of the session's dialect, which knows ON CONFLICT
    (PostgreSQL and SQLite spell it the same, SQLAlchemy needs their own class)."""
    from sqlalchemy.dialects import postgresql, sqlite

    name = session.get_bind().dialect.name
    return sqlite.insert if name == "sqlite" else postgresql.insert


def is_unique_violation(exc: Exception) -> bool:
    """True for a UNIQUE constraint failure, on asyncpg and on SQLite."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "23505" or getattr(orig, "pgcode", None) == "23505":
        return True
    return "UNIQUE constraint failed" in str(orig)


def rows_table(session: Any, name: str, columns: list[tuple[str, Any]], rows: list[tuple[Any, ...]]) -> Any:
    """A list of rows as a table to join or select from, with `.c.<name>`
    columns (and `.c.n`, the row's 1-based position).

    PostgreSQL gets `unnest` of one array per column: a fixed handful of
    parameters however many rows, so the statement is prepared once and a
    thousand rows cost one array each instead of thousands of parameters.
    SQLite gets a VALUES list (it has no arrays)."""
    if session.get_bind().dialect.name == "sqlite":
        data = [(*row, n) for n, row in enumerate(rows, 1)]
        return values(*[column(c, t) for c, t in columns], column("n", Integer), name=name).data(data).cte(name)
    # Instants here are always aware UTC datetimes, which asyncpg takes as they
    # are: the plain timestamptz type spares UTCDateTime's check of each one.
    types = [t.impl if isinstance(t, UTCDateTime) else t for _, t in columns]
    arrays = [literal(list(values_), ARRAY(t)) for values_, t in zip(zip(*rows, strict=True), types, strict=True)]
    return (
        func.unnest(*arrays)
        .table_valued(*[column(c, t) for c, t in columns], with_ordinality="n")
        .render_derived(name=name)
    )
