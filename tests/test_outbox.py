"""The outbox: every write queues its events in its own transaction, and a
write that rolled back queues none."""

import asyncio
import re
import time
from typing import Any

from app.core.database import make_sessionmaker
from app.events.outbox import StoredEvent
from app.webhooks.repository import webhook_repository
from tests.factories import hours_from_now, log, seed

BULK = "/tasklogs/bulk/create/{user}/"


async def outbox(backend) -> list[Any]:
    return await backend.rows(
        "SELECT event_id, type, company_id, task_log_id, change_seq, data FROM outbox_events ORDER BY id"
    )


async def payloads(backend) -> list[dict[str, Any]]:
    """The outbox's events as receivers get them, read and built by the dispatcher's own code (as
    due on NATS, which reads every event the same way)."""
    await backend.execute("UPDATE outbox_events SET nats_pending = true")
    async with make_sessionmaker(backend.engine)() as session:
        events: list[StoredEvent] = await webhook_repository(session).nats_due(10_000)
    return [e.payload() for e in events]


async def test_each_kind_of_write_queues_its_event_with_the_log_view(client, backend):
    await seed(client)
    created = (await client.post("/tasklog/create/", json=log())).json()["data"]
    log_id = created["taskLogId"]
    assert (await client.patch(f"/tasklogs/{log_id}/", json={"description": "edited"})).status_code == 200
    assert (await client.delete(f"/api/tasklogs/delete/{log_id}/")).status_code == 200
    assert (await client.post(f"/tasklogs/{log_id}/restore/")).status_code == 200

    events = await payloads(backend)
    assert [e["type"] for e in events] == ["tasklog.created", "tasklog.updated", "tasklog.deleted", "tasklog.restored"]
    assert all(e["id"].startswith("evt_") and e["companyId"] == 1 for e in events)
    assert len({e["id"] for e in events}) == 4
    assert events[0]["data"]["taskLogId"] == log_id and events[0]["data"]["version"] == 1
    assert events[1]["data"]["description"] == "edited" and events[1]["data"]["before"]["description"] == ""
    assert events[2]["data"]["description"] == "edited" and "before" not in events[2]["data"]  # the last view
    assert events[3]["data"]["taskLogId"] == log_id
    assert set(events[0]) == {"id", "type", "timestamp", "companyId", "data"}


async def test_a_bulk_queues_one_event_per_created_log_and_none_for_skipped_duplicates(client, backend):
    await seed(client)
    items = [log(start=f"2024-10-29T0{h}:00:00Z", end=f"2024-10-29T0{h}:30:00Z") for h in range(1, 6)]
    assert (await client.post(BULK.format(user=10), json=items)).status_code == 200
    again = await client.post(
        BULK.format(user=10), json=[*items, log(start="2024-10-30T01:00:00Z", end="2024-10-30T02:00:00Z")]
    )
    assert again.status_code == 200
    rows = await outbox(backend)
    assert [r.type for r in rows] == ["tasklog.created"] * 6
    assert len({r.task_log_id for r in rows}) == 6
    # Each event points at its own log's change.
    mismatched = await backend.scalar(
        "SELECT count(*) FROM outbox_events o JOIN task_log_changes c ON c.seq = o.change_seq "
        "WHERE c.task_log_id <> o.task_log_id OR c.company_id <> o.company_id"
    )
    assert mismatched == 0


async def test_allocation_crossings_are_events_with_the_allocation_of_the_answer(client, backend):
    await seed(client, project_hours=1)
    over = await client.post("/tasklog/create/", json=log(start="2024-10-29T09:00:00Z", end="2024-10-29T11:00:00Z"))
    assert over.status_code == 200
    answered = next(a for a in over.json()["allocation"] if "projectId" in a and "taskId" not in a)
    log_id = over.json()["data"]["taskLogId"]
    assert (await client.delete(f"/api/tasklogs/delete/{log_id}/")).status_code == 200

    events = [e for e in await payloads(backend) if e["type"].startswith("allocation.")]
    assert [e["type"] for e in events] == ["allocation.exceeded", "allocation.restored"]
    assert events[0]["data"] == answered and events[0]["companyId"] == 1
    assert events[1]["data"]["projectId"] == 7 and events[1]["data"]["exceeded"] is False


async def test_rolled_back_writes_queue_nothing(client, backend):
    await seed(client)
    created = (await client.post("/tasklog/create/", json=log())).json()["data"]
    before = await outbox(backend)
    # a bulk with one bad item: nothing saved
    bad = [log(start="2024-10-30T01:00:00Z", end="2024-10-30T02:00:00Z"), log(task_id=99999)]
    assert (await client.post(BULK.format(user=10), json=bad)).status_code == 422
    # a duplicate (409), an edit against an old version (412), a delete of another version (412)
    assert (await client.post("/tasklog/create/", json=log())).status_code == 409
    path = f"/tasklogs/{created['taskLogId']}/"
    assert (await client.patch(path, json={"description": "x"}, headers={"If-Match": '"7"'})).status_code == 412
    deleted = await client.delete(f"/api/tasklogs/delete/{created['taskLogId']}/", headers={"If-Match": '"7"'})
    assert deleted.status_code == 412
    # an edit onto another log's key (409 after the write began)
    other = await client.post("/tasklog/create/", json=log(start="2024-10-29T11:00:00Z", end="2024-10-29T12:00:00Z"))
    with_other = await outbox(backend)
    moved = await client.patch(path, json={"startTime": "2024-10-29T11:00:00Z", "endTime": "2024-10-29T11:30:00Z"})
    assert other.status_code == 200 and moved.status_code == 409
    assert await outbox(backend) == with_other
    assert len(with_other) == len(before) + 1
    assert await backend.scalar("SELECT count(*) FROM task_log_changes") == len(with_other)


async def test_timers_queue_started_stopped_and_discarded_events(client, backend):
    await seed(client)
    an_hour_ago = hours_from_now(-1)
    started = await client.post(
        "/timers/start/", json={"taskId": 250, "userId": 10, "description": "Login", "startTime": an_hour_ago}
    )
    assert started.status_code == 200, started.text
    stopped = await client.post("/timers/stop/10/", json={})
    assert stopped.status_code == 200, stopped.text
    timer = stopped.json()["timer"]
    again = await client.post("/timers/start/", json={"taskId": 251, "userId": 10})
    assert (await client.delete(f"/timers/{again.json()['data']['timerId']}/")).status_code == 200
    # A stop the create refuses (the same log again: 409) stops nothing, so tells nothing.
    await client.post("/timers/start/", json={"taskId": 250, "userId": 10, "startTime": an_hour_ago})
    refused = await client.post("/timers/stop/10/", json={"endTime": timer["endTime"]})
    assert refused.status_code == 409, refused.text

    events = await payloads(backend)
    assert [e["type"] for e in events] == [
        "timer.started",
        "tasklog.created",  # the stop's log, then the stop itself
        "timer.stopped",
        "timer.started",
        "timer.discarded",
        "timer.started",
    ]
    assert all(e["companyId"] == 1 for e in events)
    assert events[0]["data"]["startTime"] == timer["startTime"] and events[0]["data"]["running"] is True
    assert events[2]["data"]["taskLogId"] == events[1]["data"]["taskLogId"] == timer["taskLogId"]
    assert events[2]["data"]["running"] is False and events[2]["data"]["endTime"] == timer["endTime"]


async def test_time_warnings_queue_opened_and_resolved_events(client, backend):
    await seed(client)
    first = await client.post("/tasklog/create/", json=log(250, 10, "2024-10-29T09:00:00Z", "2024-10-29T11:00:00Z"))
    second = await client.post("/tasklog/create/", json=log(251, 10, "2024-10-29T10:00:00Z", "2024-10-29T12:00:00Z"))
    ids = sorted([first.json()["data"]["taskLogId"], second.json()["data"]["taskLogId"]])
    # An edit that keeps the overlap is no news; the delete that ends it, and the restore that brings it back, are.
    assert (await client.patch(f"/tasklogs/{ids[1]}/", json={"description": "still overlapping"})).status_code == 200
    assert (await client.delete(f"/api/tasklogs/delete/{ids[1]}/")).status_code == 200
    assert (await client.post(f"/tasklogs/{ids[1]}/restore/")).status_code == 200
    warning_id = await backend.scalar("SELECT id FROM time_warnings")
    # A person's actions: ignoring is no change of state for subscribers; resolve and reopen are.
    for action in ("ignore", "resolve", "reopen"):
        answer = await client.post("/api/time-warning/action/", json={"warningIds": [warning_id], "action": action})
        assert answer.status_code == 200, answer.text

    warnings = [e for e in await payloads(backend) if e["type"].startswith("warning.")]
    assert [(e["type"], e["data"]["status"]) for e in warnings] == [
        ("warning.opened", "open"),  # the second create
        ("warning.resolved", "resolved"),  # the delete
        ("warning.opened", "open"),  # the restore
        ("warning.resolved", "resolved"),  # an admin resolves (after ignoring)
        ("warning.opened", "open"),  # and reopens
    ]
    assert all(e["data"]["warningId"] == warning_id and e["companyId"] == 1 for e in warnings)
    assert warnings[0]["data"] | {"warningId": 0} == {
        "warningId": 0,
        "type": "OVERLAPPING_LOG",
        "userId": 10,
        "date": "2024-10-29",
        "totalSeconds": None,
        "taskLogIds": ids,
        "status": "open",
    }


async def test_event_ids_on_postgresql_grow_with_time_and_stay_random(client, backend, postgres_only):
    # Migration 0014: `evt_`, 12 hex digits of Unix milliseconds, 20 random
    # ones; the unique index then takes new events at its right edge.
    await seed(client)
    items = [log(start=f"2024-10-29T0{h}:00:00Z", end=f"2024-10-29T0{h}:30:00Z") for h in range(1, 6)]
    before_ms = int(time.time() * 1000)
    assert (await client.post(BULK.format(user=10), json=items[:3])).status_code == 200
    await asyncio.sleep(0.005)  # the next request's events in a later millisecond
    assert (await client.post(BULK.format(user=10), json=items[3:])).status_code == 200
    after_ms = int(time.time() * 1000)
    ids = [r.event_id for r in await outbox(backend)]  # in the order they were written
    assert len(ids) == 5 and all(re.fullmatch("evt_[0-9a-f]{32}", i) for i in ids)
    written_at = [int(i[4:16], 16) for i in ids]
    assert written_at == sorted(written_at) and all(before_ms - 1000 <= ms <= after_ms + 1000 for ms in written_at)
    assert max(ids[:3]) < min(ids[3:])  # a later request's events sort after an earlier one's
    assert len({i[16:] for i in ids}) == 5  # the random part
