"""ruff (lint and format) and mypy stay clean (their configuration is in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


CODE = ["app", "tests", "migrations", "bench", "scripts"]


@pytest.mark.parametrize(
    "tool",
    [["ruff", "check", *CODE], ["ruff", "format", "--check", *CODE], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_static_checks_pass(tool):
    executable = shutil.which(tool[0], path=str(Path(sys.executable).parent)) or shutil.which(tool[0])
    assert executable, f"{tool[0]} is a test dependency: pip install -e '.[test]'"
    done = subprocess.run(  # noqa: S603 (our own tools, fixed arguments)
        [executable, *tool[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
