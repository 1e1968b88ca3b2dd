"""PostgreSQL plans a write's statements once per connection, not at every
run. asyncpg prepares every statement; left to itself, PostgreSQL plans a
prepared statement anew for each of its first five runs, and then for every
run whose generic plan it estimates dearer than the runs' own. The writes'
array parameters (`unnest($1)`) make that estimate wrong every time, so a
create's main statements were planned at every run: half of PostgreSQL's CPU
per create. A request's write transaction asks for the generic plans
(`GenericPlansSession` in app/core/database.py)."""

import pytest

from tests.conftest import app_and_client
from tests.factories import log, seed

pytestmark = pytest.mark.usefixtures("postgres_only")

CREATES = 8


async def test_a_creates_statements_are_planned_once_on_their_connection(backend):
    await backend.clean()
    # One pooled connection: every request's statements are prepared on it.
    async with app_and_client(backend, db_pool_size=1, db_max_overflow=0) as (app, client):
        await seed(client)
        for day in range(1, CREATES + 1):
            response = await client.post(
                "/tasklog/create/", json=log(260, 10, f"2024-10-{day:02}T09:00:00Z", f"2024-10-{day:02}T10:00:00Z")
            )
            assert response.status_code == 200, response.text

        async with app.state.engine.connect() as connection:
            plans = (
                await connection.exec_driver_sql(
                    "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
                )
            ).all()

    # The create's statements: its tasks and employee, the period locks, the
    # insert with the nearby logs, the history with its events.
    for marker in ("write_employees", "timesheet_submissions", "INSERT INTO task_logs", "INSERT INTO task_log_changes"):
        runs = [(p.generic_plans, p.custom_plans) for p in plans if marker in p.statement]
        assert runs == [(CREATES, 0)], marker
    assert await backend.scalar("SELECT count(*) FROM task_logs") == CREATES
