"""API keys: only their SHA-256 is stored (the keys are 256-bit random, so a
plain hash is enough; no slow KDF is needed against guessing)."""

import hashlib
import secrets
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiKey

KEY_PREFIX = "tlk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


_ACTIVE_KEY = select(ApiKey.id, ApiKey.company_id).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
)


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, name: str, company_id: int | None, key: str) -> ApiKey:
        row = ApiKey(name=name, company_id=company_id, key_hash=hash_key(key), prefix=key[:12])
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def active_by_key(self, key: str) -> Any:
        """(id, company_id) of the key, unless unknown or revoked. Asked on
        every request, so a prepared Core statement, not an ORM load."""
        return (await self.session.execute(_ACTIVE_KEY, {"key_hash": hash_key(key)})).one_or_none()

    async def all(self) -> list[ApiKey]:
        return list((await self.session.scalars(select(ApiKey).order_by(ApiKey.id))).all())

    async def revoke(self, key_id: int) -> bool:
        stmt = update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
        result: Any = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def any_active(self) -> bool:
        count = await self.session.scalar(select(func.count()).where(ApiKey.revoked_at.is_(None)))
        return bool(count)
