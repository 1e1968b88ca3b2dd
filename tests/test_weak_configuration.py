"""Weak configuration is refused at start: a short JWT secret, a development
secret others can read. The embedded database file is its owner's only."""

import os
import stat

import pytest
from pydantic import ValidationError

from app.cli import main, migrate_to_head
from app.core import settings as settings_module
from app.core.settings import Settings
from app.main import create_app


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("secret", ["short", "x" * 31, "é" * 15])
def test_a_jwt_secret_shorter_than_32_bytes_is_refused(secret):
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(jwt_secret=secret)


def test_a_32_byte_secret_is_enough():
    assert Settings(jwt_secret="x" * 32).jwt_secret is not None
    assert Settings(jwt_secret="é" * 16).jwt_secret is not None  # bytes, not characters


def test_tasklogs_refuses_to_start_with_a_short_secret_and_says_why(monkeypatch, capsys):
    monkeypatch.setenv("TASKLOGS_JWT_SECRET", "changeme")
    settings_module.get_settings.cache_clear()
    try:
        assert main(["migrate"]) == 2
    finally:
        settings_module.get_settings.cache_clear()
    assert "refusing to start: TASKLOGS_JWT_SECRET must be at least 32 bytes" in capsys.readouterr().err


async def test_the_sqlite_file_and_the_development_secret_are_private(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/private.db"
    await migrate_to_head(url)
    assert _mode(tmp_path / "private.db") == 0o600
    app = create_app(Settings(database_url=url))
    async with app.router.lifespan_context(app):
        pass
    assert _mode(tmp_path / "private.db.jwt-secret") == 0o600
    for extra in ("-wal", "-shm"):
        if (tmp_path / f"private.db{extra}").exists():
            assert _mode(tmp_path / f"private.db{extra}") & 0o077 == 0, extra


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
async def test_a_development_secret_readable_by_others_is_refused(tmp_path, mode):
    url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    await migrate_to_head(url)
    secret = tmp_path / "shared.db.jwt-secret"
    secret.write_text("s" * 64)
    secret.chmod(mode)
    app = create_app(Settings(database_url=url))
    with pytest.raises(RuntimeError, match="readable by group or others"):
        async with app.router.lifespan_context(app):
            pass
    secret.chmod(0o600)
    async with app.router.lifespan_context(app):
        pass


async def test_a_short_development_secret_is_refused(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/weak.db"
    await migrate_to_head(url)
    secret = tmp_path / "weak.db.jwt-secret"
    secret.write_text("abc")
    secret.chmod(0o600)
    app = create_app(Settings(database_url=url))
    with pytest.raises(RuntimeError, match="shorter than 32 bytes"):
        async with app.router.lifespan_context(app):
            pass
