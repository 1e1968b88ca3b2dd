"""The subscriptions API: who may manage webhooks, their secrets, and where they may point."""

import base64

import pytest

from tests.conftest import app_and_client
from tests.factories import seed

HOOK = {"url": "https://8.8.8.8/hooks", "events": ["tasklog.created"], "description": "Billing"}


@pytest.fixture
async def open_client(backend):
    """A client whose app accepts http:// and private targets (as the tests' local receivers need)."""
    await backend.clean()
    async with app_and_client(backend, webhook_allow_http=True, webhook_allow_private=True) as (_, http):
        await seed(http)
        yield http


def admin(backend, employee_id=1, company_id=1):
    return {"Authorization": f"Bearer {backend.token(employee_id, company_id)}"}


async def test_an_admin_creates_reads_changes_and_deletes_a_subscription(open_client, backend):
    created = await open_client.post("/webhooks/", json=HOOK, headers=admin(backend))
    assert created.status_code == 200, created.text
    data = created.json()["data"]
    assert data["companyId"] == 1 and data["enabled"] is True and data["events"] == ["tasklog.created"]
    assert data["secret"].startswith("whsec_") and len(base64.b64decode(data["secret"][6:])) == 32
    hook_id = data["webhookId"]
    assert await backend.scalar("SELECT secret FROM webhooks WHERE id = :id", id=hook_id) == data["secret"]

    read = (await open_client.get(f"/webhooks/{hook_id}", headers=admin(backend))).json()["data"]
    assert "secret" not in read and read["url"] == HOOK["url"]
    listed = (await open_client.get("/webhooks", headers=admin(backend))).json()["data"]
    assert [w["webhookId"] for w in listed] == [hook_id] and "secret" not in listed[0]

    patched = await open_client.patch(
        f"/webhooks/{hook_id}/", json={"events": ["*"], "enabled": False, "description": None}, headers=admin(backend)
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["events"] == ["*"] and patched.json()["data"]["enabled"] is False
    assert patched.json()["data"]["description"] is None

    assert (await open_client.delete(f"/webhooks/{hook_id}/", headers=admin(backend))).status_code == 200
    assert (await open_client.get(f"/webhooks/{hook_id}/", headers=admin(backend))).status_code == 404
    assert await backend.scalar("SELECT count(*) FROM webhooks") == 0


async def test_employees_and_team_leaders_get_403_and_other_companies_404(open_client, backend):
    await open_client.put("/employees/11/", json={"companyId": 1, "name": "Lead", "isTeamLeader": True})
    for employee in (10, 11):
        response = await open_client.post("/webhooks/", json=HOOK, headers=admin(backend, employee))
        assert response.status_code == 403 and response.json()["error_code"] == "FORBIDDEN"
        assert (await open_client.get("/webhooks/", headers=admin(backend, employee))).status_code == 403
    theirs = (await open_client.post("/webhooks/", json=HOOK, headers=admin(backend, 20, 2))).json()["data"]
    for method, path in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "rotate-secret/"),
        ("POST", "test/"),
        ("GET", "deliveries/"),
    ]:
        response = await open_client.request(
            method,
            f"/webhooks/{theirs['webhookId']}/{path}",
            headers=admin(backend),
            json={"enabled": False} if method == "PATCH" else None,
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error_code"] == "WEBHOOK_NOT_FOUND"
    assert (await open_client.get("/webhooks/", headers=admin(backend))).json()["data"] == []
    # A company admin cannot subscribe to another company's events.
    other = await open_client.post("/webhooks/", json={**HOOK, "companyId": 2}, headers=admin(backend))
    assert other.status_code == 403


async def test_platform_keys_name_the_company_and_see_every_company(open_client, backend):
    missing = await open_client.post("/webhooks/", json=HOOK)
    assert missing.status_code == 422 and missing.json()["error_code"] == "REQUIRED"
    assert (await open_client.post("/webhooks/", json={**HOOK, "company_id": 404})).status_code == 404
    for company in (1, 2):
        response = await open_client.post("/webhooks/", json={**HOOK, "companyId": company})
        assert response.status_code == 200 and response.json()["data"]["companyId"] == company
    assert len((await open_client.get("/webhooks/")).json()["data"]) == 2
    company_key = await backend.api_key("billing", company_id=2)
    seen = (await open_client.get("/webhooks/", headers={"X-API-Key": company_key})).json()["data"]
    assert [w["companyId"] for w in seen] == [2]


async def test_bad_subscriptions_are_422_and_write_nothing(open_client, backend):
    for body in [
        {**HOOK, "events": ["tasklog.exploded"]},
        {**HOOK, "events": []},
        {**HOOK, "events": ["*", "tasklog.created"]},
        {**HOOK, "url": "ftp://example.com/"},
        {**HOOK, "url": "not a url"},
        {"events": ["*"]},
    ]:
        response = await open_client.post("/webhooks/", json={**body, "companyId": 1})
        assert response.status_code == 422, (body, response.text)
        assert response.json()["status"] == 0
    assert await backend.scalar("SELECT count(*) FROM webhooks") == 0


async def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_a_day(open_client, backend):
    hook = (await open_client.post("/webhooks/", json={**HOOK, "companyId": 1})).json()["data"]
    rotated = await open_client.post(f"/webhooks/{hook['webhookId']}/rotate-secret/")
    assert rotated.status_code == 200
    new = rotated.json()["data"]["secret"]
    assert new.startswith("whsec_") and new != hook["secret"]
    row = (await backend.rows("SELECT secret, previous_secret FROM webhooks"))[0]
    assert (row.secret, row.previous_secret) == (new, hook["secret"])


async def test_a_test_event_is_queued_for_that_subscription(open_client, backend):
    hook = (await open_client.post("/webhooks/", json={**HOOK, "companyId": 1})).json()["data"]
    queued = await open_client.post(f"/webhooks/{hook['webhookId']}/test")
    assert queued.status_code == 200
    event_id = queued.json()["data"]["eventId"]
    assert event_id.startswith("evt_")
    rows = await backend.rows("SELECT type, webhook_id, company_id FROM outbox_events WHERE event_id = :e", e=event_id)
    assert [tuple(r) for r in rows] == [("webhook.test", hook["webhookId"], 1)]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.4/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://0.0.0.0/hook",
        "http://8.8.8.8/hook",
    ],
)
async def test_private_targets_and_plain_http_are_forbidden(client, backend, url):
    await seed(client)
    response = await client.post("/webhooks/", json={**HOOK, "url": url, "companyId": 1})
    assert response.status_code == 422, response.text
    assert response.json()["error_code"] == "WEBHOOK_URL_FORBIDDEN"
    assert await backend.scalar("SELECT count(*) FROM webhooks") == 0


async def test_a_public_https_target_is_accepted_and_a_patch_is_checked_too(client, backend):
    await seed(client)
    hook = await client.post("/webhooks/", json={**HOOK, "companyId": 1})
    assert hook.status_code == 200, hook.text
    path = f"/webhooks/{hook.json()['data']['webhookId']}/"
    response = await client.patch(path, json={"url": "https://169.254.169.254/"})
    assert response.status_code == 422 and response.json()["error_code"] == "WEBHOOK_URL_FORBIDDEN"
    assert await backend.scalar("SELECT url FROM webhooks") == HOOK["url"]


async def test_a_deliveries_cursor_that_is_not_one_of_its_ids_is_422(open_client, backend):
    hook = (await open_client.post("/webhooks/", json=HOOK, headers=admin(backend))).json()["data"]
    path = f"/webhooks/{hook['webhookId']}/deliveries/"
    for cursor in ["abc", "-1", "+1", " 1", "1.5", "\u00b2", "\u0661\u0662", "9" * 19, "1" + "0" * 18]:
        response = await open_client.get(path, params={"cursor": cursor}, headers=admin(backend))
        assert response.status_code == 422, (cursor, response.text)
        assert response.json()["error_code"] == "INVALID_CURSOR"
        assert [e["field"] for e in response.json()["errors"]] == ["cursor"]
    for cursor in ["1", "9" * 18]:
        response = await open_client.get(path, params={"cursor": cursor}, headers=admin(backend))
        assert response.status_code == 200, (cursor, response.text)
        assert response.json()["data"] == [] and response.json()["nextCursor"] is None
