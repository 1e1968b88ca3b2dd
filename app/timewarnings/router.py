"""Dyzo's time warning paths: list a company's warnings, and act on them."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Body, Path, Query

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, error_responses
from app.core.settings import AppSettings
from app.timewarnings import service
from app.timewarnings.repository import WarningFilters
from app.timewarnings.schemas import TimeWarningAction, TimeWarningActionAnswer, TimeWarningListAnswer

router = Router(tags=["Time warnings"], responses=AUTH_ERRORS)

# The demo company's (`tasklogs demo`): employee 11's overlapping logs are time warning 1.
ACTION_EXAMPLES: dict[str, Any] = {
    "ignore": {
        "summary": "An admin ignores a warning",
        "value": {"warningIds": [1], "action": "ignore", "note": "Handover call, agreed with the team lead"},
    },
    "resolve": {"summary": "Resolve one", "value": {"warningIds": [1], "action": "resolve"}},
    "reopen": {"summary": "Reopen one", "value": {"warningIds": [1], "action": "reopen"}},
}


@router.get(
    "/api/company/{company_id}/time-warnings/",
    operation_id="list_time_warnings",
    summary="Time warnings of a company",
    response_model=TimeWarningListAnswer,
    responses=error_responses(404, 422),
)
async def list_time_warnings(
    company_id: Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])],
    session: Session,
    settings: AppSettings,
    actor: Actor,
    status: Annotated[
        Literal["open", "ignored", "resolved"], Query(description="Which warnings (default open).", examples=["open"])
    ] = "open",
    employee_id: Annotated[
        int | None, Query(alias="employeeId", ge=1, le=MAX_ID, description="One employee's.", examples=[10])
    ] = None,
    warning_type: Annotated[
        Literal["OVER_LOGGED", "OVERLAPPING_LOG", "UNDER_LOGGED"] | None,
        Query(
            alias="type",
            description="One type. UNDER_LOGGED days are computed, and listed only when asked for by this filter.",
            examples=["OVER_LOGGED"],
        ),
    ] = None,
    start_date: Annotated[
        date | None, Query(description="First local day (inclusive).", examples=["2024-10-01"])
    ] = None,
    end_date: Annotated[date | None, Query(description="Last local day (inclusive).", examples=["2024-10-31"])] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, examples=[1])] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=10_000, description="At most TASKLOGS_MAX_PAGE_SIZE.", examples=[50])
    ] = 50,
) -> EnvelopeResponse:
    """Warnings of the company, newest day first: over-logged days (`OVER_LOGGED`), overlapping logs
    (`OVERLAPPING_LOG`, one per pair, naming both in `taskLogIds`) and, with `type=UNDER_LOGGED`, past working
    days below `TASKLOGS_MIN_DAILY_HOURS` (computed, default window the last 7 days). Admins, keys and team
    leaders see the company's; employees their own. Another company is a 404."""
    filters = WarningFilters(company_id, status, employee_id, warning_type, start_date, end_date)
    result = await service.list_time_warnings(
        session, settings, filters, page, min(page_size, settings.max_page_size), actor=actor
    )
    pagination = {"page": result.page, "pageSize": result.page_size, "total": result.total}
    return ok("Time warnings", result.warnings, pagination=pagination)


@router.post(
    "/api/time-warning/action/",
    operation_id="act_on_time_warnings",
    summary="Ignore, resolve or reopen time warnings",
    response_model=TimeWarningActionAnswer,
    responses=error_responses(422),
)
async def act_on_time_warnings(
    body: Annotated[TimeWarningAction, Body(openapi_examples=ACTION_EXAMPLES)], session: Session, actor: Actor
) -> EnvelopeResponse:
    """Change the status of warnings, all or none. Admins and keys act on any warning of their company;
    employees only resolve their own. An unknown id, or another company's, is a 422 `WARNING_NOT_FOUND`
    naming it (`warningIds[1]`), and nothing changes. Answers the updated warnings."""
    updated = await service.act_on_time_warnings(session, body.warning_ids, body.action, body.note, actor=actor)
    return ok("Time warnings updated", updated)
