"""Subscriptions and deliveries as clients send and see them."""

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from app.core.schemas import ApiModel, CleanText, Envelope, Id, UtcTimestamp
from app.events.outbox import EVENT_TYPES
from app.webhooks.urls import MAX_URL_LENGTH

EXAMPLE_URL = "https://billing.example.com/hooks/tasklogs"


def _known_types(types: list[str]) -> list[str]:
    unknown = [t for t in types if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {sorted(EVENT_TYPES)} or '*'")
    if "*" in types and len(types) > 1:
        raise ValueError("'*' stands alone: it already means every event type")
    return list(dict.fromkeys(types))


EventTypes = Annotated[
    list[str],
    Field(
        min_length=1,
        max_length=len(EVENT_TYPES) + 1,
        examples=[["tasklog.created", "tasklog.updated"], ["*"]],
        json_schema_extra={"items": {"type": "string", "enum": ["*", *EVENT_TYPES]}},
    ),
    AfterValidator(_known_types),
]
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH, examples=[EXAMPLE_URL])]
Description = Annotated[CleanText, Field(max_length=255, examples=["Billing service"])]
DeliveryStatus = Literal["pending", "delivered", "failed"]


class WebhookCreate(ApiModel):
    url: Url
    events: EventTypes
    description: Description | None = None
    company_id: Id | None = Field(
        None, description="The company whose events to send: required of platform keys; a company admin's own if given."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "url": EXAMPLE_URL,
                    "events": ["tasklog.created", "tasklog.deleted"],
                    "description": "Billing",
                    "companyId": 1,
                }
            ]
        }
    }


class WebhookUpdate(ApiModel):
    url: Url | None = None
    events: EventTypes | None = None
    enabled: bool | None = Field(None, description="false pauses deliveries; true resumes them.")
    description: Description | None = None

    model_config = {"json_schema_extra": {"examples": [{"enabled": False}, {"events": ["*"]}]}}


class WebhookOut(ApiModel):
    webhook_id: int
    company_id: int
    url: str = Field(examples=[EXAMPLE_URL])
    events: list[str] = Field(examples=[["tasklog.created"]])
    description: str | None
    enabled: bool
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    failing_since: UtcTimestamp | None = Field(
        None, description="Since when every delivery attempt has failed (null: the last one succeeded)."
    )


class WebhookWithSecret(WebhookOut):
    secret: str = Field(
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        description="The signing secret: shown only in this answer.",
    )


class WebhookAnswer(Envelope[WebhookOut]):
    pass


class WebhookSecretAnswer(Envelope[WebhookWithSecret]):
    pass


class WebhookList(Envelope[list[WebhookOut]]):
    pass


class QueuedEvent(ApiModel):
    event_id: str = Field(examples=["evt_2b0d6f4c1e5a4f0c9d8e7f6a5b4c3d2e"])
    type: str = Field(examples=["webhook.test"])


class QueuedEventAnswer(Envelope[QueuedEvent]):
    pass


class DeliveryOut(ApiModel):
    event_id: str = Field(examples=["evt_2b0d6f4c1e5a4f0c9d8e7f6a5b4c3d2e"])
    type: str = Field(examples=["tasklog.created"])
    status: DeliveryStatus
    attempts: int
    last_attempt_at: UtcTimestamp | None
    next_attempt_at: UtcTimestamp | None
    last_status_code: int | None = Field(examples=[500])
    last_error: str | None = Field(examples=["HTTP 500"])
    created_at: UtcTimestamp


class DeliveryAnswer(Envelope[DeliveryOut]):
    pass


class DeliveryPage(ApiModel):
    status: int = 1
    message: str
    data: list[DeliveryOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next (older) page; null on the last.")
