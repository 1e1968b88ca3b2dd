"""The OpenAPI document is valid, and the live service keeps it: schemathesis
generates requests for every operation from /openapi.json and checks that no
answer is a 500 and every answer matches its documented schema."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import checks

from tests.conftest import fresh_postgres_database
from tests.live_server import live_service


async def test_openapi_document_is_valid_openapi_3_1(client):
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    names = set(spec["components"]["schemas"])
    assert not {n for n in names if n.startswith("Body_") or n.endswith(("-Input", "-Output")) or "_" in n}
    operation_ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("description"), (method, path)
            assert op.get("tags"), (method, path)


async def test_create_documents_both_casings_of_the_seed_example(client):
    spec = (await client.get("/openapi.json")).json()
    examples = spec["paths"]["/tasklog/create/"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    values = [e["value"] for e in examples.values()]
    assert any("task_id" in v and "employee_id" in v for v in values)
    assert any("taskId" in v and "userId" in v for v in values)


def _database_urls() -> list[str]:
    return ["sqlite", "postgresql"]


@pytest.fixture(scope="module", params=_database_urls())
def live_api(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('contract')}/contract.db"
    else:
        url = fresh_postgres_database()
    with live_service(url) as (base, key):
        yield base, key


# Not positive_data_acceptance: a schema-valid body naming a task that does not
# exist is rightly a 422, which that check would count as a failure.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


def test_every_operation_keeps_its_documented_contract(live_api):
    """Bounded: 30 generated requests per operation, derandomized so CI is repeatable."""
    base, key = live_api
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def keeps_contract(case):
            # What we hold it to: no 500, status codes, content types, headers and bodies as documented.
            case.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS)

        try:
            keeps_contract()
        except Exception as exc:
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_live_service_answers_with_credentials(live_api):
    base, key = live_api
    assert httpx.get(f"{base}/taskLogs/task/250/", headers={"X-API-Key": key}).status_code == 200
