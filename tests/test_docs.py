"""The README does not lie: its settings table is the code's, and CI runs its test command."""

import re
from pathlib import Path

from app.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_readme_and_nothing_else():
    documented = set(re.findall(r"^\| `(TASKLOGS_[A-Z_]+)` \|", README, re.MULTILINE))
    assert documented == {f"TASKLOGS_{name.upper()}" for name in Settings.model_fields}


def test_ci_runs_the_readmes_test_command():
    commands = re.findall(r"```sh\n(python3 -m venv .venv && .*?)\n```", README)
    assert len(commands) == 2, "the README starts with two commands"
    serve, test = commands
    assert "tasklogs serve" in serve and "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text()


def test_the_readme_links_resolve():
    for link in re.findall(r"\]\(((?!http)[^)#]+)\)", README):
        assert (ROOT / link).exists(), link
