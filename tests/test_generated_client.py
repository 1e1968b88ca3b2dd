"""A client generated from /openapi.json works (issue 18, point 13).

`openapi-python-client` (pinned in the test extra) generates a Python client
from the live service's document; the test imports it and, against the
real service (`tasklogs serve` on SQLite and on PostgreSQL, with the demo
company), bulk-creates, lists, edits with If-Match, reads a 412's current
log, deletes and fetches a CSV timesheet, all through the client's typed
models."""

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import fresh_postgres_database
from tests.live_server import live_service
from tests.tools import unavailable

PACKAGE = "tasklogs_client"
_GENERATED: dict[str, Path] = {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('client')}/client.db"
    else:
        url = fresh_postgres_database()
    with live_service(url) as (base, key):
        yield base, key


def _generate(base: str, directory: Path) -> Path:
    """The client package generated from the service's /openapi.json, in `directory`."""
    generator = Path(sys.executable).parent / "openapi-python-client"
    if not generator.exists():
        unavailable(f"openapi-python-client is not installed beside {sys.executable} (pip install -e '.[test]')")
    # The generator formats its output with ruff, which sits beside it.
    env = {**os.environ, "PATH": f"{generator.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(  # noqa: S603 - the pinned generator, on our own document
        [str(generator), "generate", "--url", f"{base}/openapi.json", "--meta", "none", "--output-path", PACKAGE],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    return directory


@pytest.fixture(scope="module")
def generated(live_api: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The generated package, imported (generated once: both databases serve one document)."""
    if PACKAGE not in _GENERATED:
        _GENERATED[PACKAGE] = _generate(live_api[0], tmp_path_factory.mktemp("generated"))
    sys.path.insert(0, str(_GENERATED[PACKAGE]))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(_GENERATED[PACKAGE]))


def _operation(tag: str, operation_id: str) -> Any:
    """The generated module of one operation (`api/<tag>/<operationId>.py`)."""
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation_id}")


def test_a_generated_client_does_the_daily_work(live_api, generated):
    base, key = live_api
    models = importlib.import_module(f"{PACKAGE}.models")
    client = generated.AuthenticatedClient(base_url=base, token=key, prefix="", auth_header_name="X-API-Key")

    # Bulk-create: two logs of employee 10 in local time (the demo company's zone).
    items = [
        models.TaskLogBulkItem(
            taskId=task, userId=10, startTime=f"2024-11-04T{start}:00", endTime=f"2024-11-04T{end}:00"
        )
        for task, start, end in [(250, "09", "10"), (251, "10", "12")]
    ]
    bulk = _operation("task_logs", "bulk_create_task_logs").sync(user_id=10, client=client, body=items)
    assert isinstance(bulk, models.BulkAnswer), bulk
    first, second = bulk.data.created
    assert (first.task_id, first.user_id, first.duration_seconds, first.version) == (250, 10, 3600, 1)
    assert first.start_time.isoformat() == "2024-11-04T08:00:00+00:00"  # 09:00 in Berlin

    # List the task's logs.
    listed = _operation("task_logs", "get_task_logs").sync(task_id=250, client=client)
    assert isinstance(listed, models.TaskLogsAnswer), listed
    assert first.task_log_id in [log.task_log_id for log in listed.data]

    # Edit with If-Match: the version read, then the same stale version again (412).
    update = _operation("task_logs", "update_task_log")
    edited = update.sync_detailed(
        task_log_id=first.task_log_id,
        client=client,
        body=models.TaskLogUpdate(description="Login form, reviewed"),
        if_match=f'"{first.version}"',
    )
    assert edited.status_code == 200 and isinstance(edited.parsed, models.TaskLogWriteAnswer), edited.content
    assert edited.parsed.data.version == 2 and edited.headers["ETag"] == '"2"'
    stale = update.sync_detailed(
        task_log_id=first.task_log_id,
        client=client,
        body=models.TaskLogUpdate(description="A lost update"),
        if_match=f'"{first.version}"',
    )
    assert stale.status_code == 412
    conflict = stale.parsed
    assert isinstance(conflict, models.VersionConflictAnswer), stale.content
    assert conflict.error_code == "VERSION_CONFLICT"
    assert (conflict.data.task_log_id, conflict.data.version) == (first.task_log_id, 2)
    assert conflict.data.description == "Login form, reviewed"

    # Delete the other one.
    deleted = _operation("task_logs", "delete_task_log").sync(pk=second.task_log_id, client=client)
    assert isinstance(deleted, models.DeleteAnswer), deleted
    assert deleted.data.task_log_id == second.task_log_id

    # The month as CSV: text, not JSON, with the edited log and without the deleted one.
    csv = _operation("timesheets", "export_employee_month_csv").sync_detailed(
        company_id=1, user_id=10, month="2024-11", client=client
    )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert isinstance(csv.parsed, str)
    lines = csv.parsed.strip().splitlines()
    assert len(lines) == 2 and "Login form, reviewed" in lines[1]
