"""Alembic environment: async engines, both PostgreSQL and SQLite.

Callers that already hold a connection (the test suite, `tasklogs migrate`)
pass it in `config.attributes["connection"]`; otherwise the URL comes from
TASKLOGS_DATABASE_URL like the service's own."""

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.core.database import create_engine
from app.core.settings import Settings
from app.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        _run_without_foreign_keys(connection)
    else:
        _run_migrations(connection)


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite alters tables by copying them; batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_without_foreign_keys(connection: Connection) -> None:
    """SQLite alters a table by copying it and dropping the original, and with
    foreign keys on, dropping a table that others refer to deletes their rows
    (ON DELETE CASCADE) or fails ("FOREIGN KEY constraint failed"). So the
    migrations run with them off, as SQLite's ALTER TABLE page and Alembic's
    batch mode ask, and must leave no broken reference behind before they
    commit. The pragma is ignored inside a transaction, so it is sent to the
    driver before any statement begins one (the service's engine issues its
    own BEGINs, app/core/database.py)."""
    if connection.in_transaction():
        raise RuntimeError("SQLite migrations need a connection with no transaction open")
    _pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        _run_migrations(connection)
        broken = connection.execute(text("PRAGMA foreign_key_check")).all()
        if broken:
            raise RuntimeError(f"the migration left rows referring to nothing (table, rowid, parent): {broken[:10]}")
        connection.commit()
    finally:
        if connection.in_transaction():
            connection.rollback()
        _pragma(connection, "PRAGMA foreign_keys=ON")


def _pragma(connection: Connection, statement: str) -> None:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


async def _run_async() -> None:
    engine = create_engine(Settings())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=Settings().database_url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (conn := config.attributes.get("connection")) is not None:
    _run(conn)
else:
    asyncio.run(_run_async())
