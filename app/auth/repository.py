"""API keys: only their SHA-256 is stored (the keys are 256-bit random, so a
plain hash is enough; no slow KDF is needed against guessing)."""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiKey

KEY_PREFIX = "tlk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyAccess(NamedTuple):
    """What a request needs to know about the key it was sent with."""

    id: int
    company_id: int | None
    expires_at: datetime | None
    rate_limit_per_minute: int | None


_UNREVOKED_KEY = select(ApiKey.id, ApiKey.company_id, ApiKey.expires_at, ApiKey.rate_limit_per_minute).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
)


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        name: str,
        company_id: int | None,
        key: str,
        *,
        expires_at: datetime | None = None,
        rate_limit_per_minute: int | None = None,
    ) -> ApiKey:
        row = ApiKey(
            name=name,
            company_id=company_id,
            key_hash=hash_key(key),
            prefix=key[:12],
            expires_at=expires_at,
            rate_limit_per_minute=rate_limit_per_minute,
        )
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def unrevoked_by_key(self, key: str) -> KeyAccess | None:
        """The key, unless unknown or revoked; expired keys too, so that the
        caller can be told the key expired. Asked on every request the key
        cache does not answer, so a prepared Core statement, not an ORM load."""
        row = (await self.session.execute(_UNREVOKED_KEY, {"key_hash": hash_key(key)})).one_or_none()
        if row is None:
            return None
        return KeyAccess(row.id, row.company_id, row.expires_at, row.rate_limit_per_minute)

    async def all(self) -> list[ApiKey]:
        return list((await self.session.scalars(select(ApiKey).order_by(ApiKey.id))).all())

    async def revoke(self, key_id: int) -> bool:
        stmt = update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
        result: Any = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def record_use(self, key_id: int, now: datetime, interval: timedelta) -> bool:
        """Set the key's last use to `now` unless it was set less than
        `interval` before: the condition is the database's, so the workers
        and replicas together write it at most once per interval. Whether
        it was written."""
        stmt = (
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - interval),
            )
            .values(last_used_at=now)
        )
        result: Any = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def any_usable(self, now: datetime) -> bool:
        """Whether some key is neither revoked nor expired."""
        usable = ApiKey.revoked_at.is_(None) & or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)
        count = await self.session.scalar(select(func.count()).where(usable))
        return bool(count)
