"""The published OpenAPI document (/openapi.json): what FastAPI derives from
the routes, shaped here, in one place, so that linters (Spectral's
`spectral:oas`, Redocly's `recommended`) and generated clients accept it.

Every step works on the whole document, operation by operation, so a new
router gets the same declarations without doing anything: the headers every
answer carries, the 400 of a body, the 429 of the rate limits, the explicit
`security: []` of the public probes. What only a route knows (its `ETag`,
the 412's current log) is declared by the route itself."""

import copy
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI

from app.core.schemas import MAX_ID
from app.core.settings import Settings

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
WRITE_METHODS = ("put", "post", "delete", "patch")
ERROR_ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}

# The response headers a client may read. Declared once, referred to by each answer.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (the caller's own `X-Request-ID` when it sent a valid one); also in the "
        "error envelope's `requestId` and in the service's log lines.",
        "schema": {"type": "string", "maxLength": 128},
    },
    "RateLimit-Policy": {
        "description": 'The caller\'s rate limit (IETF RateLimit header fields), e.g. `"per-key";q=600;w=60`: '
        "`q` requests per `w` seconds; the policy is `per-key` for an API key, `per-employee` for a bearer token.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of the limit, e.g. `"per-key";r=599;t=42`: `r` requests remain, the window '
        "resets in `t` seconds.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer of an earlier request with the same `Idempotency-Key` "
        "(nothing was written this time).",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

EXTRA_ERRORS: dict[str, dict[str, Any]] = {
    "400": {
        "description": "MALFORMED_JSON: the body is not JSON (or holds text no database can store).",
        "content": {"application/json": {"schema": ERROR_ENVELOPE}},
    },
    "413": {
        "description": "PAYLOAD_TOO_LARGE: the body is larger than `TASKLOGS_MAX_BODY_BYTES`.",
        "content": {"application/json": {"schema": ERROR_ENVELOPE}},
    },
    "429": {
        "description": "RATE_LIMITED: the caller's rate limit is spent (wait `Retry-After` seconds), or it holds too "
        "many live `Idempotency-Key`s.",
        "content": {"application/json": {"schema": ERROR_ENVELOPE}},
    },
}


# Values for "Try it out" in the Swagger UI, by parameter name: the demo
# company's (`tasklogs demo`, app/demo.py), so every example works on it.
PARAMETER_EXAMPLES: dict[str, Any] = {
    "taskLogId": 1,
    "pk": 1,
    "taskId": 250,
    "user_id": 10,
    "employee_id": 10,
    "recipient_id": 1,
    "notification_id": 1,
    "companyId": 1,
    "company_id": 1,
    "employeeId": 10,
    "projectId": 7,
    "project_id": 7,
    "date": "2024-10-28",
    "start_date": "2024-10-28",
    "end_date": "2024-11-03",
    "startDate": "2024-10-01",
    "endDate": "2024-10-31",
}


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve the shaped document: FastAPI's own builder, then `shape`, once."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def shaped_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            shape(build(), settings)
        assert app.openapi_schema is not None
        return app.openapi_schema

    # FastAPI's documented way to extend its document ("Extending OpenAPI").
    app.openapi = shaped_openapi  # type: ignore[method-assign]


def shape(document: dict[str, Any], settings: Settings) -> None:
    """Shape FastAPI's document in place (see the module's docstring)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    document["components"]["headers"] = copy.deepcopy(HEADERS)
    _document_accepted_names(document, schemas)
    _write_integer_bounds_as_integers(document)
    for _, method, operation in _operations(document):
        _declare_public(operation)
        _declare_answers(method, operation)
        _drop_null_from_optional_parameters(operation)
        _give_parameters_examples(operation)
        _offer_body_example(operation, schemas)
        if operation.get("operationId") == "bulk_create_task_logs":
            _cap_bulk_upload(operation, settings)


def _cap_bulk_upload(operation: dict[str, Any], settings: Settings) -> None:
    """The bulk body's `maxItems` is the configured cap (TASKLOGS_BULK_MAX_ITEMS,
    413 above it), not the hard ceiling the route validates against."""
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    body["maxItems"] = settings.bulk_max_items


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _declare_public(operation: dict[str, Any]) -> None:
    """An operation without credentials says so (`security: []`): the linters
    then know the probes are public on purpose, not by omission."""
    operation.setdefault("security", [])


def _header_refs(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _declare_answers(method: str, operation: dict[str, Any]) -> None:
    """The answers every operation can give and the headers each carries.

    - A body can be malformed (400) or too large (413), whatever the route.
    - Callers with credentials are rate-limited: 429, and the RateLimit
      headers on every answer (the limits are per API key or employee).
    - 429 and 503 say when to retry; a write with an Idempotency-Key may be
      a replay; every answer names its request."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    authenticated = bool(operation["security"])
    if "requestBody" in operation:
        for status in ("400", "413"):
            responses.setdefault(status, copy.deepcopy(EXTRA_ERRORS[status]))
    if authenticated:
        responses.setdefault("429", copy.deepcopy(EXTRA_ERRORS["429"]))
    idempotent = any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
    for status, answer in responses.items():
        names = ["X-Request-ID"]
        if authenticated:
            names += ["RateLimit-Policy", "RateLimit"]
        if status in ("429", "503"):
            names.append("Retry-After")
        if idempotent and method in WRITE_METHODS and status.startswith("2"):
            names.append("Idempotent-Replayed")
        answer.setdefault("headers", {}).update(_header_refs(*names))


def _drop_null_from_optional_parameters(operation: dict[str, Any]) -> None:
    """A parameter a caller may leave out is simply absent: no header or
    query string carries a null. FastAPI writes `str | None` as
    `anyOf: [string, null]`, which generated clients turn into a nullable
    argument (`If-Match: None`); the document says `string`."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        variants = schema.get("anyOf")
        if parameter.get("required") or not variants:
            continue
        kept = [v for v in variants if v.get("type") != "null"]
        if len(kept) == 1 and len(kept) < len(variants):
            del schema["anyOf"]
            schema.update(kept[0])


def _give_parameters_examples(operation: dict[str, Any]) -> None:
    """Each parameter's example as the parameter's own `example`, which the
    Swagger UI puts in the field: the schema's first one, else the demo's."""
    for parameter in operation.get("parameters", []):
        if "example" in parameter:
            continue
        examples = parameter.get("schema", {}).get("examples")
        if examples:
            parameter["example"] = examples[0]
        elif parameter["name"] in PARAMETER_EXAMPLES and parameter["in"] in ("path", "query"):
            parameter["example"] = PARAMETER_EXAMPLES[parameter["name"]]


def _offer_body_example(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """A body without examples of its own offers its schema's first example,
    which the Swagger UI then fills in (rather than one it makes up from
    every property, both spellings of each name included)."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        ref = media.get("schema", {}).get("$ref", "")
        examples = schemas.get(ref.rsplit("/", 1)[-1], {}).get("examples")
        if examples and "examples" not in media and "example" not in media:
            media["examples"] = {"example": {"summary": "The demo company's", "value": examples[0]}}


def _write_integer_bounds_as_integers(node: Any) -> None:
    """FastAPI's document model holds `minimum`/`maximum` as floats, so an id's
    bound, 2**63 - 1, comes out as 9.223372036854776e+18: a float, and one
    above the largest id (floats cannot hold 2**63 - 1). On an integer, a
    bound is written as the integer it stands for."""
    if isinstance(node, list):
        for item in node:
            _write_integer_bounds_as_integers(item)
    elif isinstance(node, dict):
        if node.get("type") == "integer":
            for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                if isinstance(node.get(key), float):
                    node[key] = min(int(node[key]), MAX_ID)
        for value in node.values():
            _write_integer_bounds_as_integers(value)


def _document_accepted_names(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Request bodies take either casing (`task_id` or `taskId`; see
    ApiModel), so their schemas list every accepted name as a property, and a
    required field is satisfied by any one of its names. Answers are
    camelCase only: their schemas keep one name per field."""
    for name in _schemas_of_request_bodies(document, schemas):
        schema = schemas[name]
        accepted: dict[str, list[str]] = schema.get("x-accepted-names", {})
        properties = schema.get("properties", {})
        required: list[str] = schema.get("required", [])
        either: list[dict[str, Any]] = []
        for shown, others in accepted.items():
            for other in others:
                # No default on the other names: a client that sends every property with its default
                # would send both spellings of a field.
                same = {k: v for k, v in properties[shown].items() if k != "default"}
                properties.setdefault(other, {**same, "description": f"Same as `{shown}`."})
            if shown in required:
                # Titled, so documentation tools name each choice by the field name it requires.
                either.append({"anyOf": [{"title": n, "required": [n]} for n in (shown, *others)]})
        if either:
            schema["required"] = [n for n in required if n not in accepted]
            if not schema["required"]:
                del schema["required"]
            schema["allOf"] = either
    for schema in schemas.values():
        schema.pop("x-accepted-names", None)


def _schemas_of_request_bodies(document: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """The component schemas a request body refers to, directly or through other schemas."""
    found: set[str] = set()
    pending = [
        media["schema"]
        for _, _, operation in _operations(document)
        for media in operation.get("requestBody", {}).get("content", {}).values()
        if "schema" in media
    ]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    pending.append(schemas[name])
            pending.extend(v for k, v in node.items() if k != "$ref")
    return found
