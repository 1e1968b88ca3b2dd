"""Outside tools the contract tests run (npm's linters, hadolint): found, or
the test is skipped with the reason, except under CI (CI=true), where a
missing tool fails the test: CI must run every check."""

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.settings import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own tool invocations
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def served_openapi(directory: Path, **settings: Any) -> dict[str, Any]:
    """/openapi.json as the service serves it (building it needs no database)."""
    app = create_app(
        Settings(database_url=f"sqlite+aiosqlite:///{directory}/unused.db", jwt_secret="x" * 40, **settings)
    )

    async def fetch() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            answer = await http.get("/openapi.json")
            assert answer.status_code == 200
            return dict(answer.json())

    return asyncio.run(fetch())
