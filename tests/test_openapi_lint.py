"""The published document passes the linters API consumers run:
Spectral (`spectral:oas`) with no error and no warning, and Redocly
(`recommended`) with no error. Each ruleset's one exception (our paths end in
`/`, as Dyzo's do) is switched off, with the reason, in tools/openapi-lint/.

Both linters are the npm packages pinned in tools/openapi-lint/package-lock.json,
installed there with `npm ci` on the first run (the README's test command
installs only Python packages). Without npm the test is skipped with a
message, except under CI, where it fails."""

import json
import shutil
from pathlib import Path

import pytest

from tests.tools import ROOT, run, served_openapi, unavailable

LINT = ROOT / "tools" / "openapi-lint"


@pytest.fixture(scope="module")
def linters() -> Path:
    """tools/openapi-lint with its node_modules installed as the lock file says."""
    if shutil.which("npm") is None or shutil.which("npx") is None:
        unavailable("node and npm are needed to run Spectral and Redocly (apt-get install nodejs npm)")
    installed = LINT / "node_modules" / ".package-lock.json"
    lock = LINT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        # --ignore-scripts: the linters need none, and one dependency's install script only reports usage.
        done = run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--cache", str(LINT / ".npm-cache")], cwd=LINT
        )
        if done.returncode != 0:
            unavailable(f"npm ci in {LINT} failed: {done.stderr[-2000:]}")
    return LINT


@pytest.fixture(scope="module")
def openapi_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/openapi.json as the service serves it (the document needs no database)."""
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_text(json.dumps(served_openapi(path.parent), indent=1))
    return path


def test_spectral_finds_no_error_and_no_warning(linters: Path, openapi_file: Path) -> None:
    done = run(
        [
            "npx",
            "--no-install",
            "spectral",
            "lint",
            "--ruleset",
            "spectral.yaml",
            "--fail-severity",
            "warn",
            str(openapi_file),
        ],
        cwd=linters,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_redocly_finds_no_error(linters: Path, openapi_file: Path) -> None:
    done = run(["npx", "--no-install", "redocly", "lint", "--config", "redocly.yaml", str(openapi_file)], cwd=linters)
    assert done.returncode == 0, done.stdout + done.stderr
