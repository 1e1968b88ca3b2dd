"""A transaction on a test backend's engine, as a request's would be."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import make_sessionmaker
from tests.conftest import Backend


@asynccontextmanager
async def transaction(backend: Backend) -> AsyncIterator[AsyncSession]:
    """A session in a transaction, committed at the end (rolled back on an error)."""
    async with make_sessionmaker(backend.engine)() as session, session.begin():
        yield session
