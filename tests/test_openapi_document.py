"""The published document tells a client everything it needs (issue 18,
points 11, 12 and 16): every example validates against its schema, the
Dyzo documentation's own bodies (snake_case included) validate too, the
headers, errors and content types the service answers are declared, and
every request example succeeds on the demo company, as it would when tried
from the Swagger UI."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.demo import load_demo
from tests.conftest import app_and_client
from tests.examples import example_requests, operations, send_prelude
from tests.tools import served_openapi

# The Task Logs page of the Dyzo documentation (shared/seed/dyzo-task-logs-api.txt), verbatim.
SEED_CREATE = {
    "task_id": 250,
    "employee_id": 10,
    "start_time": "2024-10-29T09:00:00Z",
    "end_time": "2024-10-29T10:30:00Z",
    "description": "Worked on authentication",
}
SEED_BULK = [
    {
        "taskId": 250,
        "userId": 10,
        "startTime": "2024-10-29T09:00:00Z",
        "endTime": "2024-10-29T10:30:00Z",
        "description": "Worked on authentication module",
        "manualAdd": False,
    },
    {
        "taskId": 251,
        "userId": 10,
        "startTime": "2024-10-29T10:30:00Z",
        "endTime": "2024-10-29T12:00:00Z",
        "description": "Code review and testing",
        "manualAdd": False,
    },
]
SEED_UPDATE = {
    "startTime": "2024-10-29T09:00:00Z",
    "endTime": "2024-10-29T11:00:00Z",
    "description": "Research and planning",
    "taskId": 250,
    "userId": 10,
}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return served_openapi(tmp_path_factory.mktemp("openapi"))


def _validator(document: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A validator of the schema at `pointer`, its `$ref`s resolved in the document."""
    registry: Registry = Registry().with_resource(
        "urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"urn:openapi#{pointer}"}, registry=registry, format_checker=FormatChecker())


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _examples(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(where, pointer of its schema, example) for every example in the document."""

    def walk(node: Any, pointer: str, in_schema: bool) -> Iterator[tuple[str, str, Any]]:
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, f"{pointer}/{i}", in_schema)
            return
        if not isinstance(node, dict):
            return
        if in_schema and isinstance(node.get("examples"), list):
            for i, example in enumerate(node["examples"]):
                yield f"{pointer}/examples/{i}", pointer, example
        if "schema" in node and not in_schema:  # a parameter or a media type object
            if "example" in node:
                yield f"{pointer}/example", f"{pointer}/schema", node["example"]
            for name, example in (node.get("examples") or {}).items():
                yield f"{pointer}/examples/{name}", f"{pointer}/schema", example["value"]
        for key, value in node.items():
            if key in ("examples", "example"):
                continue
            schema_here = in_schema or key == "schema" or pointer == "/components/schemas"
            yield from walk(value, f"{pointer}/{_escape(key)}", schema_here)

    yield from walk(document, "", False)


def test_every_example_validates_against_its_schema(document):
    examples = list(_examples(document))
    assert len(examples) > 100  # the walk found them: bodies, parameters, properties
    wrong = {
        where: [e.message for e in _validator(document, pointer).iter_errors(example)][:3]
        for where, pointer, example in examples
    }
    assert not {where: errors for where, errors in wrong.items() if errors}


def _body_schema(operation_path: str, method: str) -> str:
    return f"/paths/{_escape(operation_path)}/{method}/requestBody/content/application~1json/schema"


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/tasklog/create/", "post", SEED_CREATE),
        ("/tasklogs/bulk/create/{user_id}/", "post", SEED_BULK),
        ("/tasklogs/{taskLogId}/", "put", SEED_UPDATE),
    ],
)
def test_the_dyzo_documentations_bodies_validate_against_the_schema(document, path, method, body):
    errors = [e.message for e in _validator(document, _body_schema(path, method)).iter_errors(body)]
    assert not errors


def test_either_casing_is_described_and_one_of_them_is_required(document):
    schema = document["components"]["schemas"]["TaskLogCreate"]
    assert {"taskId", "task_id", "userId", "user_id", "employeeId", "employee_id", "start_time"} <= set(
        schema["properties"]
    )
    validator = _validator(document, "/components/schemas/TaskLogCreate")
    assert not validator.is_valid({k: v for k, v in SEED_CREATE.items() if k != "task_id"})
    # Answers stay camelCase only.
    assert "task_id" not in document["components"]["schemas"]["TaskLogOut"]["properties"]
    assert not any("x-accepted-names" in s for s in document["components"]["schemas"].values())


def test_a_time_without_offset_is_a_documented_time(document):
    validator = _validator(document, _body_schema("/tasklog/create/", "post"))
    local = {**SEED_CREATE, "start_time": "2024-10-29T09:00:00", "end_time": "2024-10-29T10:30"}
    assert validator.is_valid(local)
    assert not validator.is_valid({**SEED_CREATE, "start_time": "yesterday"})


def test_every_answer_declares_the_headers_a_client_reads(document):
    for path, method, operation in operations(document):
        authenticated = bool(operation["security"])
        for status, answer in operation["responses"].items():
            headers = set(answer.get("headers", {}))
            assert "X-Request-ID" in headers, (method, path, status)
            # Rate limits are per key or employee: a public probe has none.
            assert ({"RateLimit-Policy", "RateLimit"} <= headers) is authenticated, (method, path, status)
            if status in ("429", "503"):
                assert "Retry-After" in headers, (method, path, status)
        if authenticated:
            assert operation["responses"]["429"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorEnvelope"
            }
        else:
            assert operation["security"] == []  # public on purpose, and said so
        if "requestBody" in operation:
            assert "400" in operation["responses"], (method, path)
    assert all(document["paths"][probe]["get"]["security"] == [] for probe in ("/healthz", "/readyz", "/metrics"))
    responses = document["paths"]["/tasklog/create/"]["post"]["responses"]
    assert {"ETag", "Idempotent-Replayed"} <= set(responses["200"]["headers"])
    assert "ETag" in document["paths"]["/tasklogs/{taskLogId}/"]["get"]["responses"]["200"]["headers"]


def test_the_error_answers_declare_what_they_carry(document):
    schemas = document["components"]["schemas"]
    assert "requestId" in schemas["ErrorEnvelope"]["properties"]
    update = document["paths"]["/tasklogs/{taskLogId}/"]["put"]["responses"]
    conflict = update["412"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schemas[conflict]["properties"]["data"] == {"$ref": "#/components/schemas/TaskLogOut"}
    duplicate = update["409"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "existingTaskLogId" in schemas[duplicate]["properties"]
    ready = document["paths"]["/readyz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "data" in schemas[ready["$ref"].rsplit("/", 1)[1]]["properties"]


def test_files_are_declared_as_their_own_content_types(document):
    month = "/api/company/{company_id}/user/{user_id}/export-csv-report/{month}/"
    assert set(document["paths"][month]["get"]["responses"]["200"]["content"]) == {"text/csv"}
    timesheet = document["paths"]["/timesheets/"]["get"]["responses"]["200"]["content"]
    assert timesheet["text/csv"]["schema"] == {"type": "string"}
    assert timesheet["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]["schema"] == {
        "type": "string",
        "format": "binary",
    }


def test_parameters_are_typed_as_clients_send_them(document):
    put = document["paths"]["/tasklogs/{taskLogId}/"]["put"]
    if_match = next(p for p in put["parameters"] if p["name"] == "If-Match")
    assert if_match["schema"]["type"] == "string" and "anyOf" not in if_match["schema"]
    month_path = "/api/company/{company_id}/user/{user_id}/export-csv-report/{month}/"
    month = next(p for p in document["paths"][month_path]["get"]["parameters"] if p["name"] == "month")
    assert re.fullmatch(month["schema"]["pattern"], "2024-10") and not re.fullmatch(
        month["schema"]["pattern"], "2024-13"
    )


def _integer_schemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _integer_schemas(item)
    elif isinstance(node, dict):
        if node.get("type") == "integer":
            yield node
        for value in node.values():
            yield from _integer_schemas(value)


def test_id_maxima_are_written_as_integers(document):
    bounds = [s[k] for s in _integer_schemas(document) for k in ("minimum", "maximum") if k in s]
    assert bounds.count(2**63 - 1) > 50  # every id, in parameters and bodies alike
    assert all(type(b) is int for b in bounds), [b for b in bounds if type(b) is not int]


def test_the_bulk_bodys_max_items_is_the_configured_cap(tmp_path: Path):
    document = served_openapi(tmp_path, bulk_max_items=250)
    body = document["paths"]["/tasklogs/bulk/create/{user_id}/"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["maxItems"] == 250


# ---------------------------------------------------------------- examples on the demo company

# Examples that need the outside world, and what they answer on the demo company instead (so the
# test still fails if they answer anything else): a webhook's URL must resolve to a public address,
# and the example's host is a placeholder; a failed delivery exists only after a receiver failed a
# whole retry schedule.
NEEDS_THE_OUTSIDE_WORLD = {
    "create_webhook": (422, "WEBHOOK_URL_FORBIDDEN"),
    "retry_webhook_delivery": (404, "DELIVERY_NOT_FOUND"),
}


async def test_every_request_example_succeeds_on_the_demo_company(backend, document):
    requests = example_requests(document)
    failures = []
    for operation_id, request in requests.items():
        for body in request.bodies:
            await backend.clean()
            await load_demo(backend.settings())
            async with app_and_client(backend) as (_, client):
                await send_prelude(client, requests, operation_id)
                answer = await request.send(client, body)
            shown = f"{request.method.upper()} {request.url} {body!r}: {answer.status_code} {answer.text[:300]}"
            if operation_id in NEEDS_THE_OUTSIDE_WORLD:
                if (answer.status_code, answer.json().get("error_code")) != NEEDS_THE_OUTSIDE_WORLD[operation_id]:
                    failures.append(shown)
            elif not 200 <= answer.status_code < 300:
                failures.append(shown)
    assert not failures, "\n".join(failures)
