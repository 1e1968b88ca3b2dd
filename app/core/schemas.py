"""Schema building blocks: camelCase on output, either casing on input."""

import re
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from app.core.timeutil import is_known_zone, iso_utc

MAX_ID = 2**63 - 1


class ApiModel(BaseModel):
    """Accepts `task_id` and `taskId` alike, ignores unknown fields, writes camelCase."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        from_attributes=True,
        extra="ignore",
    )


# The platform's ids: positive 64-bit integers.
Id = Annotated[int, Field(ge=1, le=MAX_ID, examples=[250])]

UtcTimestamp = Annotated[datetime, PlainSerializer(iso_utc, return_type=str)]


# Unicode's control characters (category Cc: C0, DEL, C1) but line breaks and tabs.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _no_control_chars(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and no name or description needs
    # control characters (terminal escapes) other than line breaks and tabs.
    if _CONTROL_CHARS.search(value):
        raise ValueError("must not contain control characters")
    return value.strip()


CleanText = Annotated[str, AfterValidator(_no_control_chars)]
Name = Annotated[CleanText, Field(min_length=1, max_length=255)]


def _known_zone(value: str) -> str:
    if not is_known_zone(value):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'")
    return value


TimeZoneName = Annotated[str, Field(max_length=64, examples=["Europe/Berlin"]), AfterValidator(_known_zone)]

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """Dyzo's success envelope."""

    status: int = Field(1, examples=[1])
    message: str
    data: T


class ErrorItem(BaseModel):
    field: str = Field(examples=["endTime"])
    message: str
    code: str = Field(examples=["VALIDATION_ERROR"])


class ErrorEnvelope(BaseModel):
    """Dyzo's error envelope; `errors` names each bad field."""

    status: int = Field(0, examples=[0])
    message: str
    error_code: str = Field(examples=["VALIDATION_ERROR"])
    errors: list[ErrorItem] = Field(default_factory=list)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Malformed request (e.g. the body is not JSON).",
        401: "No valid credentials: `error_code` is NO_ACCESS_TOKEN, INVALID_ACCESS_TOKEN, TOKEN_EXPIRED, "
        "USER_NOT_FOUND, USER_INACTIVE, INVALID_API_KEY or API_KEY_EXPIRED.",
        403: "FORBIDDEN: the caller's role does not allow this.",
        503: "SERVICE_UNAVAILABLE: the database cannot answer now; retry after `Retry-After` seconds.",
        404: "Not found.",
        409: "Conflict: e.g. a duplicate task log (DUPLICATE_TASK_LOG).",
        412: "VERSION_CONFLICT: If-Match names an older version; `data` holds the current log.",
        413: "Too many items in one request.",
        422: "The input breaks a rule; `errors` lists each field.",
        429: "RATE_LIMITED: the caller made more requests this minute than its quota; retry after "
        "`Retry-After` seconds (the `RateLimit` and `RateLimit-Policy` headers tell the quota and what is left); "
        "or, on a write with an Idempotency-Key, TOO_MANY_IDEMPOTENCY_KEYS.",
    }
    return {c: {"model": ErrorEnvelope, "description": descriptions.get(c, "Error")} for c in codes}


AUTH_ERRORS = error_responses(401, 403, 422, 429, 503)
