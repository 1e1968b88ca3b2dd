"""Requests per minute per API key and per employee, and the IETF RateLimit
header fields that tell each caller where it stands.

Algorithm: a fixed window per caller, opened by the caller's first request
and lasting a minute; every request (a refused one too) counts one. Simple
enough to be exact under concurrency with one atomic Redis command, cheap
in memory (one counter per caller), and since each caller's window opens
when that caller starts, clients do not all come back at the same second.
Its known weakness, stated in the README: a caller can spend a whole
budget at the end of one window and another at the start of the next.

Where the counters live:
- With `TASKLOGS_REDIS_URL`, in Redis, so the limit holds across workers
  and replicas. The Lua script below increments the counter and sets its
  expiry in one step that Redis runs atomically, so no two workers can
  both open a window or lose a count.
- Without it, per worker in memory: with N workers a caller gets up to N
  times the limit (the README says so).
- When Redis is configured but does not answer, each worker falls back to
  its in-memory counters (fail-open as far as Redis goes: the request is
  answered, never a 500; the limit holds per worker meanwhile), logs one
  warning, and tries Redis again REDIS_RETRY_SECONDS later so a dead Redis
  does not cost every request a timeout.

Header fields as in draft-ietf-httpapi-ratelimit-headers-11 (Structured
Field lists): `RateLimit-Policy: "per-key";q=600;w=60` (the quota and its
window) and `RateLimit: "per-key";r=599;t=37` (requests left, and seconds
until the window ends), on every answer to an authenticated request."""

import logging
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.auth.principal import Principal
from app.core.errors import AppError
from app.core.settings import Settings

log = logging.getLogger("tasklogs.auth")

WINDOW_SECONDS = 60
# A Redis on the same network answers in a millisecond; one that does not
# answer within this is treated as down rather than slowing every request.
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_RETRY_SECONDS = 5.0

# KEYS[1]: the caller's counter; ARGV[1]: the window in milliseconds.
# Returns {requests counted in the window, milliseconds until it ends}. A
# counter without an expiry is a new window (INCR made it), so it gets one.
_COUNT_REQUEST = """
local used = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {used, left}
"""


@dataclass(frozen=True)
class Quota:
    """A policy: `limit` requests per window, under the name the headers give it."""

    policy: str
    limit: int


@dataclass(frozen=True)
class Budget:
    """A caller's standing after counting its current request."""

    quota: Quota
    used: int
    seconds_left: float

    @property
    def exceeded(self) -> bool:
        return self.used > self.quota.limit

    @property
    def reset_seconds(self) -> int:
        # Whole seconds, rounded up: a client that waits this long finds a new window.
        return max(1, math.ceil(self.seconds_left))

    def headers(self) -> list[tuple[bytes, bytes]]:
        name = self.quota.policy
        remaining = max(0, self.quota.limit - self.used)
        return [
            (b"ratelimit-policy", f'"{name}";q={self.quota.limit};w={WINDOW_SECONDS}'.encode()),
            (b"ratelimit", f'"{name}";r={remaining};t={self.reset_seconds}'.encode()),
        ]


class RateLimited(AppError):
    def __init__(self, budget: Budget, whom: str) -> None:
        wait = budget.reset_seconds
        super().__init__(
            f"Too many requests: {whom} may make {budget.quota.limit} per minute; retry in {wait} s.",
            "RATE_LIMITED",
            429,
            headers={"Retry-After": str(wait)},
        )


@dataclass
class _Window:
    ends: float  # time.monotonic()
    used: int


class WorkerCounters:
    """Counters in this worker's memory, bounded: windows are kept in the
    order they opened and all last a minute, so the finished ones are at
    the front and are dropped as new windows open. Past MAX_CALLERS callers
    within one minute, the oldest window is forgotten (that caller starts
    afresh), so memory cannot grow with the number of callers."""

    MAX_CALLERS = 10_000

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}

    def __len__(self) -> int:
        """Callers with a window in memory."""
        return len(self._windows)

    def count(self, caller: str) -> tuple[int, float]:
        """Count a request; (requests in the caller's window, seconds until it ends)."""
        now = time.monotonic()
        window = self._windows.get(caller)
        if window is None or window.ends <= now:
            self._windows.pop(caller, None)
            self._forget_finished(now)
            window = self._windows[caller] = _Window(ends=now + WINDOW_SECONDS, used=0)
        window.used += 1
        return window.used, window.ends - now

    def _forget_finished(self, now: float) -> None:
        while self._windows:
            oldest = next(iter(self._windows))
            if self._windows[oldest].ends > now:
                break
            del self._windows[oldest]
        while len(self._windows) >= self.MAX_CALLERS:
            del self._windows[next(iter(self._windows))]


class RateLimiter:
    """Counts each authenticated request against its caller's quota."""

    def __init__(self, settings: Settings) -> None:
        self._per_key = settings.rate_limit_per_minute
        self._per_employee = settings.rate_limit_per_minute_employee
        self._memory = WorkerCounters()
        self._prefix = f"{settings.redis_key_prefix}ratelimit:"
        self._redis: Redis | None = None
        if settings.redis_url:
            self._redis = Redis.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                # No retries: a limiter that waits for Redis slows every request; the fallback answers.
                retry=Retry(NoBackoff(), 0),
            )
            self._count_request = self._redis.register_script(_COUNT_REQUEST)
        self._redis_retry_at = 0.0  # time.monotonic() before which Redis is not asked
        self._redis_down = False

    def quota(self, principal: Principal) -> Quota | None:
        """The caller's quota; None for callers without one (the limit is 0, or authentication is off)."""
        if principal.kind == "employee":
            return Quota("per-employee", self._per_employee) if self._per_employee else None
        if principal.kind in ("company_key", "platform_key"):
            limit = principal.rate_limit_per_minute or self._per_key
            return Quota("per-key", limit) if limit else None
        return None

    async def spend(self, principal: Principal) -> Budget | None:
        """Count this request; the caller's budget after it, or None when it has no quota."""
        quota = self.quota(principal)
        if quota is None:
            return None
        counted = await self._count_in_redis(principal.label)
        used, seconds_left = counted if counted is not None else self._memory.count(principal.label)
        return Budget(quota, used, seconds_left)

    async def _count_in_redis(self, caller: str) -> tuple[int, float] | None:
        if self._redis is None or time.monotonic() < self._redis_retry_at:
            return None
        try:
            used, ms_left = await self._count_request(keys=[self._prefix + caller], args=[WINDOW_SECONDS * 1000])
        except (RedisError, OSError, TimeoutError) as exc:
            self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            if not self._redis_down:
                self._redis_down = True
                log.warning(
                    "Redis does not answer (%s): rate limits are counted per worker until it does",
                    type(exc).__name__,
                )
            return None
        if self._redis_down:
            self._redis_down = False
            log.warning("Redis answers again: rate limits are shared by every worker again")
        return int(used), int(ms_left) / 1000

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
