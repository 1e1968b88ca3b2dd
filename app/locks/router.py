"""A company's lock date and its history."""

from typing import Annotated

from fastapi import Path, Query

from app.auth.dependencies import Actor
from app.core.database import Session
from app.core.responses import EnvelopeResponse, ok
from app.core.routing import Router
from app.core.schemas import AUTH_ERRORS, MAX_ID, error_responses
from app.locks import service
from app.locks.schemas import CompanyHistoryPage, LockAnswer, LockIn

router = Router(tags=["Locked periods"], responses=AUTH_ERRORS)
CompanyId = Annotated[int, Path(alias="companyId", ge=1, le=MAX_ID)]


@router.put(
    "/companies/{companyId}/lock/",
    operation_id="set_company_lock",
    summary="Lock the company's logs up to a day",
    response_model=LockAnswer,
    responses=error_responses(403, 404, 422),
)
async def set_company_lock(company_id: CompanyId, body: LockIn, session: Session, actor: Actor) -> EnvelopeResponse:
    """Every log whose start falls on or before `lockedThrough` (a local day, in the log's employee's zone)
    can no longer be created, edited, deleted or restored: those writes answer 409 `PERIOD_LOCKED` (an item
    error in a bulk upload), and so does a timer started or stopped there. Moving the date backwards unlocks;
    `null` unlocks everything. Admins of the company and keys only; every move is recorded in
    `GET /companies/{companyId}/history/`. Writes in flight finish first; later ones see the new date."""
    return ok("Lock date saved", await service.set_lock_date(session, company_id, body.locked_through, actor=actor))


@router.get(
    "/companies/{companyId}/history/",
    operation_id="get_company_history",
    summary="The company's recorded changes",
    response_model=CompanyHistoryPage,
    responses=error_responses(403, 404, 422),
)
async def get_company_history(
    company_id: CompanyId,
    session: Session,
    actor: Actor,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
) -> EnvelopeResponse:
    """Who moved the company's lock date, when, from what to what; oldest first. For its team leaders,
    admins and keys."""
    data, total = await service.company_history(session, company_id, page, page_size, actor=actor)
    return ok("Company history", data, pagination={"page": page, "pageSize": page_size, "total": total})
