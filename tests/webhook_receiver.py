"""A real HTTP receiver of webhooks for tests: uvicorn serving a small ASGI
app on a free loopback port, in the test's event loop. It records every
request (headers and body) and answers what the test's `answer` function
says: a status code, "hang" to wait past the sender's time-out, "hold" to
answer nothing until the test calls `release()`, or "redirect" (a 307 to
another path of its own)."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn

from tests.live_server import free_port

Answer = int | str


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    client_port: int  # the sender's end of the connection, to tell senders apart

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    answer: Callable[[Received], Answer] = lambda _: 204
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    hang_seconds: float = 5.0
    released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = Received({k.decode(): v.decode() for k, v in scope["headers"]}, body, scope["client"][1])
        self.received.append(request)
        answer = self.answer(request)
        if answer == "hang":
            await asyncio.sleep(self.hang_seconds)
            answer = 200
        elif answer == "hold":
            await self.released.wait()
            answer = 200
        body = b"" if answer == 204 else b"ok"  # a 204 has no body
        headers = [(b"content-length", str(len(body)).encode())]
        if answer == "redirect":
            answer = 307
            headers.append((b"location", f"http://127.0.0.1:{self.port}/elsewhere".encode()))
        await send({"type": "http.response.start", "status": int(answer), "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def start(self) -> None:
        config = uvicorn.Config(
            self, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()  # raises what stopped it
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task

    def release(self) -> None:
        """Answer the requests held so far, and answer later ones at once."""
        self.released.set()

    def ids(self) -> list[str]:
        return [r.event_id for r in self.received]
