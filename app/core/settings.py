"""Service settings, read once from `TASKLOGS_*` environment variables.

Every field here is listed in the README's settings table; keep the two in step.
"""

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./tasklogs.db"
MIN_JWT_SECRET_BYTES = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASKLOGS_", extra="ignore")

    database_url: str = Field(
        DEFAULT_SQLITE_URL,
        description="SQLAlchemy async URL. Unset: an embedded SQLite file ./tasklogs.db. "
        "Production: postgresql+asyncpg://user:password@host:5432/dbname",
    )
    # A fixed pool by default. SQLAlchemy closes an overflow connection as soon as
    # db_pool_size idle ones are back in the pool, so a load that swings around
    # the pool size opens and closes connections over and over, and each new one
    # prepares and plans its statements again. With 10 + 10 under 32 concurrent
    # creates: 10-11 new connections per 8 s, up to 16 % more CPU per create, a p99
    # 1.4-1.7x as long as with a fixed pool (bench/RESULTS.md, 2026-12-05).
    db_pool_size: int = Field(
        20, ge=1, description="PostgreSQL connections per worker, each opened when first needed, then kept open."
    )
    db_max_overflow: int = Field(
        0,
        ge=0,
        description="Extra PostgreSQL connections a worker may open under load; each is closed again when "
        "TASKLOGS_DB_POOL_SIZE idle ones are back in the pool.",
    )
    db_pool_timeout_seconds: float = Field(10.0, gt=0, description="How long a request waits for a free connection.")
    db_connect_timeout_seconds: float = Field(
        5.0, gt=0, description="How long opening a PostgreSQL connection may take."
    )
    db_statement_timeout_ms: int = Field(
        15_000, ge=0, description="PostgreSQL statement_timeout for every query (0: none); a slower query is a 503."
    )
    sqlite_busy_timeout_ms: int = Field(
        30_000,
        ge=0,
        description="How long an SQLite writer waits for a write lock held by another process "
        "before failing (the writers of one process queue first come, first served, without polling).",
    )

    max_log_hours: float = Field(24.0, gt=0, description="Longest allowed single task log, in hours.")
    future_skew_seconds: int = Field(
        300, ge=0, description="How far in the future a log may end (clock skew between devices)."
    )
    max_daily_hours: float = Field(
        12.0, gt=0, description="A day total above this gives a DAILY_HOURS_EXCEEDED warning (never blocks)."
    )
    min_daily_hours: float = Field(
        0,
        ge=0,
        description="A past working day whose total is below this is an UNDER_LOGGED time warning, "
        "computed when listed (0: off).",
    )
    working_days: list[int] = Field(
        [1, 2, 3, 4, 5],
        description="Working days for UNDER_LOGGED, as ISO weekdays in a JSON list (1 Monday ... 7 Sunday), "
        "in each employee's zone.",
    )
    bulk_max_items: int = Field(
        1000, ge=1, le=10_000, description="Most task logs accepted in one bulk request (413 above)."
    )
    restore_days: int = Field(30, ge=0, description="How long a deleted task log can be restored.")
    idempotency_ttl_hours: float = Field(
        24, gt=0, description="How long a write's answer is kept for retries with the same Idempotency-Key."
    )
    idempotency_purge_minutes: float = Field(
        15, ge=0, description="How often each worker deletes expired Idempotency-Key answers, in batches (0: never)."
    )
    idempotency_max_keys_per_caller: int = Field(
        10_000,
        ge=0,
        description="Most live Idempotency-Keys one caller may hold; a keyed write above it is 429 "
        "TOO_MANY_IDEMPOTENCY_KEYS (0: no limit).",
    )
    max_page_size: int = Field(500, ge=1, description="Largest page_size a list endpoint accepts.")
    unpaged_max: int = Field(
        10_000,
        ge=1,
        description="Most logs `GET /taskLogs/task/{id}/` answers without `page`/`page_size`; a task "
        "with more answers 422 TOO_MANY_RESULTS (page it, or use `GET /tasklogs/?taskId=`).",
    )
    export_max_days: int = Field(
        366, ge=1, description="Longest window (`from` to `to`) one `GET /tasklogs/export/` may cover (422 above)."
    )

    jwt_secret: SecretStr | None = Field(
        None,
        description="HS256 secret for people's bearer tokens, at least 32 bytes (the service refuses "
        "to start with a shorter one). With SQLite and no key configured, a development secret is generated "
        "beside the database file (readable by its owner only: the service refuses a group- or "
        "world-readable one).",
    )
    jwt_public_key: str | None = Field(
        None, description="PEM public key for RS256/ES256 bearer tokens (instead of a secret)."
    )
    jwt_issuer: str | None = Field(None, description="Required `iss` claim, when set.")
    jwt_audience: str | None = Field(None, description="Required `aud` claim, when set.")
    jwt_leeway_seconds: int = Field(30, ge=0, le=600, description="Clock skew tolerated on `exp`/`nbf`.")
    api_key_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long a worker trusts an API key the database accepted before asking "
        "again; a revoked key keeps working up to this long. 0: ask on every request.",
    )
    rate_limit_per_minute: int = Field(
        600,
        ge=0,
        description="Requests per minute one API key may make (a key made with `--rate-limit` has its own); "
        "above it 429 RATE_LIMITED. 0: no limit.",
    )
    rate_limit_per_minute_employee: int = Field(
        300,
        ge=0,
        description="Requests per minute one employee may make with bearer tokens; above it 429 RATE_LIMITED. "
        "0: no limit.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis that holds the rate-limit counters, shared by every worker and replica "
        "(redis://host:6379/0). Unset: each worker counts on its own, in memory.",
    )
    redis_key_prefix: str = Field(
        "tasklogs:",
        max_length=100,
        description="Prefix of this service's Redis keys, for deployments that share one Redis.",
    )
    auth_disabled: bool = Field(
        False,
        description="Answer every request without credentials (as a platform key). For local "
        "experiments only; a warning is logged at every start.",
    )

    host: str = Field("127.0.0.1", description="Address `tasklogs serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `tasklogs serve` listens on.")
    workers: int = Field(1, ge=1, description="Worker processes for `tasklogs serve`.")
    keep_alive_seconds: int = Field(
        75,
        ge=1,
        description="How long an idle HTTP connection stays open; keep it above your load balancer's "
        "idle timeout so the balancer never reuses a connection the server is closing.",
    )
    shutdown_timeout_seconds: int = Field(
        30, ge=1, description="On SIGTERM, how long in-flight requests may take to finish before workers stop."
    )
    migrate_on_start: bool = Field(
        False, description="`tasklogs serve` upgrades the schema first (off: run `tasklogs migrate` as its own step)."
    )
    log_level: str = Field("info", description="Python log level: debug, info, warning, error.")
    log_format: Literal["json", "console"] = Field(
        "json", description="json: one JSON object per line (for log shippers); console: plain text."
    )
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above).")
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins allowed to call from a browser, as a JSON list (["https://app.example.com"]); '
        "empty: CORS off.",
    )
    metrics_token: SecretStr | None = Field(
        None, description="When set, GET /metrics needs 'Authorization: Bearer <token>'."
    )
    readiness_timeout_seconds: float = Field(2.0, gt=0, description="How long /readyz waits for the database.")

    @field_validator("working_days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        if any(not 1 <= day <= 7 for day in days):
            raise ValueError("TASKLOGS_WORKING_DAYS holds ISO weekdays, 1 (Monday) to 7 (Sunday)")
        return days

    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="A webhook delivery counts only if a 2xx answer comes within this time."
    )
    webhook_retry_schedule: str = Field(
        "5s,5m,30m,2h,5h,10h,10h",
        description="Waits before each retry of a failed delivery (units ms, s, m, h; each with up to 10 % "
        "jitter); after the last one the delivery is marked failed.",
    )
    webhook_disable_after_hours: float = Field(
        120, gt=0, description="A subscription whose deliveries all failed for this long is disabled (admins notified)."
    )
    webhook_allow_http: bool = Field(False, description="Accept http:// webhook URLs (else https:// only).")
    webhook_allow_private: bool = Field(
        False,
        description="Accept webhook URLs that resolve to loopback, private, link-local or metadata "
        "addresses (else 422 WEBHOOK_URL_FORBIDDEN, checked again at each delivery).",
    )
    worker_inprocess: bool = Field(
        True,
        description="`tasklogs serve` also delivers webhooks (and NATS events) in-process; on "
        "PostgreSQL, false leaves it to `tasklogs worker` processes.",
    )
    worker_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often an idle dispatcher looks for new events and due retries."
    )
    worker_concurrency: int = Field(16, ge=1, le=256, description="Webhook requests one dispatcher has in flight.")
    outbox_retention_days: float = Field(
        30,
        ge=0,
        description="Events (and their deliveries) older than this that wait for nothing are deleted "
        "by the dispatcher, hourly (0: kept forever).",
    )
    nats_url: str | None = Field(
        None, description="NATS server (nats://host:4222): events are also published to JetStream. Unset: no NATS."
    )
    nats_stream: str = Field(
        "TASKLOGS", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="JetStream stream (created if missing)."
    )
    nats_subject_prefix: str = Field(
        "tasklogs",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        description="Events go to `<prefix>.<companyId>.<type>`; the stream holds `<prefix>.>`.",
    )

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule_readable(cls, schedule: str) -> str:
        retry_delays(schedule)  # raises ValueError with the bad entry
        return schedule

    @property
    def webhook_retry_delays(self) -> list[float]:
        """The retry schedule in seconds."""
        return retry_delays(self.webhook_retry_schedule)

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        # HS256 with a short secret can be brute-forced offline from any one token.
        if secret is not None and len(secret.get_secret_value().encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(
                f"TASKLOGS_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes "
                "(for example `openssl rand -hex 32`)"
            )
        return secret

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str | None) -> str | None:
        # Said at start, in the setting's name, rather than by the Redis client at the first request.
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("TASKLOGS_REDIS_URL must start with redis://, rediss:// or unix://")
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for PostgreSQL or an in-memory database."""
        if not self.is_sqlite:
            return None
        database = make_url(self.database_url).database
        return Path(database) if database and database != ":memory:" else None


_DELAY = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def retry_delays(schedule: str) -> list[float]:
    """'5s,5m,2h' -> [5, 300, 7200]; an empty schedule never retries."""
    delays = []
    for entry in filter(None, (part.strip() for part in schedule.split(","))):
        match = _DELAY.match(entry)
        if match is None:
            raise ValueError(f"retry schedule entry {entry!r} is not a number with ms, s, m or h (e.g. 5m)")
        delays.append(float(match[1]) * _UNIT_SECONDS[match[2]])
    return delays


@lru_cache
def get_settings() -> Settings:
    return Settings()


async def _app_settings(request: Request) -> Settings:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop
    # that costs more (~0.3 ms) than a small request's own Python.
    settings: Settings = request.app.state.settings
    return settings


# The settings the running app was built with (tests build apps with their own).
AppSettings = Annotated[Settings, Depends(_app_settings)]
