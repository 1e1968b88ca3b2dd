"""Readiness: is the database reachable, and is its schema what this build needs?"""

import asyncio
from functools import lru_cache
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations
from app.core.errors import ServiceUnavailable


@lru_cache
def schema_head() -> str | None:
    """The newest migration this build ships."""
    return ScriptDirectory(str(Path(migrations.__file__).parent)).get_current_head()


async def schema_revision(engine: AsyncEngine, timeout_seconds: float) -> str | None:
    """The database's schema revision, if it answers within `timeout_seconds`
    and is at this build's head; else ServiceUnavailable (503)."""
    try:
        async with asyncio.timeout(timeout_seconds), engine.connect() as conn:
            revision: str | None = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception as exc:
        raise ServiceUnavailable(f"The database is not reachable ({type(exc).__name__}).") from exc
    if revision != schema_head():
        raise ServiceUnavailable(
            f"The database schema is at {revision}, this build needs {schema_head()}: run `tasklogs migrate`."
        )
    return revision
