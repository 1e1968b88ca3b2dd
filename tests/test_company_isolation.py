"""Another company's callers never reach company 1's data, on any operation.

Every request example of the OpenAPI document names the demo company's
employees, tasks, logs, timers, submissions and webhooks. Each is sent as a
caller of company 2 would send it: by company 2's admin (a bearer token) and
by an API key of company 2. Each answer must be a refusal as the README
words it (404, or 422 `*_NOT_FOUND` for what a body names, as if it did not
exist), or tell nothing of company 1: none of its names, e-mails,
descriptions or URLs, and none of its company's, employees', projects' or
tasks' ids. And the database must hold exactly what it held before: another
company's caller writes nothing of company 1's."""

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from sqlalchemy import inspect

from app.demo import COMPANY_ID, load_demo
from tests.conftest import app_and_client
from tests.examples import example_requests, send_prelude
from tests.tools import served_openapi

OTHER_COMPANY = 2
OTHER_ADMIN = 20

# Operations that are not about any company's data.
UNSCOPED = {"healthz", "readyz", "metrics"}

# Refusals that do not depend on whether the named thing exists: a company's caller may only
# subscribe to its own company's events, whichever other company the body names.
REFUSED_WHATEVER_IT_NAMES = {("create_webhook", 403)}

# What every request of a caller writes of its own, whichever company it names.
CALLERS_BOOKKEEPING = {"api_keys", "alembic_version"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return served_openapi(tmp_path_factory.mktemp("isolation"))


async def _tables(backend) -> list[str]:
    async with backend.engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return sorted(set(names) - CALLERS_BOOKKEEPING)


async def _snapshot(backend, tables: list[str]) -> dict[str, list[str]]:
    """Every row of every table, as text, in a stable order."""
    return {table: sorted(map(repr, await backend.rows(f"SELECT * FROM {table}"))) for table in tables}


async def _company_one_words(backend) -> set[str]:
    """What an answer about company 1 would show: its names, e-mails, descriptions, URLs."""
    queries = [
        "SELECT name FROM companies WHERE id = :c",
        "SELECT name FROM employees WHERE company_id = :c",
        "SELECT email FROM employees WHERE company_id = :c AND email IS NOT NULL",
        "SELECT name FROM projects WHERE company_id = :c",
        "SELECT t.name FROM tasks t JOIN projects p ON p.id = t.project_id WHERE p.company_id = :c",
        "SELECT l.description FROM task_logs l JOIN employees e ON e.id = l.user_id"
        " WHERE e.company_id = :c AND l.description IS NOT NULL",
        "SELECT url FROM webhooks WHERE company_id = :c",
    ]
    words: set[str] = set()
    for sql in queries:
        words |= {row[0] for row in await backend.rows(sql, c=COMPANY_ID) if row[0] and len(row[0]) >= 6}
    return words


async def _company_one_ids(backend) -> dict[str, set[int]]:
    """Company 1's ids, by the fields that name them in an answer. Every one of
    its objects names its company, its employee or its task."""
    employees = {row[0] for row in await backend.rows("SELECT id FROM employees WHERE company_id = :c", c=COMPANY_ID)}
    projects = {row[0] for row in await backend.rows("SELECT id FROM projects WHERE company_id = :c", c=COMPANY_ID)}
    tasks = {
        row[0]
        for row in await backend.rows(
            "SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id WHERE p.company_id = :c", c=COMPANY_ID
        )
    }
    return {
        "companyId": {COMPANY_ID},
        "userId": employees,
        "employeeId": employees,
        "recipientId": employees,
        "projectId": projects,
        "taskId": tasks,
    }


def _ids_shown(node: Any, ids: dict[str, set[int]]) -> Iterator[str]:
    """The company 1 ids a JSON answer names, as `field=value`."""
    if isinstance(node, list):
        for item in node:
            yield from _ids_shown(item, ids)
    elif isinstance(node, dict):
        for field, value in node.items():
            if isinstance(value, int) and value in ids.get(field, ()):
                yield f"{field}={value}"
            else:
                yield from _ids_shown(value, ids)


def _json_lines(text: str) -> list[Any]:
    """An answer's JSON documents: one, or one a line (NDJSON); none for CSV."""
    try:
        return [json.loads(text)]
    except ValueError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            return []


def _as_if_it_did_not_exist(operation_id: str, answer: httpx.Response) -> bool:
    """The README's rule: another company's things answer 404, or 422 `*_NOT_FOUND` when named in a body."""
    if (operation_id, answer.status_code) in REFUSED_WHATEVER_IT_NAMES:
        return True
    code = answer.json().get("error_code", "")
    return answer.status_code == 404 or (answer.status_code == 422 and code.endswith("_NOT_FOUND"))


class CompanyOne(NamedTuple):
    """What an answer about company 1 would show."""

    words: set[str]
    ids: dict[str, set[int]]

    @classmethod
    async def read(cls, backend) -> "CompanyOne":
        return cls(await _company_one_words(backend), await _company_one_ids(backend))

    def given_away(self, operation_id: str, answer: httpx.Response) -> list[str]:
        """What is wrong with another company's caller getting this answer."""
        problems = []
        if answer.is_server_error or (answer.is_client_error and not _as_if_it_did_not_exist(operation_id, answer)):
            problems.append(answer.text[:300])
        if words := sorted(word for word in self.words if word in answer.text):
            problems.append(f"shows company 1's {words[:5]}")
        if answer.is_success:
            ids = sorted({shown for doc in _json_lines(answer.text) for shown in _ids_shown(doc, self.ids)})
            if ids:
                problems.append(f"names company 1's {ids[:5]}")
        return problems


async def test_company_twos_callers_neither_see_nor_change_company_one(backend, document):
    requests = example_requests(document)
    failures: list[str] = []
    tried = 0
    for operation_id, request in requests.items():
        if operation_id in UNSCOPED:
            continue
        for body in request.bodies:
            await backend.clean()
            await load_demo(backend.settings())
            async with (
                app_and_client(backend) as (app, platform),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as other,
            ):
                put_company = await platform.put(f"/companies/{OTHER_COMPANY}/", json={"name": "Other Ltd"})
                put_admin = await platform.put(
                    f"/employees/{OTHER_ADMIN}/",
                    json={"companyId": OTHER_COMPANY, "name": "Olga Other", "isAdmin": True},
                )
                assert put_company.status_code == put_admin.status_code == 200, put_admin.text
                await send_prelude(platform, requests, operation_id)
                tables = await _tables(backend)
                company_one = await CompanyOne.read(backend)
                assert len(company_one.words) >= 10
                callers = {
                    "company 2's admin": {"Authorization": f"Bearer {backend.token(OTHER_ADMIN, OTHER_COMPANY)}"},
                    "company 2's API key": {"X-API-Key": await backend.api_key("other", company_id=OTHER_COMPANY)},
                }
                for caller, credentials in callers.items():
                    before = await _snapshot(backend, tables)
                    answer = await request.send(other, body, **credentials)
                    tried += 1
                    after = await _snapshot(backend, tables)
                    problems = company_one.given_away(operation_id, answer)
                    if changed := [table for table in tables if before[table] != after[table]]:
                        problems.append(f"changed {changed}")
                    failures += [
                        f"{request.method.upper()} {request.url} {body!r} by {caller}: {answer.status_code} {problem}"
                        for problem in problems
                    ]
    assert tried >= 100
    assert not failures, "\n".join(failures)
