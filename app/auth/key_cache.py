"""API keys verified recently, per worker process.

A service key is sent on every call, and checking it is a database round
trip: on a small read such as one employee's month that was a fifth of the
request. A key the database accepted is therefore trusted again without
asking for `TASKLOGS_API_KEY_CACHE_SECONDS`. The price is stated in the
README: a revoked key keeps working for up to that long on a worker that
saw it just before. Unknown, revoked and expired keys are never remembered,
so a new key works at once and a wrong key is always refused by the
database. A remembered key carries its expiry, which is checked on every
request: the trust never outlives the key."""

import time
from dataclasses import dataclass
from datetime import datetime

from app.auth.principal import Principal
from app.auth.repository import hash_key


@dataclass(frozen=True)
class TrustedKey:
    """A key the database accepted, and who it makes the caller."""

    key_id: int
    principal: Principal
    expires_at: datetime | None  # None: never

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class KeyCache:
    # Far more keys than a deployment has services; a bound so that memory
    # cannot grow with keys that come and go.
    MAX_KEYS = 1024

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._trusted: dict[str, tuple[TrustedKey, float]] = {}

    def get(self, key: str) -> TrustedKey | None:
        if self.seconds <= 0:
            return None
        # By the key's hash: the plain keys are not kept in memory.
        hit = self._trusted.get(hash_key(key))
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[0]

    def remember(self, key: str, trusted: TrustedKey) -> None:
        if self.seconds <= 0:
            return
        if len(self._trusted) >= self.MAX_KEYS:
            self._trusted.pop(next(iter(self._trusted)))  # the oldest entry
        self._trusted[hash_key(key)] = (trusted, time.monotonic() + self.seconds)
