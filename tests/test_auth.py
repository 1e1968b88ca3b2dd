"""Who may do what: every endpoint against every kind of caller."""

import argparse
import contextlib
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from unittest import mock

import jwt
import pytest

from app.auth import key_cache
from app.auth.cli import apikey_command, print_token
from app.auth.repository import ApiKeyRepository, new_key
from app.core.database import make_sessionmaker
from app.main import create_app
from tests.conftest import TEST_JWT_SECRET, app_and_client
from tests.factories import log, put, seed

_minutes = itertools.count()


def fresh_log(user_id: int = 10, task_id: int = 250) -> dict:
    """A log with a start time no other test log has (so it never collides)."""
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_minutes) * 7)
    return log(
        task_id,
        user_id,
        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        (start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


class Callers:
    """Headers for each kind of caller of company 1 (and one of company 2)."""

    def __init__(self, backend, keys):
        self.backend = backend
        self.keys = keys

    def bearer(self, employee_id, company_id=1):
        return {"Authorization": f"Bearer {self.backend.token(employee_id, company_id)}"}

    def __call__(self, role):
        now = datetime.now(UTC)
        if role == "employee":
            return self.bearer(10)
        if role == "team_leader":
            return self.bearer(13)
        if role == "admin":
            return self.bearer(1)
        if role == "other_admin":
            return self.bearer(20, 2)
        if role in ("company_key", "platform_key", "revoked_key"):
            return {"X-API-Key": self.keys[role]}
        if role == "no_token":
            return {}
        if role == "expired_token":
            token = jwt.encode({"sub": "10", "company_id": 1, "exp": now - timedelta(hours=1)}, TEST_JWT_SECRET)
            return {"Authorization": f"Bearer {token}"}
        if role == "wrong_signature":
            claims = {"sub": "10", "company_id": 1, "exp": now + timedelta(hours=1)}
            token = jwt.encode(claims, "not-the-secret-but-just-as-long-as-a-real-one")
            return {"Authorization": f"Bearer {token}"}
        if role == "malformed_header":
            return {"Authorization": "Token abc"}
        raise AssertionError(role)


@pytest.fixture
async def anon_client(backend):
    """A client with no default credentials; each request names its caller."""
    await backend.clean()
    async with app_and_client(backend) as (_, http):
        await seed(http)
        await put(http, "/employees/13/", {"companyId": 1, "name": "Tia Lead", "isTeamLeader": True})
        keys = {
            "platform_key": http.headers["X-API-Key"],
            "company_key": await backend.api_key("billing", company_id=1),
            "revoked_key": await backend.api_key("old"),
        }
        await backend.execute("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE name = 'old'")
        del http.headers["X-API-Key"]
        yield http, Callers(backend, keys)


AUTH_FAILURES = {
    "no_token": "NO_ACCESS_TOKEN",
    "expired_token": "TOKEN_EXPIRED",
    "wrong_signature": "INVALID_ACCESS_TOKEN",
    "malformed_header": "INVALID_ACCESS_TOKEN",
    "revoked_key": "INVALID_API_KEY",
}
ROLES = ["employee", "team_leader", "admin", "company_key", "platform_key", "other_admin"]


async def create_as_platform(http, callers, user_id=10):
    response = await http.post("/tasklog/create/", json=fresh_log(user_id), headers=callers("platform_key"))
    assert response.status_code == 200, response.text
    return response.json()["data"]["taskLogId"]


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error_code"] == code


ENDPOINTS = [
    ("POST", "/tasklog/create/"),
    ("POST", "/tasklogs/bulk/create/10/"),
    ("GET", "/taskLogs/task/250/"),
    ("GET", "/tasklogs/1/"),
    ("PUT", "/tasklogs/1/"),
    ("PATCH", "/tasklogs/1/"),
    ("DELETE", "/api/tasklogs/delete/1/"),
    ("GET", "/notifications/recipient/10/"),
    ("PATCH", "/api/notifications/read/1/"),
    ("GET", "/notifications/unread-count/10/"),
    ("POST", "/mark_notifications_as_read/10/"),
    ("PUT", "/companies/1/"),
    ("GET", "/companies/1/"),
    ("PUT", "/employees/10/"),
    ("GET", "/employees/10/"),
    ("PUT", "/projects/7/"),
    ("GET", "/projects/7/"),
    ("PUT", "/tasks/250/"),
    ("GET", "/tasks/250/"),
]


@pytest.mark.parametrize("failure", sorted(AUTH_FAILURES))
async def test_every_endpoint_refuses_a_missing_or_bad_credential(anon_client, backend, failure):
    http, callers = anon_client
    rows_before = await backend.scalar("SELECT count(*) FROM task_logs")
    for method, path in ENDPOINTS:
        response = await http.request(method, path, json={}, headers=callers(failure))
        assert response.status_code == 401, (method, path, response.text)
        body = response.json()
        assert body["status"] == 0 and body["error_code"] == AUTH_FAILURES[failure], (method, path, body)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await backend.scalar("SELECT count(*) FROM task_logs") == rows_before


async def test_health_and_docs_need_no_credentials(anon_client):
    http, _ = anon_client
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json"):
        assert (await http.get(path)).status_code == 200, path


WRITE_OWN_EXPECTED = {
    "employee": (200, None),
    "team_leader": (403, "FORBIDDEN"),
    "admin": (200, None),
    "company_key": (200, None),
    "platform_key": (200, None),
    "other_admin": (422, "USER_NOT_FOUND"),
}


@pytest.mark.parametrize("role", ROLES)
async def test_create_a_log_for_employee_10(anon_client, backend, role):
    """Employee 10 logs their own time; of the others only admins and keys may log it for them.
    For another company's admin employee 10 does not exist (same answer as an unknown id)."""
    http, callers = anon_client
    response = await http.post("/tasklog/create/", json=fresh_log(10), headers=callers(role))
    expect(response, *WRITE_OWN_EXPECTED[role])
    expected_rows = 1 if WRITE_OWN_EXPECTED[role][0] == 200 else 0
    assert await backend.scalar("SELECT count(*) FROM task_logs") == expected_rows


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("employee", (200, None)),
        ("team_leader", (403, "FORBIDDEN")),
        ("admin", (200, None)),
        ("company_key", (200, None)),
        ("platform_key", (200, None)),
        ("other_admin", (404, "USER_NOT_FOUND")),
    ],
)
async def test_bulk_create_for_employee_10(anon_client, backend, role, expected):
    http, callers = anon_client
    # Company 2's admin may act for others, but employee 10 does not exist for them.
    response = await http.post("/tasklogs/bulk/create/10/", json=[fresh_log(10)], headers=callers(role))
    expect(response, *expected)
    assert await backend.scalar("SELECT count(*) FROM task_logs") == (1 if expected[0] == 200 else 0)


async def test_an_admin_logging_into_another_companys_task_gets_not_found(anon_client, backend):
    http, callers = anon_client
    response = await http.post("/tasklog/create/", json=fresh_log(20, task_id=250), headers=callers("other_admin"))
    expect(response, 422, "TASK_NOT_FOUND")
    response = await http.post("/tasklog/create/", json=fresh_log(10, task_id=900), headers=callers("admin"))
    expect(response, 422, "TASK_NOT_FOUND")
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0


@pytest.mark.parametrize(
    ("role", "expected_count"),
    [
        ("employee", 1),
        ("team_leader", 2),
        ("admin", 2),
        ("company_key", 2),
        ("platform_key", 2),
        ("other_admin", None),
    ],
)
async def test_task_log_list_shows_own_logs_to_employees_and_all_to_leaders(anon_client, role, expected_count):
    http, callers = anon_client
    await create_as_platform(http, callers, 10)
    await create_as_platform(http, callers, 11)
    response = await http.get("/taskLogs/task/250/", headers=callers(role))
    if expected_count is None:
        expect(response, 404, "TASK_NOT_FOUND")
        return
    expect(response, 200)
    body = response.json()
    assert len(body["data"]) == expected_count
    assert body["summary"]["count"] == expected_count
    if role == "employee":
        assert {row["userId"] for row in body["data"]} == {10}


@pytest.mark.parametrize(
    ("role", "own", "other"),
    [
        ("employee", 200, 403),
        ("team_leader", 200, 200),
        ("admin", 200, 200),
        ("company_key", 200, 200),
        ("platform_key", 200, 200),
        ("other_admin", 404, 404),
    ],
)
async def test_reading_one_log(anon_client, role, own, other):
    http, callers = anon_client
    log_of_10 = await create_as_platform(http, callers, 10)
    log_of_11 = await create_as_platform(http, callers, 11)
    expect(await http.get(f"/tasklogs/{log_of_10}/", headers=callers(role)), own)
    expect(await http.get(f"/tasklogs/{log_of_11}/", headers=callers(role)), other)


EDIT_EXPECTED = {
    "employee": (200, None),
    "team_leader": (403, "FORBIDDEN"),
    "admin": (200, None),
    "company_key": (200, None),
    "platform_key": (200, None),
    "other_admin": (404, "TASK_LOG_NOT_FOUND"),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_editing_employee_10s_log(anon_client, backend, role, method):
    http, callers = anon_client
    log_id = await create_as_platform(http, callers, 10)
    response = await http.request(method, f"/tasklogs/{log_id}/", json={"description": "edited"}, headers=callers(role))
    expect(response, *EDIT_EXPECTED[role])
    stored = await backend.scalar("SELECT description FROM task_logs WHERE id = :id", id=log_id)
    assert (stored == "edited") == (EDIT_EXPECTED[role][0] == 200)


@pytest.mark.parametrize("role", ROLES)
async def test_deleting_employee_10s_log(anon_client, backend, role):
    http, callers = anon_client
    log_id = await create_as_platform(http, callers, 10)
    response = await http.delete(f"/api/tasklogs/delete/{log_id}/", headers=callers(role))
    expect(response, *EDIT_EXPECTED[role])
    remaining = await backend.scalar("SELECT count(*) FROM task_logs WHERE id = :id", id=log_id)
    assert remaining == (0 if EDIT_EXPECTED[role][0] == 200 else 1)


async def test_an_employee_cannot_move_their_log_to_a_colleague(anon_client, backend):
    http, callers = anon_client
    log_id = await create_as_platform(http, callers, 10)
    response = await http.patch(f"/tasklogs/{log_id}/", json={"userId": 11}, headers=callers("employee"))
    expect(response, 403, "FORBIDDEN")
    assert await backend.scalar("SELECT user_id FROM task_logs WHERE id = :id", id=log_id) == 10
    response = await http.patch(f"/tasklogs/{log_id}/", json={"userId": 11}, headers=callers("admin"))
    expect(response, 200)
    response = await http.patch(f"/tasklogs/{log_id}/", json={"taskId": 900}, headers=callers("admin"))
    expect(response, 422, "TASK_NOT_FOUND")


async def test_logs_record_who_created_and_who_last_updated_them(anon_client, backend):
    http, callers = anon_client
    created = await http.post("/tasklog/create/", json=fresh_log(10), headers=callers("employee"))
    body = created.json()["data"]
    assert body["createdBy"] == "employee:10" and body["updatedBy"] == "employee:10"
    edited = await http.patch(
        f"/tasklogs/{body['taskLogId']}/", json={"description": "fixed"}, headers=callers("admin")
    )
    assert edited.json()["data"]["createdBy"] == "employee:10"
    assert edited.json()["data"]["updatedBy"] == "employee:1"
    key_id = await backend.scalar("SELECT id FROM api_keys WHERE name = 'billing'")
    by_key = await http.post("/tasklog/create/", json=fresh_log(11), headers=callers("company_key"))
    assert by_key.json()["data"]["createdBy"] == f"apikey:{key_id}"
    rows = await backend.rows("SELECT created_by, updated_by FROM task_logs ORDER BY id")
    assert [tuple(r) for r in rows] == [("employee:10", "employee:1"), (f"apikey:{key_id}", f"apikey:{key_id}")]


NOTIFICATION_READ = {
    "employee": 200,
    "team_leader": 403,
    "admin": 403,
    "company_key": 403,
    "platform_key": 200,
    "other_admin": 404,
}


@pytest.mark.parametrize("role", ROLES)
async def test_notifications_are_read_by_their_recipient_only(anon_client, role):
    http, callers = anon_client
    status = NOTIFICATION_READ[role]
    for path in ("/notifications/recipient/10/", "/notifications/unread-count/10/"):
        expect(await http.get(path, headers=callers(role)), status)
    expect(await http.post("/mark_notifications_as_read/10/", headers=callers(role)), status)


async def test_marking_a_notification_read_follows_the_same_rule(anon_client, backend):
    http, callers = anon_client
    await put(
        http.__class__(transport=http._transport, base_url=http.base_url, headers=callers("platform_key")),
        "/projects/7/",
        {"companyId": 1, "name": "Website", "allocatedHours": 0.01},
    )
    await create_as_platform(http, callers, 10)  # crosses 0.01 h: admins 1 and 2 are notified
    notification_id = await backend.scalar("SELECT id FROM notifications WHERE recipient_id = 1")
    expect(await http.patch(f"/api/notifications/read/{notification_id}/", headers=callers("employee")), 403)
    expect(await http.patch(f"/api/notifications/read/{notification_id}/", headers=callers("other_admin")), 404)
    expect(await http.patch(f"/api/notifications/read/{notification_id}/", headers=callers("admin")), 200)
    assert await backend.scalar("SELECT read FROM notifications WHERE id = :id", id=notification_id) in (True, 1)


REFERENCE_WRITE = {
    "employee": (403, "FORBIDDEN"),
    "team_leader": (403, "FORBIDDEN"),
    "admin": (200, None),
    "company_key": (200, None),
    "platform_key": (200, None),
    "other_admin": (404, None),
}


@pytest.mark.parametrize("role", ROLES)
async def test_writing_reference_data_of_company_1(anon_client, role):
    http, callers = anon_client
    cases = [
        ("/employees/10/", {"companyId": 1, "name": "Asha R."}),
        ("/projects/7/", {"companyId": 1, "name": "Website v2", "allocatedHours": 100}),
        ("/tasks/250/", {"projectId": 7, "name": "Auth"}),
    ]
    for path, body in cases:
        expect(await http.put(path, json=body, headers=callers(role)), *REFERENCE_WRITE[role])


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("employee", 403),
        ("team_leader", 403),
        ("admin", 403),
        ("company_key", 403),
        ("platform_key", 200),
        ("other_admin", 404),
    ],
)
async def test_only_the_platform_writes_companies(anon_client, role, expected):
    http, callers = anon_client
    expect(await http.put("/companies/1/", json={"name": "Acme"}, headers=callers(role)), expected)


async def test_admins_cannot_place_reference_data_in_another_company(anon_client, backend):
    http, callers = anon_client
    response = await http.put("/employees/30/", json={"companyId": 2, "name": "Spy"}, headers=callers("admin"))
    expect(response, 422, "COMPANY_NOT_FOUND")
    response = await http.put("/tasks/930/", json={"projectId": 9, "name": "Spy"}, headers=callers("admin"))
    expect(response, 422, "PROJECT_NOT_FOUND")
    assert await backend.scalar("SELECT count(*) FROM employees WHERE id = 30") == 0


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("employee", 200),
        ("team_leader", 200),
        ("admin", 200),
        ("company_key", 200),
        ("platform_key", 200),
        ("other_admin", 404),
    ],
)
async def test_reading_reference_data_is_limited_to_ones_company(anon_client, role, expected):
    http, callers = anon_client
    for path in ("/companies/1/", "/employees/10/", "/projects/7/", "/tasks/250/"):
        expect(await http.get(path, headers=callers(role)), expected)


async def test_role_and_activity_come_from_the_mirror_not_the_token(anon_client, backend):
    http, callers = anon_client
    forged = jwt.encode(
        {"sub": "10", "company_id": 1, "is_admin": True, "exp": datetime.now(UTC) + timedelta(hours=1)}, TEST_JWT_SECRET
    )
    response = await http.post("/tasklog/create/", json=fresh_log(11), headers={"Authorization": f"Bearer {forged}"})
    expect(response, 403, "FORBIDDEN")
    expect(await http.get("/tasks/250/", headers=callers.bearer(12)), 401, "USER_INACTIVE")
    expect(await http.get("/tasks/250/", headers=callers.bearer(99)), 401, "USER_NOT_FOUND")
    expect(await http.get("/tasks/250/", headers=callers.bearer(10, company_id=2)), 401, "INVALID_ACCESS_TOKEN")


async def test_service_refuses_to_start_without_any_authentication(backend, tmp_path):
    if backend.name == "sqlite":
        # The embedded default generates its own development secret instead.
        settings = backend.settings(jwt_secret=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
        from app.cli import migrate_to_head

        await migrate_to_head(settings.database_url)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            pass
        assert (tmp_path / "x.db.jwt-secret").exists()
        return
    await backend.clean()
    app = create_app(backend.settings(jwt_secret=None))
    with pytest.raises(RuntimeError, match="Refusing to start"):
        async with app.router.lifespan_context(app):
            pass
    await backend.api_key("only-keys")
    async with app.router.lifespan_context(app):
        pass  # a key is enough


async def test_disabled_authentication_is_allowed_on_purpose_and_warned_about(backend, caplog):
    await backend.clean()
    async with app_and_client(backend, jwt_secret=None, auth_disabled=True) as (_, http):
        del http.headers["X-API-Key"]
        assert (await http.get("/companies/1/")).status_code == 404
    assert "AUTHENTICATION IS DISABLED" in caplog.text


async def test_token_and_apikey_commands_round_trip(anon_client, backend, capsys):
    http, _callers = anon_client
    settings = backend.settings()
    assert await print_token(settings, 10, 1.0) == 0
    token = capsys.readouterr().out.strip()
    expect(await http.get("/tasks/250/", headers={"Authorization": f"Bearer {token}"}), 200)
    assert await print_token(settings, 999, 1.0) == 1

    created = argparse.Namespace(action="create", name="sync", company_id=1, expires_in_days=365, rate_limit=None)
    assert await apikey_command(settings, created) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("tlk_")
    expect(await http.get("/tasks/250/", headers={"X-API-Key": key}), 200)
    assert await backend.scalar("SELECT count(*) FROM api_keys WHERE key_hash = :k", k=key) == 0  # hash only

    assert await apikey_command(settings, argparse.Namespace(action="list")) == 0
    listing = capsys.readouterr().out
    assert "sync" in listing and key not in listing
    key_id = await backend.scalar("SELECT id FROM api_keys WHERE name = 'sync'")
    assert await apikey_command(settings, argparse.Namespace(action="revoke", key_id=key_id)) == 0
    # This worker checked the key a moment ago: it trusts it for TASKLOGS_API_KEY_CACHE_SECONDS more.
    expect(await http.get("/tasks/250/", headers={"X-API-Key": key}), 200)
    with _later(settings.api_key_cache_seconds):
        expect(await http.get("/tasks/250/", headers={"X-API-Key": key}), 401, "INVALID_API_KEY")


@contextlib.contextmanager
def _later(seconds: float) -> Iterator[None]:
    """The worker's monotonic clock, `seconds` (and a little) ahead."""
    with mock.patch.object(key_cache.time, "monotonic", lambda now=time.monotonic(): now + seconds + 0.1):
        yield


async def test_a_revoked_key_is_refused_at_once_without_the_trust_window(backend):
    await backend.clean()
    async with app_and_client(backend, api_key_cache_seconds=0) as (_, http):
        await seed(http)
        key = await backend.api_key("sync", company_id=1)
        expect(await http.get("/tasks/250/", headers={"X-API-Key": key}), 200)
        await backend.execute("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE name = 'sync'")
        expect(await http.get("/tasks/250/", headers={"X-API-Key": key}), 401, "INVALID_API_KEY")


async def test_the_trust_window_never_remembers_a_refused_key(backend):
    """An unknown key stays refused even after it is created: only accepted keys are remembered."""
    await backend.clean()
    async with app_and_client(backend) as (_, http):
        await seed(http)
        key = new_key()
        expect(await http.get("/tasks/250/", headers={"X-API-Key": key}), 401, "INVALID_API_KEY")
        sessionmaker = make_sessionmaker(backend.engine)
        async with sessionmaker() as session, session.begin():
            await ApiKeyRepository(session).add("late", None, key)
        expect(await http.get("/tasks/250/", headers={"X-API-Key": key}), 200)


async def test_openapi_declares_both_schemes_and_the_auth_answers(anon_client):
    http, _ = anon_client
    spec = (await http.get("/openapi.json")).json()
    assert set(spec["components"]["securitySchemes"]) == {"BearerAuth", "ApiKeyAuth"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz", "/metrics"):  # probes; /metrics has its own token setting
                assert operation["security"] == []  # public, and said so (app/core/openapi.py)
                continue
            assert {"BearerAuth": []} in operation["security"], (method, path)
            assert {"ApiKeyAuth": []} in operation["security"], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def _token(**claims) -> str:
    return jwt.encode({"exp": datetime.now(UTC) + timedelta(hours=1), **claims}, TEST_JWT_SECRET)


@pytest.mark.parametrize(
    "sub",
    [
        " 10",
        "10 ",
        "010",
        "1_0",
        "+10",
        "\u0661\u0660",
        "10\n",
        "1" * 30,
        "9223372036854775808",
        "0",
        "-10",
        "",
        "1e1",
        "10.0",
    ],
)
async def test_a_subject_that_is_not_exactly_an_employee_id_is_refused(anon_client, backend, sub):
    """Only `[1-9][0-9]{0,18}` within 64 bits names employee 10; nothing else logs in as them."""
    http, _callers = anon_client
    response = await http.get("/tasks/250/", headers={"Authorization": f"Bearer {_token(sub=sub, company_id=1)}"})
    expect(response, 401, "INVALID_ACCESS_TOKEN")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_numeric_subject_is_refused_as_jwt_subjects_are_strings(anon_client):
    http, _callers = anon_client
    token = jwt.encode({"sub": 10, "company_id": 1, "exp": datetime.now(UTC) + timedelta(hours=1)}, TEST_JWT_SECRET)
    expect(await http.get("/tasks/250/", headers={"Authorization": f"Bearer {token}"}), 401, "INVALID_ACCESS_TOKEN")


async def test_a_token_without_company_id_is_refused(anon_client, backend):
    http, _callers = anon_client
    response = await http.get("/tasks/250/", headers={"Authorization": f"Bearer {_token(sub='10')}"})
    expect(response, 401, "INVALID_ACCESS_TOKEN")
    assert "company_id" in response.json()["message"]
    ok_token = _token(sub="10", company_id=1)
    expect(await http.get("/tasks/250/", headers={"Authorization": f"Bearer {ok_token}"}), 200)
    expect(await http.get("/tasks/250/", headers={"Authorization": f"Bearer {_token(sub='10', company_id='1')}"}), 200)
    for wrong in (2, "01", True, None, [1]):
        token = _token(sub="10", company_id=wrong)
        expect(await http.get("/tasks/250/", headers={"Authorization": f"Bearer {token}"}), 401, "INVALID_ACCESS_TOKEN")


@pytest.mark.parametrize(
    "token",
    [
        "not.a.jwt",
        "abc",
        jwt.encode({"sub": "10", "company_id": 1, "exp": 4102444800}, TEST_JWT_SECRET, algorithm="HS384"),
        jwt.encode({"sub": "10", "company_id": 1, "exp": 4102444800, "nbf": 4102444000}, TEST_JWT_SECRET),
        jwt.encode({"sub": "10", "company_id": 1, "exp": 4102444800, "iat": "yesterday"}, TEST_JWT_SECRET),
        jwt.encode({"sub": "10", "company_id": 1}, TEST_JWT_SECRET),
        jwt.encode({"sub": "10", "company_id": 1, "exp": "soon"}, TEST_JWT_SECRET),
        jwt.encode({"company_id": 1, "exp": 4102444800}, TEST_JWT_SECRET),
    ],
)
async def test_refusals_never_quote_the_token_library(anon_client, token):
    http, _callers = anon_client
    response = await http.get("/tasks/250/", headers={"Authorization": f"Bearer {token}"})
    expect(response, 401, "INVALID_ACCESS_TOKEN")
    message = response.json()["message"]
    assert message.startswith("The ") and "0x" not in message and "<" not in message, message


async def test_an_audience_mismatch_is_told_in_our_words(backend):
    """PyJWT's own text for a list audience was 'Expected one of <generator object ... at 0x...>'."""
    await backend.clean()
    async with app_and_client(backend, jwt_audience="tasklogs") as (_, http):
        await seed(http)
        del http.headers["X-API-Key"]
        token = _token(sub="10", company_id=1, aud=["billing", "reports"])
        response = await http.get("/tasks/250/", headers={"Authorization": f"Bearer {token}"})
        expect(response, 401, "INVALID_ACCESS_TOKEN")
        assert response.json()["message"] == "The access token is for another audience."
        token = _token(sub="10", company_id=1, aud=["billing", "tasklogs"])
        expect(await http.get("/tasks/250/", headers={"Authorization": f"Bearer {token}"}), 200)
