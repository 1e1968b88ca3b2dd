"""Hostile and broken input: always a 4xx in the envelope, never a 500, nothing written."""

import json

import pytest

from tests.factories import log, seed

WRITES = [
    ("POST", "/tasklog/create/"),
    ("POST", "/tasklogs/bulk/create/10/"),
    ("PUT", "/tasklogs/1/"),
    ("PATCH", "/tasklogs/1/"),
    ("PUT", "/projects/7/"),
    ("PUT", "/employees/10/"),
]

BODIES = {
    "random json": b'{"a": [1, {"b": null}], "c": "d"}',
    "a number": b"12345678901234567890123456789012345678901234567890",
    "huge numbers": json.dumps(log(task_id=10**30, user_id=-(10**30))).encode(),
    "float ids": json.dumps(log(task_id=250.5)).encode(),
    "nul bytes": json.dumps(log(description="a\u0000b")).encode(),
    "invalid utf-8": b'{"taskId": 250, "description": "\xff\xfe"}',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "not json": b"taskId=250&userId=10",
    "empty": b"",
    "truncated": b'{"taskId": 250, "userId": ',
    "nan": b'{"taskId": NaN, "userId": Infinity}',
    "bad timestamps": json.dumps(log(start="2024-13-45T99:99:99Z", end="yesterday")).encode(),
    "year zero": json.dumps(log(start="0000-01-01T00:00:00Z")).encode(),
    "wrong types": json.dumps({"taskId": [250], "userId": {"id": 10}, "startTime": True, "endTime": 5}).encode(),
}


async def _row_counts(backend):
    return {t: await backend.scalar(f"SELECT count(*) FROM {t}") for t in ("task_logs", "task_log_changes")}


@pytest.mark.parametrize("name", sorted(BODIES))
async def test_broken_bodies_are_4xx_in_the_envelope(client, backend, name):
    await seed(client)
    before = await _row_counts(backend)
    for method, path in WRITES:
        body = BODIES[name]
        if path.startswith("/tasklogs/bulk") and name not in ("empty", "deeply nested", "not json"):
            body = b"[" + body + b"]"
        response = await client.request(method, path, content=body, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (name, method, path, response.status_code, response.text[:300])
        payload = response.json()
        assert payload["status"] == 0 and payload["error_code"], (name, path, payload)
    assert await _row_counts(backend) == before


async def test_a_10_mb_body_is_413(client, backend):
    await seed(client)
    body = b'[{"description": "' + b"x" * (10 * 1024 * 1024) + b'"}]'
    response = await client.post(
        "/tasklogs/bulk/create/10/", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 0


async def test_a_100k_item_array_is_413_without_validating_every_item(client, backend):
    await seed(client)
    response = await client.post(
        "/tasklogs/bulk/create/10/",
        content=b"[" + b",".join([b"{}"] * 100_000) + b"]",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    assert len(response.content) < 2000  # one clear error, not 100,000 of them


async def test_many_bad_items_answer_a_bounded_error_list(client, backend):
    await seed(client)
    response = await client.post("/tasklogs/bulk/create/10/", json=[{"taskId": "x"}] * 900)
    assert response.status_code == 422
    assert len(response.json()["errors"]) <= 100
    assert "listed" in response.json()["message"]


@pytest.mark.parametrize(
    "description",
    [
        "'; DROP TABLE task_logs; --",
        "Robert'); DELETE FROM employees WHERE ('1'='1",
        '=HYPERLINK("http://evil.example","click")',
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\u202egnp.exe",
        "😀" * 1000,
        "<script>alert(1)</script>",
    ],
)
async def test_sql_and_formula_payloads_are_stored_as_plain_text(client, backend, description):
    await seed(client)
    response = await client.post("/tasklog/create/", json=log(description=description))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["description"] == description.strip()
    assert await backend.scalar("SELECT description FROM task_logs") == description.strip()
    assert await backend.scalar("SELECT count(*) FROM employees") == 7


@pytest.mark.parametrize(
    "path",
    [
        "/tasklogs/99999999999999999999999/",
        "/tasklogs/-1/",
        "/tasklogs/abc/",
        "/taskLogs/task/1e9/",
        "/notifications/recipient/0/",
        "/api/tasklogs/delete/9223372036854775808/",
    ],
)
async def test_out_of_range_ids_in_paths_are_422(client, path):
    method = "DELETE" if "delete" in path else "GET"
    response = await client.request(method, path)
    assert response.status_code == 422, response.text
    assert response.json()["status"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-5"},
        {"page_size": "100000000"},
        {"page": "abc"},
        {"page": "99999999999999999999"},
    ],
)
async def test_bad_query_parameters_are_422(client, params):
    await seed(client)
    response = await client.get("/taskLogs/task/250/", params=params)
    assert response.status_code == 422
    assert response.json()["status"] == 0


async def test_headers_cannot_break_anything(client, backend):
    await seed(client)
    weird = {"If-Match": b'"\xff\xfe"', "Idempotency-Key": "k" * 255, "X-Request-ID": "x" * 5000}
    response = await client.post("/tasklog/create/", json=log(), headers=weird)
    assert response.status_code == 200  # a create has no version to match: If-Match is ignored
    assert len(response.headers["X-Request-ID"]) == 32  # replaced, not echoed


# A lone UTF-16 surrogate is valid JSON escape syntax but no text: neither database can store it.
SURROGATE_BODIES = [
    (
        "POST",
        "/tasklog/create/",
        b'{"taskId": 250, "userId": 10, "startTime": "2024-10-29T09:00:00Z", '
        b'"endTime": "2024-10-29T10:00:00Z", "description": "\\ud800"}',
    ),
    (
        "POST",
        "/tasklogs/bulk/create/10/",
        b'[{"taskId": 250, "userId": 10, "startTime": "2024-10-29T09:00:00Z", '
        b'"endTime": "2024-10-29T10:00:00Z", "description": "ok \\udfff"}]',
    ),
    ("PUT", "/employees/10/", b'{"companyId": 1, "name": "\\ud800"}'),
    ("PUT", "/employees/10/", b'{"companyId": 1, "name": "Asha", "email": "\\ud800@example.com"}'),
    ("PUT", "/companies/1/", b'{"name": "\\ud800"}'),
    ("PUT", "/projects/7/", b'{"companyId": 1, "name": "\\ud800"}'),
    ("PUT", "/tasks/250/", b'{"projectId": 7, "name": "\\ud800"}'),
]


@pytest.mark.parametrize(("method", "path", "body"), SURROGATE_BODIES)
async def test_a_lone_surrogate_in_a_text_field_is_400_and_writes_nothing(client, backend, method, path, body):
    await seed(client)
    names = await backend.rows("SELECT id, name FROM employees ORDER BY id")
    before = await _row_counts(backend)
    response = await client.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["status"] == 0 and payload["error_code"] == "MALFORMED_JSON"
    assert "surrogate" in payload["errors"][0]["message"]
    assert await _row_counts(backend) == before
    assert await backend.rows("SELECT id, name FROM employees ORDER BY id") == names


async def test_a_surrogate_pair_is_one_character_and_accepted(client, backend):
    await seed(client)
    body = (
        b'{"taskId": 250, "userId": 10, "startTime": "2024-10-29T09:00:00Z", '
        b'"endTime": "2024-10-29T10:00:00Z", "description": "\\ud83d\\ude00"}'
    )
    response = await client.post("/tasklog/create/", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert await backend.scalar("SELECT description FROM task_logs") == "\U0001f600"


@pytest.mark.parametrize(
    "since", ["9999999999999999999", "99999999999999999999999-1", "1-9223372036854775808", "²", "١٢", "-1", "1-"]
)
async def test_a_feed_cursor_beyond_64_bits_or_not_ascii_digits_is_422(client, since):
    response = await client.get("/tasklogs/changes/", params={"since": since})
    assert response.status_code == 422, response.text
    assert response.json()["error_code"] == "INVALID_CURSOR"


@pytest.mark.parametrize(
    "if_match", ['"²"', "²", '"\u0661"', '"99999999999999999999999"', '"9223372036854775808"', '"-1"', '"1_0"', '""']
)
async def test_an_if_match_that_is_no_version_is_412_never_500(client, backend, if_match):
    await seed(client)
    created = await client.post("/tasklog/create/", json=log())
    log_id = created.json()["data"]["taskLogId"]
    for method, path in (("PATCH", f"/tasklogs/{log_id}/"), ("DELETE", f"/api/tasklogs/delete/{log_id}/")):
        response = await client.request(
            method, path, json={"description": "edited"}, headers={"If-Match": if_match.encode()}
        )
        assert response.status_code == 412, (method, if_match, response.text)
        assert response.json()["error_code"] == "VERSION_CONFLICT"
    assert await backend.rows("SELECT description, version FROM task_logs") == [("", 1)]
