"""Authentication: a bearer JWT for people, an X-API-Key for services.

Both schemes are declared to OpenAPI (the Swagger UI's Authorize button),
but the headers are read here, so a malformed one gets its own error code."""

import re
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.key_cache import KeyCache, TrustedKey
from app.auth.key_usage import KeyUsage
from app.auth.principal import ANONYMOUS, Principal
from app.auth.rate_limits import RateLimited, RateLimiter
from app.auth.repository import ApiKeyRepository, KeyAccess
from app.auth.tokens import TokenError, decode_token
from app.core.database import Session
from app.core.errors import AppError
from app.core.schemas import MAX_ID
from app.core.timeutil import iso_utc, utcnow
from app.reference.repository import ReferenceRepository

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerAuth",
    description="A person's JWT: `sub` is the employee id. Locally: `tasklogs token --employee-id 10`.",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKeyAuth",
    description="A service's key, made with `tasklogs apikey create --name NAME [--company-id ID] "
    "[--expires-in-days D] [--rate-limit N]`. An expired key answers 401 API_KEY_EXPIRED.",
)


class Unauthorized(AppError):
    def __init__(self, code: str, message: str, *, invalid_token: bool = False) -> None:
        challenge = 'Bearer realm="tasklogs"' + (', error="invalid_token"' if invalid_token else "")
        super().__init__(message, code, 401, headers={"WWW-Authenticate": challenge})


async def current_principal(
    request: Request,
    session: Session,
    _bearer: Annotated[object, Security(bearer_scheme)] = None,
    _api_key: Annotated[object, Security(api_key_scheme)] = None,
) -> Principal:
    return await authenticate_once(request, session)


async def authenticate_once(request: Request, session: AsyncSession) -> Principal:
    """`authenticate`, remembered for the rest of the request: a write sent
    with an Idempotency-Key is authenticated by its route before the handler
    runs (keys are kept per caller), and the handler's `Actor` reuses it."""
    known = getattr(request.state, "actor", None)
    if isinstance(known, Principal):
        over_limit = getattr(request.state, "over_limit", None)
        if isinstance(over_limit, RateLimited):
            raise over_limit  # counted once per request, however often asked
        return known
    principal = await authenticate(request, session)
    request.state.actor = principal
    request.state.principal = principal.label  # for the access log line
    await _spend_rate_limit(request, principal)
    return principal


async def _spend_rate_limit(request: Request, principal: Principal) -> None:
    """Count the request against the caller's quota. The RateLimit header
    fields go on the answer whatever it is (the access middleware adds
    them); above the quota the answer is 429 RATE_LIMITED."""
    limiter: RateLimiter = request.app.state.rate_limiter
    budget = await limiter.spend(principal)
    if budget is None:
        return
    request.state.answer_headers = budget.headers()
    if budget.exceeded:
        whom = "an employee" if principal.kind == "employee" else "this API key"
        request.state.over_limit = RateLimited(budget, whom)
        raise request.state.over_limit


async def authenticate(request: Request, session: AsyncSession) -> Principal:
    settings = request.app.state.settings
    if settings.auth_disabled:
        return ANONYMOUS
    header = request.headers.get("authorization")
    if header is None:
        # A person's token, when both are sent, says more precisely who acts.
        return await _key_principal(request, session, request.headers.get("x-api-key"))
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "INVALID_ACCESS_TOKEN", "The Authorization header must be 'Bearer <token>'.", invalid_token=True
        )
    verification = request.app.state.jwt_key
    if verification is None:
        raise Unauthorized("INVALID_ACCESS_TOKEN", "This service accepts API keys only.", invalid_token=True)
    try:
        claims = decode_token(token.strip(), verification, settings)
    except TokenError as exc:
        raise Unauthorized(exc.code, exc.message, invalid_token=True) from exc
    employee_id = _employee_id(claims.get("sub"))
    if employee_id is None:
        raise Unauthorized("INVALID_ACCESS_TOKEN", "The token's subject is not an employee id.", invalid_token=True)
    company_id = claims.get("company_id")
    if company_id is None:
        raise Unauthorized("INVALID_ACCESS_TOKEN", "The token has no 'company_id' claim.", invalid_token=True)
    employee = (await ReferenceRepository(session).employee_contexts({employee_id})).get(employee_id)
    if employee is None:
        raise Unauthorized("USER_NOT_FOUND", f"Employee {employee_id} is not known to this service.")
    if isinstance(company_id, bool) or str(company_id) != str(employee.company_id):
        raise Unauthorized(
            "INVALID_ACCESS_TOKEN", "The token's company does not match the employee's.", invalid_token=True
        )
    if not employee.is_active:
        raise Unauthorized("USER_INACTIVE", f"Employee {employee_id} is inactive.")
    return Principal(
        kind="employee",
        label=f"employee:{employee_id}",
        employee_id=employee_id,
        company_id=employee.company_id,
        is_admin=employee.is_admin,
        is_team_leader=employee.is_team_leader,
    )


# An employee id as the platform writes it: ASCII digits, no sign, no
# leading zero, no separators, within a signed 64-bit integer. `int()`
# alone would read " 103", "0103", "1_03", "+103" and "١٠٣" as 103.
_EMPLOYEE_ID = re.compile("[1-9][0-9]{0,18}")


def _employee_id(sub: object) -> int | None:
    if not isinstance(sub, str) or _EMPLOYEE_ID.fullmatch(sub) is None:
        return None
    employee_id = int(sub)
    return employee_id if employee_id <= MAX_ID else None


async def _key_principal(request: Request, session: AsyncSession, key: str | None) -> Principal:
    if key is None:
        raise Unauthorized("NO_ACCESS_TOKEN", "Send 'Authorization: Bearer <token>' or an 'X-API-Key' header.")
    key = key.strip()
    now = utcnow()
    cache: KeyCache = request.app.state.key_cache
    trusted = cache.get(key)
    if trusted is None:
        row = await ApiKeyRepository(session).unrevoked_by_key(key)
        if row is None:
            raise Unauthorized("INVALID_API_KEY", "The API key is unknown or revoked.")
        trusted = TrustedKey(row.id, _key_holder(row), row.expires_at)
        if not trusted.expired(now):
            cache.remember(key, trusted)
    # Checked on every request, cached or not: a remembered key stops at its expiry.
    if trusted.expires_at is not None and trusted.expired(now):
        raise Unauthorized("API_KEY_EXPIRED", f"The API key expired at {iso_utc(trusted.expires_at)}.")
    usage: KeyUsage = request.app.state.key_usage
    usage.used(trusted.key_id, now)
    return trusted.principal


def _key_holder(row: KeyAccess) -> Principal:
    """A company key acts as its company's admin; a key without a company, as the platform."""
    label = f"apikey:{row.id}"
    if row.company_id is None:
        return Principal(kind="platform_key", label=label, rate_limit_per_minute=row.rate_limit_per_minute)
    return Principal(
        kind="company_key", label=label, company_id=row.company_id, rate_limit_per_minute=row.rate_limit_per_minute
    )


Actor = Annotated[Principal, Depends(current_principal)]
