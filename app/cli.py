"""The `tasklogs` command: serve, worker, migrate, demo."""

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from pydantic import ValidationError

import migrations
from app.core.database import create_engine
from app.core.settings import get_settings


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.attributes["configure_logging"] = False
    return cfg


async def migrate_to_head(database_url: str | None = None) -> None:
    """Upgrade the database to the newest migration (creates the SQLite file if needed)."""
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    engine = create_engine(settings)
    cfg = alembic_config()

    def upgrade(sync_conn) -> None:  # type: ignore[no-untyped-def]
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with engine.connect() as conn:
        await conn.run_sync(upgrade)
        await conn.commit()
    await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tasklogs", description="Task Logs service")
    sub = parser.add_subparsers(dest="cmd", required=True)
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            print(f"tasklogs: refusing to start: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    serve = sub.add_parser("serve", help="run the HTTP API with uvicorn")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=settings.port)
    serve.add_argument("--workers", type=int, default=settings.workers)
    sub.add_parser("worker", help="deliver webhooks (and NATS events) from the outbox, until interrupted")
    sub.add_parser("migrate", help="upgrade the database schema to the newest migration")
    sub.add_parser("demo", help="load a small demo company (idempotent)")
    token = sub.add_parser("token", help="print a bearer token for an employee of the mirror (development)")
    token.add_argument("--employee-id", type=int, required=True)
    token.add_argument("--hours", type=float, default=8.0, help="lifetime (default 8 h)")
    apikey = sub.add_parser("apikey", help="manage service API keys")
    keys = apikey.add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--company-id", type=int, default=None, help="acts as that company's admin; without it, a platform key"
    )
    create.add_argument(
        "--expires-in-days",
        type=_bounded_int(0, 36_500),
        default=365,
        help="the key stops working after this many days (default 365; 0: never, which warns)",
    )
    create.add_argument(
        "--rate-limit",
        type=_bounded_int(1, 1_000_000),
        default=None,
        help="requests per minute for this key (default: TASKLOGS_RATE_LIMIT_PER_MINUTE, "
        f"{settings.rate_limit_per_minute})",
    )
    keys.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id", type=int)
    args = parser.parse_args(argv)

    if args.cmd == "serve":
        import uvicorn

        from app.auth.tokens import verification_key

        try:
            verification_key(settings)  # a weak development secret: say so before any worker starts
        except RuntimeError as exc:
            print(f"tasklogs: refusing to start: {exc}", file=sys.stderr)
            return 2
        if settings.migrate_on_start:
            asyncio.run(migrate_to_head())
        if args.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            # Each worker keeps its own counters; /metrics adds them up from here.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tasklogs-metrics-")
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=settings.log_level.lower(),
            log_config=None,
            access_log=False,
            proxy_headers=True,
            # In-flight requests get this long to finish on SIGTERM; the lifespan then closes the pool.
            timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
            timeout_keep_alive=settings.keep_alive_seconds,
        )
    elif args.cmd == "worker":
        from app.core.observability import configure_logging
        from app.webhooks.dispatcher import run_worker

        configure_logging(settings)
        asyncio.run(run_worker(settings))
    elif args.cmd == "migrate":
        asyncio.run(migrate_to_head())
        print(f"database at head: {_safe_url(settings.database_url)}")
    elif args.cmd == "demo":
        from app.demo import load_demo

        print(asyncio.run(load_demo(settings)))
    elif args.cmd == "token":
        from app.auth.cli import print_token

        return asyncio.run(print_token(settings, args.employee_id, args.hours))
    elif args.cmd == "apikey":
        from app.auth.cli import apikey_command

        return asyncio.run(apikey_command(settings, args))
    return 0


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
