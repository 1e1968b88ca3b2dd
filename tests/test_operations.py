"""What operators and orchestrators see: probes, metrics, request ids, logs, limits, outages."""

import json
import re
import uuid
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.database import create_engine
from app.main import create_app
from tests.conftest import PG_ADMIN_URL, app_and_client
from tests.factories import SEED_BULK, log, seed

NO_DATABASE = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


@asynccontextmanager
async def app_on(backend, **settings):
    """A client of an app with these settings (no credentials needed: auth disabled)."""
    app = create_app(backend.settings(auth_disabled=True, **settings))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield http


async def test_liveness_answers_without_credentials_or_database(backend):
    # Points at a database that does not exist: liveness must not care.
    async with app_on(backend, database_url=NO_DATABASE) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": 1, "message": "ok", "data": None}


async def test_readiness_is_200_when_the_database_is_at_head(client):
    response = await client.get("/readyz/")
    assert response.status_code == 200
    assert response.json()["data"]["database"] == "ok"


async def test_readiness_is_503_when_the_database_is_unreachable(backend):
    async with app_on(backend, database_url=NO_DATABASE, readiness_timeout_seconds=1) as http:
        response = await http.get("/readyz")
        # Any other endpoint answers 503 too, never a 500 with a trace.
        write = await http.post("/tasklog/create/", json=log())
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == 0 and body["error_code"] == "SERVICE_UNAVAILABLE"
    assert write.status_code == 503 and write.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert write.headers["Retry-After"]


async def test_a_database_out_of_connections_is_503_not_500(backend, postgres_only):
    # PostgreSQL refuses the connection with SQLSTATE 53300 ("too many connections"): the server's
    # state, not the request's, so the client is told to retry, not that the service has a bug.
    role = f"tasklogs_full_{uuid.uuid4().hex[:8]}"
    admin = create_engine(backend.settings(database_url=PG_ADMIN_URL))
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0'))
    try:
        full = make_url(backend.url).set(username=role).render_as_string(hide_password=False)
        async with app_on(backend, database_url=full) as http:
            read = await http.get("/taskLogs/task/1/")
            write = await http.post("/tasklog/create/", json=log())
        for response in (read, write):
            assert response.status_code == 503
            assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"
            assert response.headers["Retry-After"]
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP ROLE "{role}"'))
        await admin.dispose()


async def test_readiness_is_503_when_migrations_are_behind(backend, tmp_path):
    if backend.name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    else:
        url = make_url(PG_ADMIN_URL).render_as_string(hide_password=False)  # the admin db: no alembic_version
    engine = create_engine(backend.settings(database_url=url))
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32))"
                if backend.name == "sqlite"
                else "SELECT 1"
            )
        )
    await engine.dispose()
    async with app_on(backend, database_url=url) as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error_code"] == "SERVICE_UNAVAILABLE"


def _metric(text_body: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text_body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_metrics_count_a_bulk_upload(client):
    await seed(client, project_hours=5)
    before = (await client.get("/metrics")).text
    await client.post("/tasklogs/bulk/create/10/", json=SEED_BULK)
    await client.post("/tasklogs/bulk/create/10/", json=SEED_BULK)  # all three skipped
    after = (await client.get("/metrics")).text

    def delta(name: str, **labels: str) -> float:
        return _metric(after, name, **labels) - _metric(before, name, **labels)

    assert delta("tasklogs_task_logs_created_total") == 3
    assert delta("tasklogs_duplicates_skipped_total") == 3
    assert delta("tasklogs_notifications_sent_total") == 2  # 5 h crossed: admins 1 and 2
    assert delta("tasklogs_http_requests_total", route="/tasklogs/bulk/create/{user_id}/", status="200") == 2
    assert delta("tasklogs_http_request_duration_seconds_count", route="/tasklogs/bulk/create/{user_id}/") == 2
    assert "tasklogs_db_pool_connections_in_use" in after


async def test_a_rolled_back_write_counts_nothing(client):
    await seed(client)
    await client.post("/tasklog/create/", json=log())
    before = (await client.get("/metrics")).text
    duplicate = await client.post("/tasklog/create/", json=log())
    assert duplicate.status_code == 409
    after = (await client.get("/metrics")).text
    assert _metric(after, "tasklogs_task_logs_created_total") == _metric(before, "tasklogs_task_logs_created_total")
    assert _metric(after, "tasklogs_duplicates_skipped_total") == _metric(before, "tasklogs_duplicates_skipped_total")


async def test_metrics_can_require_a_token(backend):
    async with app_and_client(backend, metrics_token="scrape-me") as (_, http):
        denied = await http.get("/metrics")
        allowed = await http.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert denied.status_code == 401 and denied.json()["status"] == 0
    assert allowed.status_code == 200 and "tasklogs_http_requests_total" in allowed.text


async def test_request_id_is_echoed_or_generated_and_in_error_bodies(client):
    given = await client.get("/tasklogs/999/", headers={"X-Request-ID": "trace-abc.123"})
    assert given.headers["X-Request-ID"] == "trace-abc.123"
    assert given.json()["requestId"] == "trace-abc.123"
    generated = await client.get("/tasklogs/999/")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])
    assert generated.json()["requestId"] == generated.headers["X-Request-ID"]
    # A header that could forge log lines is replaced, not echoed.
    forged = await client.get("/healthz", headers={"X-Request-ID": 'a" injected=1'})
    assert forged.headers["X-Request-ID"] != 'a" injected=1'


async def test_one_json_access_line_per_request_without_secrets(backend, capsys):
    async with app_and_client(backend, log_format="json") as (_, http):
        await seed(http)
        capsys.readouterr()
        token = backend.token(10)
        await http.get("/tasks/250/", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-42"})
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "tasklogs.access"]
    assert len(access) == 1
    assert {k: access[0][k] for k in ("method", "route", "status", "request_id", "principal")} == {
        "method": "GET",
        "route": "/tasks/{taskId}/",
        "status": 200,
        "request_id": "req-42",
        "principal": "employee:10",
    }
    assert access[0]["duration_ms"] >= 0
    assert token not in out and http.headers["X-API-Key"] not in out


async def test_request_body_over_the_limit_is_413_and_writes_nothing(backend):
    async with app_and_client(backend, max_body_bytes=2048) as (_, http):
        await seed(http)
        big = [
            log(start=f"2024-10-{day:02d}T09:00:00Z", end=f"2024-10-{day:02d}T10:00:00Z", description="x" * 200)
            for day in range(1, 29)
        ]
        response = await http.post("/tasklogs/bulk/create/10/", json=big)

        async def chunks():  # no Content-Length: counted as it arrives
            yield b"["
            for _ in range(100):
                yield json.dumps(log()).encode() + b","
            yield json.dumps(log()).encode() + b"]"

        streamed = await http.post(
            "/tasklogs/bulk/create/10/", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413 and response.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    assert streamed.status_code == 413 and streamed.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0


async def test_cors_is_off_by_default_and_allows_configured_origins(backend):
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    async with app_and_client(backend) as (_, http):
        off = await http.options("/tasklog/create/", headers=preflight)
    async with app_and_client(backend, cors_origins=["https://app.example.com"]) as (_, http):
        on = await http.options("/tasklog/create/", headers=preflight)
        other = await http.options("/tasklog/create/", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in off.headers
    assert on.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in other.headers


async def test_an_unexpected_error_is_a_500_envelope_without_internals(client, monkeypatch, caplog):
    from app.tasklogs import service

    async def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "get_task_log", broken)
    transport = httpx.ASGITransport(app=client._transport.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=client.headers) as http:
        response = await http.get("/tasklogs/1/")
    assert response.status_code == 500
    assert response.json()["error_code"] == "INTERNAL_ERROR"
    assert "secret internals" not in response.text
    assert "secret internals" in caplog.text  # logged for the operators


async def test_readiness_tells_only_ready_or_not_without_the_metrics_token(backend, tmp_path):
    """Anyone may probe /readyz; the schema revision and the reason it is not ready (an exception
    class, the revisions) are told only to a caller with the metrics token."""
    await backend.clean()
    async with app_on(backend, metrics_token="m" * 32) as http:
        anonymous = await http.get("/readyz")
        operator = await http.get("/readyz", headers={"Authorization": "Bearer " + "m" * 32})
        wrong = await http.get("/readyz", headers={"Authorization": "Bearer " + "m" * 31 + "x"})
    assert anonymous.status_code == operator.status_code == wrong.status_code == 200
    assert anonymous.json()["data"] == wrong.json()["data"] == {"database": "ok"}
    assert operator.json()["data"]["schemaRevision"]

    for url in (NO_DATABASE, f"sqlite+aiosqlite:///{tmp_path}/unmigrated.db"):
        async with app_on(backend, database_url=url, metrics_token="m" * 32, readiness_timeout_seconds=1) as http:
            anonymous = await http.get("/readyz")
            operator = await http.get("/readyz", headers={"Authorization": "Bearer " + "m" * 32})
        assert anonymous.status_code == operator.status_code == 503
        assert anonymous.json()["message"] == "Not ready."
        assert anonymous.json()["message"] != operator.json()["message"]
        assert "Error" not in anonymous.text and "migrate" not in anonymous.text


async def test_readiness_without_a_metrics_token_setting_never_shows_details(client):
    response = await client.get("/readyz", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 200
    assert response.json()["data"] == {"database": "ok"}


async def test_the_metrics_token_is_compared_in_constant_time(backend, monkeypatch):
    import hmac

    from app.operations import router as operations_router

    calls = []
    compare_digest = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(operations_router.hmac, "compare_digest", spy)
    async with app_on(backend, metrics_token="m" * 32) as http:
        assert (await http.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32})).status_code == 200
        assert (await http.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await http.get("/metrics")).status_code == 401
    assert len(calls) == 3
