"""`tasklogs token` and `tasklogs apikey ...`."""

import argparse
import sys
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.repository import ApiKeyRepository, new_key
from app.auth.tokens import issue_token
from app.core.database import create_engine, make_sessionmaker
from app.core.settings import Settings
from app.core.timeutil import iso_utc, utcnow
from app.models import ApiKey, Company
from app.reference.repository import ReferenceRepository


async def print_token(settings: Settings, employee_id: int, hours: float) -> int:
    engine = create_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            employee = (await ReferenceRepository(session).employee_contexts({employee_id})).get(employee_id)
    finally:
        await engine.dispose()
    if employee is None:
        print(
            f"employee {employee_id} is not in the mirror (PUT /employees/{employee_id}/ or `tasklogs demo`)",
            file=sys.stderr,
        )
        return 1
    try:
        print(issue_token(settings, employee_id, employee.company_id, hours=hours))
    except RuntimeError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


async def apikey_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            repo = ApiKeyRepository(session)
            if args.action == "create":
                return await _create_key(settings, session, repo, args)
            if args.action == "list":
                now = utcnow()
                for row in await repo.all():
                    print(_listing(row, settings, now))
            elif args.action == "revoke":
                if not await repo.revoke(args.key_id):
                    print(f"no active key {args.key_id}", file=sys.stderr)
                    return 1
                print(f"key {args.key_id} revoked")
    finally:
        await engine.dispose()
    return 0


async def _create_key(
    settings: Settings, session: AsyncSession, repo: ApiKeyRepository, args: argparse.Namespace
) -> int:
    if args.company_id is not None and not await ReferenceRepository(session).exists(Company, args.company_id):
        print(f"company {args.company_id} is not in the mirror", file=sys.stderr)
        return 1
    expires_at = utcnow() + timedelta(days=args.expires_in_days) if args.expires_in_days else None
    key = new_key()
    row = await repo.add(args.name, args.company_id, key, expires_at=expires_at, rate_limit_per_minute=args.rate_limit)
    scope = f"company {row.company_id} (admin)" if row.company_id else "platform"
    if expires_at is None:
        print(
            f"warning: key {row.id} never expires; revoke it when it is no longer needed "
            f"(tasklogs apikey revoke {row.id})",
            file=sys.stderr,
        )
    print(
        f"# key {row.id} '{row.name}' for {scope}, {_expiry(row)}, {_limit(row, settings)}; shown only now:",
        file=sys.stderr,
    )
    print(key)
    return 0


def _listing(row: ApiKey, settings: Settings, now: datetime) -> str:
    """One key a line, tab-separated: id, prefix, name, scope, state, created, expiry, last use, limit."""
    if row.revoked_at:
        state = f"revoked {iso_utc(row.revoked_at)}"
    elif row.expires_at is not None and row.expires_at <= now:
        state = "expired"
    else:
        state = "active"
    scope = f"company {row.company_id}" if row.company_id else "platform"
    last_used = f"last used {iso_utc(row.last_used_at)}" if row.last_used_at else "never used"
    return "\t".join(
        [
            str(row.id),
            f"{row.prefix}...",
            row.name,
            scope,
            state,
            f"created {iso_utc(row.created_at)}",
            _expiry(row),
            last_used,
            _limit(row, settings),
        ]
    )


def _expiry(row: ApiKey) -> str:
    return f"expires {iso_utc(row.expires_at)}" if row.expires_at else "never expires"


def _limit(row: ApiKey, settings: Settings) -> str:
    if row.rate_limit_per_minute is not None:
        return f"{row.rate_limit_per_minute}/min"
    if settings.rate_limit_per_minute:
        return f"{settings.rate_limit_per_minute}/min (default)"
    return "no limit (default)"
