"""The floor: a hand-written raw ASGI app over asyncpg that does only the
essential SQL of each benchmark row, with no validation beyond parsing, no
authentication, no middleware. Served by uvicorn (1 worker, the same event
loop and HTTP parser as the service) on the same database as the service:

    BENCH_FLOOR_DSN=postgresql://root@127.0.0.1/db python -m uvicorn bench.floor:app --port 8001

Routes (bodies are the service's own payloads, camelCase):
  POST /floor/bulk/{user_id}   one INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING
  POST /floor/create           the same statement for one item; 409 when it is a duplicate
  GET  /floor/task/{task_id}   one plain SELECT of the task's logs (with project id and user name)
  GET  /floor/timesheet/{user_id}?start=&end=&tz=    one GROUP BY per local day
  GET  /floor/company/{company_id}?start=&end=&tz=   one GROUP BY per employee and local day
  GET  /floor/search/{user_id}?start=&end=&limit=[&after=]   one keyset SELECT of an employee's window
  GET  /floor/export?start=&end=    every log of the window as NDJSON, keyset batches of 1,000, streamed
"""

import os
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import orjson

INSERT = """
INSERT INTO task_logs (task_id, user_id, start_time, end_time, description, manual_add, created_by, updated_by)
SELECT t, u, s, e, d, m, 'floor', 'floor'
FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::bool[])
     AS x(t, u, s, e, d, m)
ON CONFLICT (task_id, user_id, start_time) DO NOTHING
RETURNING id, task_id, start_time
"""

TASK_LOGS = """
SELECT l.id, l.task_id, t.project_id, l.user_id, e.name AS user_name, l.start_time, l.end_time,
       l.description, l.manual_add, l.created_at, l.updated_at, l.created_by, l.updated_by
FROM task_logs l JOIN tasks t ON t.id = l.task_id JOIN employees e ON e.id = l.user_id
WHERE l.task_id = $1
ORDER BY l.start_time, l.id
"""

# Each log is split at local midnight: one row per local day it touches
# (generate_series of its local days), clipped to the day, summed per day.
# Logs are at most 24 h long, which bounds start_time from below (sargable
# on the (user_id, start_time) index).
_SPLIT = """
FROM {source}
CROSS JOIN LATERAL generate_series(
    greatest((l.start_time AT TIME ZONE $4)::date, $2::date)::timestamp,
    least(((l.end_time - interval '1 microsecond') AT TIME ZONE $4)::date, $3::date)::timestamp,
    interval '1 day') AS g(day)
"""
_SHARE = (
    "EXTRACT(EPOCH FROM least(l.end_time, (g.day + interval '1 day') AT TIME ZONE $4)"
    " - greatest(l.start_time, g.day AT TIME ZONE $4))"
)
_RANGE = (
    "l.start_time >= ($2::date::timestamp AT TIME ZONE $4) - interval '24 hours'"
    " AND l.start_time < (($3::date + 1)::timestamp AT TIME ZONE $4)"
    " AND l.end_time > ($2::date::timestamp AT TIME ZONE $4)"
)

TIMESHEET = f"""
SELECT d.day::date AS day, coalesce(s.seconds, 0) AS seconds
FROM generate_series($2::date::timestamp, $3::date::timestamp, interval '1 day') AS d(day)
LEFT JOIN (
    SELECT g.day, sum({_SHARE})::bigint AS seconds
    {_SPLIT.format(source="task_logs l")}
    WHERE l.user_id = $1 AND {_RANGE}
    GROUP BY g.day
) s ON s.day = d.day
ORDER BY d.day
"""

COMPANY = f"""
SELECT l.user_id, g.day::date AS day, sum({_SHARE})::bigint AS seconds
{_SPLIT.format(source="task_logs l")}
WHERE l.user_id = ANY(ARRAY(SELECT id FROM employees WHERE company_id = $1)) AND {_RANGE}
GROUP BY l.user_id, g.day
ORDER BY l.user_id, g.day
"""


# The search's page: the employee's logs overlapping [start, end), after the
# previous page's last (start_time, id). Logs are at most 24 h long, which
# bounds start_time from below, as the service does. Every field of the
# service's task-log view, the duration ("H:MM") too: computed by PostgreSQL,
# the cheapest place for a floor (the service computes it in Python).
_PAGE_COLUMNS = """
SELECT l.id, l.task_id, t.project_id, l.user_id, e.name AS user_name, l.start_time, l.end_time,
       d.seconds AS duration_seconds,
       (d.seconds / 3600) || ':' || lpad((d.seconds % 3600 / 60)::text, 2, '0') AS duration,
       l.description, l.manual_add, l.created_at, l.updated_at, l.created_by, l.updated_by, l.version
FROM task_logs l JOIN tasks t ON t.id = l.task_id JOIN employees e ON e.id = l.user_id
CROSS JOIN LATERAL (SELECT extract(epoch FROM l.end_time - l.start_time)::bigint AS seconds) d
"""
SEARCH_PAGE = f"""{_PAGE_COLUMNS}
WHERE l.user_id = $1 AND l.start_time < $3 AND l.end_time > $2 AND l.start_time > $2 - interval '24 hours'
  AND (l.start_time, l.id) > ($4, $5)
ORDER BY l.start_time, l.id
LIMIT $6
"""
EXPORT_BATCH = f"""{_PAGE_COLUMNS}
WHERE l.start_time < $2 AND l.end_time > $1 AND l.start_time > $1 - interval '24 hours'
  AND (l.start_time, l.id) > ($3, $4)
ORDER BY l.start_time, l.id
LIMIT 1000
"""
_BEFORE_ALL = (datetime(1, 1, 2, tzinfo=UTC), 0)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _columns(items: list[dict[str, Any]], user_id: int | None) -> list[list[Any]]:
    return [
        [i["taskId"] for i in items],
        [user_id if user_id is not None else i["userId"] for i in items],
        [_ts(i["startTime"]) for i in items],
        [_ts(i["endTime"]) for i in items],
        [i.get("description") or "" for i in items],
        [bool(i.get("manualAdd")) for i in items],
    ]


class Floor:
    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "GET" and path == "/floor/export":
            await self._export(scope, send)
            return
        try:
            status, payload = await self._route(method, path, scope, receive)
        except (KeyError, ValueError, orjson.JSONDecodeError) as exc:
            status, payload = 400, {"error": str(exc)}
        body = orjson.dumps(payload)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _route(self, method: str, path: str, scope: dict[str, Any], receive: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        assert self.pool is not None
        if method == "POST" and parts[:2] == ["floor", "bulk"]:
            items = orjson.loads(await _body(receive))
            rows = await self.pool.fetch(INSERT, *_columns(items, int(parts[2])))
            return 200, {
                "created": [{"id": r[0], "taskId": r[1], "startTime": r[2]} for r in rows],
                "skipped": len(items) - len(rows),
            }
        if method == "POST" and parts[:2] == ["floor", "create"]:
            item = orjson.loads(await _body(receive))
            rows = await self.pool.fetch(INSERT, *_columns([item], None))
            if not rows:
                return 409, {"error": "duplicate"}
            return 201, {"id": rows[0][0], "taskId": rows[0][1], "startTime": rows[0][2]}
        if method == "GET" and parts[:2] == ["floor", "task"]:
            rows = await self.pool.fetch(TASK_LOGS, int(parts[2]))
            return 200, [dict(r) for r in rows]
        if method == "GET" and parts[:2] in (["floor", "timesheet"], ["floor", "company"]):
            query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
            args = (int(parts[2]), date.fromisoformat(query["start"]), date.fromisoformat(query["end"]), query["tz"])
            rows = await self.pool.fetch(TIMESHEET if parts[1] == "timesheet" else COMPANY, *args)
            return 200, [dict(r) for r in rows]
        if method == "GET" and parts[:2] == ["floor", "search"]:
            query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
            after = _position(query["after"]) if "after" in query else _BEFORE_ALL
            limit = int(query["limit"])
            args = (int(parts[2]), _ts(query["start"]), _ts(query["end"]), *after, limit + 1)
            rows = await self.pool.fetch(SEARCH_PAGE, *args)
            more = len(rows) > limit
            rows = rows[:limit]
            last = f"{rows[-1]['start_time'].isoformat()},{rows[-1]['id']}" if more else None
            return 200, {"data": [dict(r) for r in rows], "next": last}
        return 404, {"error": "not found"}

    async def _export(self, scope: dict[str, Any], send: Any) -> None:
        """Every log of the window, one JSON object a line, one keyset batch at a time."""
        assert self.pool is not None
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        start, end = _ts(query["start"]), _ts(query["end"])
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/x-ndjson")]}
        )
        after = _BEFORE_ALL
        while True:
            rows = await self.pool.fetch(EXPORT_BATCH, start, end, *after)
            if rows:
                body = b"".join(orjson.dumps(dict(r)) + b"\n" for r in rows)
                await send({"type": "http.response.body", "body": body, "more_body": True})
            if len(rows) < 1000:
                break
            after = (rows[-1]["start_time"], rows[-1]["id"])
        await send({"type": "http.response.body", "body": b""})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # The service's pool: 10 connections kept, 10 more under load.
                # JIT off: compiling a plan costs tens of ms, more than these queries run (the
                # service can do the same in create_engine's server_settings).
                self.pool = await asyncpg.create_pool(
                    os.environ["BENCH_FLOOR_DSN"], min_size=10, max_size=20, server_settings={"jit": "off"}
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _position(text: str) -> tuple[datetime, int]:
    start, _, log_id = text.rpartition(",")
    return _ts(start), int(log_id)


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


app = Floor()
