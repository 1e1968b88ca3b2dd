"""Bounded reads: the unpaged task list's TASKLOGS_UNPAGED_MAX, paged
history, the streamed export (NDJSON and CSV, count and checksum against the
database) and the indexes the search uses. Runs on SQLite and PostgreSQL
(the EXPLAIN and the 100,000-log export on PostgreSQL only)."""

import csv
import hashlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from app.core.database import make_sessionmaker
from app.tasklogs.cursors import cursor_key, encode_cursor, query_scope
from app.tasklogs.repository import LogSearch, task_log_repository
from tests.conftest import app_and_client
from tests.factories import seed


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == 0 and body["error_code"] == code, body
    return body


def bearer(backend: Any, employee_id: int, company_id: int = 1) -> dict[str, str]:
    return {"Authorization": f"Bearer {backend.token(employee_id, company_id)}"}


def minutes_logs(
    count: int,
    user_id: int = 10,
    task_ids: tuple[int, ...] = (250, 251, 252),
    first: datetime = datetime(2024, 3, 1, tzinfo=UTC),
    description: str = "log",
) -> list[dict[str, Any]]:
    """`count` one-minute logs, one every two minutes."""
    return [
        {
            "taskId": task_ids[i % len(task_ids)],
            "userId": user_id,
            "startTime": (first + timedelta(minutes=2 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "endTime": (first + timedelta(minutes=2 * i + 1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": f"{description} {i}",
        }
        for i in range(count)
    ]


async def bulk(http: httpx.AsyncClient, items: list[dict[str, Any]], user_id: int = 10) -> None:
    for start in range(0, len(items), 1000):
        response = await http.post(f"/tasklogs/bulk/create/{user_id}/", json=items[start : start + 1000])
        assert response.status_code == 200, response.text


@pytest.fixture
async def small_limits(backend: Any) -> Any:
    await backend.clean()
    async with app_and_client(backend, unpaged_max=5, export_max_days=31) as (_, http):
        await seed(http)
        yield http


# ---------------------------------------------------------------- the unpaged task list


async def test_an_unpaged_task_list_answers_up_to_the_limit_and_refuses_above(small_limits, backend):
    http = small_limits
    await bulk(http, minutes_logs(5, task_ids=(250,)))
    response = await http.get("/taskLogs/task/250/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["data"]) == 5 and body["summary"]["count"] == 5 and "pagination" not in body

    await bulk(http, minutes_logs(1, task_ids=(250,), first=datetime(2024, 4, 1, tzinfo=UTC)))
    body = assert_error(await http.get("/taskLogs/task/250/"), 422, "TOO_MANY_RESULTS")
    assert "page_size" in body["message"] and "/tasklogs/?taskId=250" in body["message"]
    # Paged, or through the search, every log is there.
    paged = await http.get("/taskLogs/task/250/", params={"page_size": 50})
    assert paged.status_code == 200 and len(paged.json()["data"]) == 6
    assert paged.json()["pagination"] == {"page": 1, "pageSize": 50, "total": 6}
    found = await http.get("/tasklogs/", params={"taskId": 250})
    assert len(found.json()["data"]) == 6
    assert await backend.scalar("SELECT count(*) FROM task_logs WHERE task_id = 250") == 6


async def test_the_unpaged_limit_counts_what_the_caller_may_see(small_limits, backend):
    http = small_limits
    await bulk(http, minutes_logs(6, user_id=11, task_ids=(250,)), user_id=11)
    await bulk(http, minutes_logs(2, task_ids=(250,), first=datetime(2024, 5, 1, tzinfo=UTC)))
    # Employee 10 sees only their own 2 of the task's 8 logs.
    mine = await http.get("/taskLogs/task/250/", headers=bearer(backend, 10))
    assert mine.status_code == 200, mine.text
    assert [log["userId"] for log in mine.json()["data"]] == [10, 10]
    assert_error(await http.get("/taskLogs/task/250/", headers=bearer(backend, 1)), 422, "TOO_MANY_RESULTS")


# ---------------------------------------------------------------- history pages


async def test_history_comes_in_pages_that_follow_next_cursor(small_limits, backend):
    http = small_limits
    created = await http.post("/tasklog/create/", json=minutes_logs(1)[0])
    log_id = created.json()["data"]["taskLogId"]
    for n in range(4):
        edited = await http.patch(f"/tasklogs/{log_id}/", json={"description": f"edit {n}"})
        assert edited.status_code == 200, edited.text
    whole = await http.get(f"/tasklogs/{log_id}/history/")
    assert whole.status_code == 200, whole.text
    assert [c["version"] for c in whole.json()["data"]] == [1, 2, 3, 4, 5]
    assert whole.json()["nextCursor"] is None

    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await http.get(f"/tasklogs/{log_id}/history", params=params)
        assert response.status_code == 200, response.text
        pages.append([c["version"] for c in response.json()["data"]])
        cursor = response.json()["nextCursor"]
        if cursor is None:
            break
    assert pages == [[1, 2], [3, 4], [5]]
    assert await backend.scalar("SELECT count(*) FROM task_log_changes WHERE task_log_id = :id", id=log_id) == 5

    assert_error(await http.get(f"/tasklogs/{log_id}/history/", params={"limit": 1001}), 422, "VALIDATION_ERROR")
    # Access is unchanged: another employee is refused, another company sees nothing.
    assert_error(await http.get(f"/tasklogs/{log_id}/history/", headers=bearer(backend, 11)), 403, "FORBIDDEN")
    assert_error(
        await http.get(f"/tasklogs/{log_id}/history/", headers=bearer(backend, 20, 2)), 404, "TASK_LOG_NOT_FOUND"
    )
    own = await http.get(f"/tasklogs/{log_id}/history/", params={"limit": 1}, headers=bearer(backend, 10))
    assert own.status_code == 200 and len(own.json()["data"]) == 1 and own.json()["nextCursor"]


async def test_history_cursors_are_opaque_signed_and_bound_to_their_log(small_limits, backend):
    http = small_limits
    log_ids = []
    for item in minutes_logs(2):
        created = await http.post("/tasklog/create/", json=item)
        log_ids.append(created.json()["data"]["taskLogId"])
    for log_id in log_ids:
        for n in range(2):
            edited = await http.patch(f"/tasklogs/{log_id}/", json={"description": f"edit {n}"})
            assert edited.status_code == 200, edited.text
    page = await http.get(f"/tasklogs/{log_ids[0]}/history/", params={"limit": 1})
    cursor = page.json()["nextCursor"]
    # Opaque: no xid-seq a client could compute or edit.
    assert "-" not in cursor.partition(".")[0] and "." in cursor
    body, _, tag = cursor.partition(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    search_cursor = (await http.get("/tasklogs/", params={"limit": 1})).json()["nextCursor"]
    feed_cursor = page.json()["data"][0]["cursor"]  # the change feed's position of the change
    for bad in (f"{flipped}.{tag}", f"{body}.{tag[:-1]}x", cursor + "x", "0-0", feed_cursor, search_cursor):
        assert_error(await http.get(f"/tasklogs/{log_ids[0]}/history/", params={"cursor": bad}), 422, "INVALID_CURSOR")
    # Another log's history refuses it: a cursor is bound to its log.
    assert_error(await http.get(f"/tasklogs/{log_ids[1]}/history/", params={"cursor": cursor}), 422, "INVALID_CURSOR")
    rest = await http.get(f"/tasklogs/{log_ids[0]}/history/", params={"cursor": cursor, "limit": 10})
    assert rest.status_code == 200, rest.text
    assert [c["version"] for c in rest.json()["data"]] == [2, 3] and rest.json()["nextCursor"] is None
    # Nothing written by any of it: three changes per log, as before.
    assert await backend.scalar("SELECT count(*) FROM task_log_changes") == 6


@pytest.mark.parametrize("position", [[-1, 0], [0], [0, 1, 2], ["0", "1"], [True, 1], [1.5, 1]])
async def test_a_signed_history_cursor_holding_no_position_is_refused(small_limits, backend, position):
    """Even with our own signature, a payload that is not an (xid, seq) position is a 422, never a 500."""
    created = await small_limits.post("/tasklog/create/", json=minutes_logs(1)[0])
    log_id = created.json()["data"]["taskLogId"]
    key = cursor_key(backend.settings())
    cursor = encode_cursor(key, query_scope(history_of=log_id), position)
    response = await small_limits.get(f"/tasklogs/{log_id}/history/", params={"cursor": cursor})
    assert_error(response, 422, "INVALID_CURSOR")
    # The same signature over a real position pages on.
    cursor = encode_cursor(key, query_scope(history_of=log_id), [0, 0])
    page = await small_limits.get(f"/tasklogs/{log_id}/history/", params={"cursor": cursor})
    assert page.status_code == 200 and [c["version"] for c in page.json()["data"]] == [1]


# ---------------------------------------------------------------- export


def ids_checksum(ids: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()


async def database_ids(backend: Any, where: str = "1 = 1", **params: Any) -> list[int]:
    rows = await backend.rows(f"SELECT id FROM task_logs WHERE {where} ORDER BY start_time, id", **params)
    return [r[0] for r in rows]


async def test_the_export_streams_every_matching_log_with_count_and_checksum_of_the_database(small_limits, backend):
    http = small_limits
    await bulk(http, minutes_logs(2500))
    await bulk(http, minutes_logs(2500, user_id=11), user_id=11)
    params = {"from": "2024-03-01", "to": "2024-03-31", "format": "ndjson"}
    response = await http.get("/tasklogs/export/", params=params)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.content.decode().splitlines()
    exported = [json.loads(line)["taskLogId"] for line in lines]
    expected = await database_ids(backend)
    assert len(exported) == len(expected) == 5000
    assert ids_checksum(exported) == ids_checksum(expected)
    first = json.loads(lines[0])
    assert first["startTime"] == "2024-03-01T00:00:00Z" and first["duration"] == "0:01"

    # The same filters as the search, and its access rules: employee 11's own.
    mine = await http.get("/tasklogs/export/", params=params, headers=bearer(backend, 11))
    mine_ids = [json.loads(line)["taskLogId"] for line in mine.content.decode().splitlines()]
    assert ids_checksum(mine_ids) == ids_checksum(await database_ids(backend, "user_id = 11"))


async def test_the_csv_export_is_formula_safe(small_limits, backend):
    http = small_limits
    items = minutes_logs(3)
    items[0]["description"] = '=HYPERLINK("http://evil")'
    items[1]["description"] = '+1, with a comma and "quotes"'
    await bulk(http, items)
    response = await http.get(
        "/tasklogs/export/", params={"from": "2024-03-01", "to": "2024-03-02", "format": "csv", "employeeId": 10}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["description"] for r in rows] == [
        '\'=HYPERLINK("http://evil")',
        '\'+1, with a comma and "quotes"',
        "log 2",
    ]
    assert [int(r["taskLogId"]) for r in rows] == await database_ids(backend)
    assert rows[0]["startTime"] == "2024-03-01T00:00:00Z" and rows[0]["manualAdd"] == "false"
    assert rows[0]["userName"] == "Asha Rao" and rows[0]["durationSeconds"] == "60"
    # No match: the header alone.
    empty = await http.get("/tasklogs/export/", params={"from": "2020-01-01", "to": "2020-01-02", "format": "csv"})
    assert empty.status_code == 200 and empty.content.decode().startswith("taskLogId,taskId")
    assert len(empty.content.decode().splitlines()) == 1


async def test_an_export_streams_on_a_pool_of_one_connection(backend, postgres_only):
    """A read's session gives its connection back before the answer is sent
    (ApiRoute's `read_session`): the export's stream reads with a session of
    its own, which would otherwise wait for the request's connection."""
    await backend.clean()
    async with app_and_client(backend, db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=1) as (_, http):
        await seed(http)
        await bulk(http, minutes_logs(3, user_id=11), user_id=11)
        # A person's token: the request's own session reads the employee before the stream starts.
        response = await http.get(
            "/tasklogs/export/", params={"from": "2024-03-01", "to": "2024-03-02"}, headers=bearer(backend, 11)
        )
    assert response.status_code == 200, response.text
    exported = [json.loads(line)["taskLogId"] for line in response.content.decode().splitlines()]
    assert exported == await database_ids(backend, "user_id = 11")


async def test_an_export_needs_a_window_of_at_most_the_configured_days(small_limits):
    http = small_limits
    body = assert_error(await http.get("/tasklogs/export/"), 422, "VALIDATION_ERROR")
    assert {e["field"] for e in body["errors"]} == {"from", "to"}
    assert_error(await http.get("/tasklogs/export/", params={"from": "2024-01-01"}), 422, "MISSING_FIELD")
    # export_max_days is 31 here.
    assert_error(
        await http.get("/tasklogs/export/", params={"from": "2024-01-01", "to": "2024-02-02"}), 422, "EXPORT_TOO_LONG"
    )
    ok = await http.get("/tasklogs/export/", params={"from": "2024-01-01", "to": "2024-02-01"})
    assert ok.status_code == 200 and ok.content == b""
    assert_error(
        await http.get("/tasklogs/export/", params={"from": "2024-01-01", "to": "2024-01-02", "format": "xml"}),
        422,
        "VALIDATION_ERROR",
    )


# ---------------------------------------------------------------- many logs, written by SQL

# `count` logs of 10 seconds, one every 20 seconds from 2024-01-01 00:00:20
# UTC, on tasks 250-252 (of `:task` alone when given), alternately employee
# 10's and 11's. Written straight into the table (the API would take
# minutes for 100,000); SQLite keeps instants as SQLAlchemy writes them.
PG_FILL = """
INSERT INTO task_logs (task_id, user_id, start_time, end_time, description, manual_add, created_by, updated_by)
SELECT COALESCE(CAST(:task AS bigint), 250 + (g % 3)), 10 + (g % 2),
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * INTERVAL '20 seconds',
       TIMESTAMPTZ '2024-01-01 00:00:10+00' + g * INTERVAL '20 seconds', 'bulk ' || g, false, 'test', 'test'
  FROM generate_series(CAST(:first AS bigint), CAST(:first AS bigint) + CAST(:count AS bigint) - 1) AS g
"""
SQLITE_FILL = """
WITH RECURSIVE g(n) AS (SELECT :first UNION ALL SELECT n + 1 FROM g WHERE n < :first + :count - 1)
INSERT INTO task_logs (task_id, user_id, start_time, end_time, description, manual_add, created_by, updated_by)
SELECT COALESCE(:task, 250 + (n % 3)), 10 + (n % 2),
       strftime('%Y-%m-%d %H:%M:%S', '2024-01-01', '+' || (n * 20) || ' seconds') || '.000000',
       strftime('%Y-%m-%d %H:%M:%S', '2024-01-01', '+' || (n * 20 + 10) || ' seconds') || '.000000',
       'bulk ' || n, 0, 'test', 'test'
  FROM g
"""


async def fill(backend: Any, count: int, *, first: int = 1, task: int | None = None) -> None:
    """Logs number `first` to `first + count - 1` of the sequence above."""
    sql = PG_FILL if backend.name == "postgresql" else SQLITE_FILL
    await backend.execute(sql, count=count, first=first, task=task)


def rows_checksum(rows: list[tuple[Any, ...]]) -> str:
    """A hash of the logs' (id, task, employee, description), in order."""
    return hashlib.sha256("\n".join("|".join(map(str, row)) for row in rows).encode()).hexdigest()


async def test_the_unpaged_task_list_answers_10000_logs_and_refuses_10001(backend):
    """Dyzo's shape up to the default TASKLOGS_UNPAGED_MAX (10,000 logs), never a cut list above it."""
    await backend.clean()
    async with app_and_client(backend) as (_, http):
        await seed(http)
        await fill(backend, 10_000, task=250)
        response = await http.get("/taskLogs/task/250/")
        assert response.status_code == 200, response.text[:300]
        body = response.json()
        assert len(body["data"]) == 10_000 and body["summary"]["count"] == 10_000
        ids = [log["taskLogId"] for log in body["data"]]
        assert ids == await database_ids(backend, "task_id = 250")
        await fill(backend, 1, first=10_001, task=250)
        refused = assert_error(await http.get("/taskLogs/task/250/"), 422, "TOO_MANY_RESULTS")
        assert "10000" in refused["message"].replace(",", "")
        page = await http.get("/taskLogs/task/250/", params={"page": 21, "page_size": 500})
        assert [log["taskLogId"] for log in page.json()["data"]] == [(await database_ids(backend, "task_id = 250"))[-1]]


async def test_an_export_of_100000_logs_matches_the_database_as_ndjson_and_csv(small_limits, backend):
    await fill(backend, 100_000)
    expected = await backend.rows("SELECT id, task_id, user_id, description FROM task_logs ORDER BY start_time, id")
    assert len(expected) == 100_000
    window = {"from": "2024-01-01", "to": "2024-01-31"}

    started = time.monotonic()
    response = await small_limits.get("/tasklogs/export/", params={**window, "format": "ndjson"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    logs = [json.loads(line) for line in response.content.decode().splitlines()]
    exported = [(log["taskLogId"], log["taskId"], log["userId"], log["description"]) for log in logs]
    assert len(exported) == 100_000
    assert rows_checksum(exported) == rows_checksum(expected)
    print(f"{backend.name}: exported {len(exported)} logs as NDJSON in {elapsed:.1f} s")

    response = await small_limits.get("/tasklogs/export/", params={**window, "format": "csv"})
    assert response.status_code == 200
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    exported = [(int(r["taskLogId"]), int(r["taskId"]), int(r["userId"]), r["description"]) for r in table]
    assert len(exported) == 100_000
    assert rows_checksum(exported) == rows_checksum(expected)


async def explain(backend: Any, search: LogSearch, expect_rows: int | None = None) -> str:
    """The plan PostgreSQL chose for the repository's own statement of `search` (first page of 100)."""
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    event.listen(backend.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with make_sessionmaker(backend.engine)() as session:
            rows = await task_log_repository(session).search(search, None, 100)
    finally:
        event.remove(backend.engine.sync_engine, "before_cursor_execute", capture)
    if expect_rows is not None:
        assert len(rows) == expect_rows
    statement, parameters = statements[-1]
    async with backend.engine.connect() as conn:
        return "\n".join(r[0] for r in await conn.exec_driver_sql(f"EXPLAIN (COSTS OFF) {statement}", parameters))


async def test_an_employees_window_is_an_index_range_scan(postgres_only, small_limits, backend):
    await fill(backend, 50_000)
    # Employee 10 keeps one log in 50 (as one of a company's many employees): reading every log of the
    # window in time order and dropping the others' would then be the wrong plan.
    await backend.execute("UPDATE task_logs SET user_id = 11 WHERE id % 50 <> 0")
    await backend.execute("ANALYZE task_logs")
    search = LogSearch(
        employee_ids=(10,),
        company_id=1,
        start=datetime(2024, 1, 9, tzinfo=UTC),
        end=datetime(2024, 1, 11, tzinfo=UTC),
        starts_after=datetime(2024, 1, 8, tzinfo=UTC),
    )
    plan = await explain(backend, search, expect_rows=100)
    assert "ix_task_logs_user_id_start_time" in plan, plan
    assert "Seq Scan on task_logs" not in plan, plan


async def test_a_projects_window_reads_its_tasks_first_and_the_logs_by_an_index(postgres_only, small_limits, backend):
    await fill(backend, 50_000)
    await backend.execute("ANALYZE task_logs")
    search = LogSearch(
        project_ids=(8,),
        company_id=1,
        start=datetime(2024, 1, 10, tzinfo=UTC),
        end=datetime(2024, 1, 11, tzinfo=UTC),
        starts_after=datetime(2024, 1, 9, tzinfo=UTC),
    )
    plan = await explain(backend, search)
    # The task ids first (one index look-up), then the logs by an index
    # range: by task, or (the planner's choice with a company of few
    # employees) by each employee of the company.
    assert "Index Scan using ix_tasks_project_id on tasks" in plan, plan
    assert "ix_task_logs_task_id_start_time" in plan or "ix_task_logs_user_id_start_time" in plan, plan
    assert "Seq Scan on task_logs" not in plan, plan
