"""The `tasklogs` command: serve, migrate, demo."""

import argparse
import asyncio
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

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
    settings = get_settings()
    serve = sub.add_parser("serve", help="run the HTTP API with uvicorn")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=settings.port)
    serve.add_argument("--workers", type=int, default=settings.workers)
    sub.add_parser("migrate", help="upgrade the database schema to the newest migration")
    sub.add_parser("demo", help="load a small demo company (idempotent)")
    args = parser.parse_args(argv)

    if args.cmd == "serve":
        import uvicorn

        uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                    log_level=settings.log_level.lower())
    elif args.cmd == "migrate":
        asyncio.run(migrate_to_head())
        print(f"database at head: {_safe_url(settings.database_url)}")
    elif args.cmd == "demo":
        from app.demo import load_demo

        print(asyncio.run(load_demo(settings)))
    return 0


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
