"""The container image and compose file (no Docker engine on our machines:
they are checked as files, and every command they run is run by this suite)."""

import re
from pathlib import Path

import httpx
import pytest
import yaml

from tests.live_server import live_service

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_is_multi_stage_non_root_with_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.MULTILINE)
    assert len(stages) >= 2 and all("slim" in image for image, _ in stages)
    assert "-c constraints.txt" in text  # the pinned set
    assert re.search(r"^USER tasklogs$", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n?.*?/healthz", text, re.MULTILINE)
    assert 'ENTRYPOINT ["tasklogs"]' in text and 'CMD ["serve"]' in text


def test_compose_runs_postgres_a_one_shot_migration_and_two_api_workers():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "migrate", "api"}
    assert "pgdata" in compose["volumes"] and any("pgdata" in v for v in services["db"]["volumes"])
    assert services["db"]["healthcheck"]["test"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["api"]["command"] == ["serve", "--workers", "2"]
    assert services["api"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
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
