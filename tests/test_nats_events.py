"""Events on NATS JetStream, against the real server (TASKLOGS_TEST_NATS_URL,
default 127.0.0.1:4222). Skipped when no server answers, except under CI=true.
Each test uses a stream and subject prefix of its own, so parallel runs do not meet."""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import nats
import orjson
import pytest

from app.core.database import WriterQueue, make_sessionmaker
from app.webhooks.dispatcher import Dispatcher
from tests.conftest import IN_CI, app_and_client
from tests.factories import log, seed
from tests.live_server import free_port

NATS_URL = os.environ.get("TASKLOGS_TEST_NATS_URL", "nats://127.0.0.1:4222")
BULK = "/tasklogs/bulk/create/{user}/"


@pytest.fixture
async def jetstream() -> AsyncIterator[tuple[str, str]]:
    """A stream name and subject prefix of this test's own (the stream deleted after)."""
    try:
        client = await nats.connect(
            NATS_URL, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0
        )
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"NATS is required in CI but unreachable at {NATS_URL}: {exc}")
        pytest.skip(f"no NATS server answers at {NATS_URL} ({type(exc).__name__})")
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"TASKLOGS_TEST_{tag}", f"tltest{tag}"
    try:
        yield stream, prefix
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await client.jetstream().delete_stream(stream)
        await client.close()


@pytest.fixture
async def app_client(backend):
    await backend.clean()
    async with app_and_client(backend) as (_, http):
        await seed(http)
        yield http


def nats_dispatcher(backend, stream: str, prefix: str, url: str = NATS_URL) -> Dispatcher:
    settings = backend.settings(nats_url=url, nats_stream=stream, nats_subject_prefix=prefix)
    return Dispatcher(make_sessionmaker(backend.engine), WriterQueue(settings), settings)


async def publish_all(worker: Dispatcher, backend) -> None:
    for _ in range(200):  # a guard against a hung test
        await worker.run_once()
        if not await backend.scalar("SELECT count(*) FROM outbox_events WHERE nats_pending OR fanned_out_at IS NULL"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("events still wait for NATS")


async def stream_messages(stream: str, prefix: str) -> list[nats.aio.msg.Msg]:
    client = await nats.connect(NATS_URL)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        subscription = await js.pull_subscribe(f"{prefix}.>", stream=stream)
        messages = await subscription.fetch(info.state.messages, timeout=5) if info.state.messages else []
        for message in messages:
            await message.ack()
        return messages
    finally:
        await client.close()


async def test_events_are_published_to_jetstream_with_their_id(app_client, backend, jetstream):
    stream, prefix = jetstream
    created = (await app_client.post("/tasklog/create/", json=log())).json()["data"]
    await app_client.post("/tasklog/create/", json=log(task_id=900, user_id=21))
    await app_client.delete(f"/api/tasklogs/delete/{created['taskLogId']}/")
    worker = nats_dispatcher(backend, stream, prefix)
    try:
        await publish_all(worker, backend)
    finally:
        await worker.close()
    messages = await stream_messages(stream, prefix)
    ids = [r.event_id for r in await backend.rows("SELECT event_id FROM outbox_events ORDER BY id")]
    assert [m.headers["Nats-Msg-Id"] for m in messages] == ids
    assert [m.subject for m in messages] == [
        f"{prefix}.1.tasklog.created",
        f"{prefix}.2.tasklog.created",
        f"{prefix}.1.tasklog.deleted",
    ]
    first = orjson.loads(messages[0].data)
    assert first["id"] == ids[0] and first["data"]["taskLogId"] == created["taskLogId"] and first["companyId"] == 1


async def test_a_republished_event_is_dropped_by_jetstream_as_a_duplicate(app_client, backend, jetstream):
    stream, prefix = jetstream
    await app_client.post("/tasklog/create/", json=log())
    worker = nats_dispatcher(backend, stream, prefix)
    try:
        await publish_all(worker, backend)
        # As after a crash between the stream's ack and our record of it.
        await backend.execute("UPDATE outbox_events SET nats_pending = true")
        await publish_all(worker, backend)
    finally:
        await worker.close()
    assert len(await stream_messages(stream, prefix)) == 1


async def test_with_nats_down_events_wait_and_go_out_when_it_is_back(app_client, backend, jetstream):
    stream, prefix = jetstream
    down = nats_dispatcher(backend, stream, prefix, url=f"nats://127.0.0.1:{free_port()}")
    items = [log(start=f"2024-10-2{d}T09:00:00Z", end=f"2024-10-2{d}T10:00:00Z") for d in range(1, 6)]
    try:
        assert (await app_client.post(BULK.format(user=10), json=items)).status_code == 200
        for _ in range(2):
            await down.run_once()
    finally:
        await down.close()
    assert await backend.scalar("SELECT count(*) FROM outbox_events WHERE nats_pending") == 5
    back = nats_dispatcher(backend, stream, prefix)
    try:
        await publish_all(back, backend)
    finally:
        await back.close()
    assert len(await stream_messages(stream, prefix)) == 5
