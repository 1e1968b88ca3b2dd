"""The OpenAPI document's operations and request examples, sent as a user of
the Swagger UI would send them. Examples name the demo company's employees,
tasks, logs and subscriptions (app/demo.py)."""

from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx

METHODS = ("get", "put", "post", "delete", "patch")


class Operation(NamedTuple):
    path: str
    method: str
    spec: dict[str, Any]


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield Operation(path, method, item[method])


class ExampleRequest(NamedTuple):
    """One operation's request as the Swagger UI fills it in, with each of its example bodies."""

    operation_id: str
    method: str
    url: str
    params: dict[str, Any]
    headers: dict[str, Any]
    bodies: list[Any]

    async def send(self, client: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
        return await client.request(
            self.method.upper(), self.url, json=body, params=self.params, headers={**self.headers, **headers}
        )


def example_requests(document: dict[str, Any]) -> dict[str, ExampleRequest]:
    """Every operation's example request, by operation id."""
    requests = {}
    for path, method, spec in operations(document):
        url, query, headers = path, {}, {}
        for parameter in spec.get("parameters", []):
            if "example" not in parameter:
                continue
            value = parameter["example"]
            if parameter["in"] == "path":
                url = url.replace("{" + parameter["name"] + "}", str(value))
            elif parameter["in"] == "query":
                query[parameter["name"]] = value
            elif parameter["in"] == "header":
                headers[parameter["name"]] = value
        assert "{" not in url, f"{method} {path}: a path parameter without an example"
        media = spec.get("requestBody", {}).get("content", {}).get("application/json")
        bodies = [e["value"] for e in media["examples"].values()] if media else [None]
        requests[spec["operationId"]] = ExampleRequest(spec["operationId"], method, url, query, headers, bodies)
    return requests


# What an example needs done first, as a user of the Swagger UI would: notifications exist
# once the documentation's bulk example has taken project 7 over its allocation (app/demo.py
# says so), and only a deleted log can be restored.
PRELUDE = {
    "mark_notification_read": "bulk_create_task_logs",
    "restore_task_log": "delete_task_log",
}


async def send_prelude(client: httpx.AsyncClient, requests: dict[str, ExampleRequest], operation_id: str) -> None:
    """What `operation_id`'s example needs done first, if anything (its first example body)."""
    if operation_id in PRELUDE:
        first = requests[PRELUDE[operation_id]]
        await first.send(client, first.bodies[0])
