"""Schema building blocks: camelCase on output, either casing on input."""

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    StringConstraints,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """Records, beside each property, the other names the server takes for
        it (`task_id` beside `taskId`, `employee_id` beside `userId`), as
        `x-accepted-names`. The OpenAPI document turns them into properties of
        the request bodies (app/core/openapi.py) and drops them elsewhere: an
        answer is always camelCase."""
        json_schema = handler(core_schema)
        target = handler.resolve_ref_schema(json_schema)
        properties = target.get("properties", {})
        accepted: dict[str, list[str]] = {}
        for name, field in cls.model_fields.items():
            names = [name]  # validate_by_name: the Python name is always taken
            if field.alias:
                names.append(field.alias)
            if isinstance(field.validation_alias, AliasChoices):
                names += [choice for choice in field.validation_alias.choices if isinstance(choice, str)]
            elif isinstance(field.validation_alias, str):
                names.append(field.validation_alias)
            shown = next((n for n in names if n in properties), None)
            others = [n for n in dict.fromkeys(names) if n != shown]
            if shown is not None and others:
                accepted[shown] = others
        if accepted:
            target["x-accepted-names"] = accepted
        return json_schema


# The platform's ids: positive 64-bit integers.
Id = Annotated[int, Field(ge=1, le=MAX_ID, examples=[250])]

UtcTimestamp = Annotated[datetime, PlainSerializer(iso_utc, return_type=str)]


# Text without Unicode's control characters (category Cc: C0, DEL, C1) but
# line breaks and tabs: PostgreSQL text cannot hold NUL, and no name or
# description needs terminal escapes. Checked by pydantic-core (a pattern,
# after stripping the ends), not by a Python validator, which cost half a
# millisecond per 1,000-item upload. Its error is worded in app/core/errors.py.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
CONTROL_CHARACTERS_MESSAGE = "must not contain control characters"
CleanText = Annotated[str, StringConstraints(strip_whitespace=True, pattern=NO_CONTROL_CHARACTERS)]
Name = Annotated[CleanText, Field(min_length=1, max_length=255)]


def _known_zone(value: str) -> str:
    if not is_known_zone(value):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'")
    return value


TimeZoneName = Annotated[str, Field(max_length=64, examples=["Europe/Berlin"]), AfterValidator(_known_zone)]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    # Only YYYY-MM-DD: pydantic alone would also take "2024-10-28T00:00" or a Unix time.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


# A calendar day, as YYYY-MM-DD only.
LocalDate = Annotated[date, BeforeValidator(_iso_date)]

# The first day of a company's weeks (companies.week_start).
WeekdayName = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

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
    requestId: str | None = Field(
        None,
        description="The request's id, also in the `X-Request-ID` header: quote it when reporting a problem.",
        examples=["9f1c2a7e4b5d4c3e8a6f0b1d2c3e4f5a"],
    )


class ConflictEnvelope(ErrorEnvelope):
    """A 409. `existingTaskLogId` names the stored log a DUPLICATE_TASK_LOG repeats."""

    existingTaskLogId: int | None = Field(
        None, description="Present on DUPLICATE_TASK_LOG: the log this one repeats.", examples=[41]
    )
    lockedThrough: str | None = Field(
        None, description="Present on PERIOD_LOCKED by the company's lock date: that date.", examples=["2026-11-30"]
    )
    submissionId: int | None = Field(
        None, description="Present on PERIOD_LOCKED by a submitted or approved week: its submission.", examples=[1]
    )
    weekStart: str | None = Field(
        None, description="Present on PERIOD_LOCKED by a submitted or approved week: its first day.", examples=[None]
    )


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Malformed request (e.g. the body is not JSON).",
        401: "No valid credentials: `error_code` is NO_ACCESS_TOKEN, INVALID_ACCESS_TOKEN, TOKEN_EXPIRED, "
        "USER_NOT_FOUND, USER_INACTIVE, INVALID_API_KEY or API_KEY_EXPIRED.",
        403: "FORBIDDEN: the caller's role does not allow this.",
        503: "SERVICE_UNAVAILABLE: the database cannot answer now; retry after `Retry-After` seconds.",
        404: "Not found.",
        409: "Conflict: e.g. a duplicate task log (DUPLICATE_TASK_LOG), or a log in a locked period (PERIOD_LOCKED).",
        412: "VERSION_CONFLICT: If-Match names an older version; `data` holds the current log.",
        413: "Too many items in one request.",
        422: "The input breaks a rule; `errors` lists each field.",
        429: "RATE_LIMITED: the caller made more requests this minute than its quota; retry after "
        "`Retry-After` seconds (the `RateLimit` and `RateLimit-Policy` headers tell the quota and what is left); "
        "or, on a write with an Idempotency-Key, TOO_MANY_IDEMPOTENCY_KEYS.",
    }
    models: dict[int, type[ErrorEnvelope]] = {409: ConflictEnvelope}
    return {c: {"model": models.get(c, ErrorEnvelope), "description": descriptions.get(c, "Error")} for c in codes}


AUTH_ERRORS = error_responses(401, 403, 422, 429, 503)
