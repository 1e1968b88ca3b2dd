"""`tasklogs token` and `tasklogs apikey ...`."""

import argparse
import sys

from app.auth.repository import ApiKeyRepository, new_key
from app.auth.tokens import issue_token
from app.core.database import create_engine, make_sessionmaker
from app.core.settings import Settings
from app.core.timeutil import iso_utc
from app.models import Company
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
                if args.company_id is not None and not await ReferenceRepository(session).exists(
                    Company, args.company_id
                ):
                    print(f"company {args.company_id} is not in the mirror", file=sys.stderr)
                    return 1
                key = new_key()
                row = await repo.add(args.name, args.company_id, key)
                scope = f"company {row.company_id} (admin)" if row.company_id else "platform"
                print(f"# key {row.id} '{row.name}' for {scope}; shown only now:", file=sys.stderr)
                print(key)
            elif args.action == "list":
                for row in await repo.all():
                    state = f"revoked {iso_utc(row.revoked_at)}" if row.revoked_at else "active"
                    scope = f"company {row.company_id}" if row.company_id else "platform"
                    print(f"{row.id}\t{row.prefix}...\t{row.name}\t{scope}\t{state}\tcreated {iso_utc(row.created_at)}")
            elif args.action == "revoke":
                if not await repo.revoke(args.key_id):
                    print(f"no active key {args.key_id}", file=sys.stderr)
                    return 1
                print(f"key {args.key_id} revoked")
    finally:
        await engine.dispose()
    return 0
