"""Nothing global is locked by a write (PostgreSQL, where writers run side by
side): while one write transaction is held open, another employee's write on
another project commits, and so does one on the same project when it has no
allocation; with an allocation, the second writer of that project waits for
the first, which the exactly-once alert needs. The change feed, meanwhile,
holds back what committed after the open transaction began writing, and
shows both, in order, once it commits."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text

from app.auth.principal import SYSTEM
from app.core.database import make_sessionmaker
from app.reference.repository import ReferenceRepository
from app.tasklogs.schemas import TaskLogCreate
from app.tasklogs.service import create_task_logs
from tests.factories import log, seed

pytestmark = pytest.mark.usefixtures("postgres_only")

# Generous: a request that is not blocked answers in milliseconds; one that
# is blocked never answers while the first transaction is open.
NOT_BLOCKED_WITHIN_SECONDS = 20


@asynccontextmanager
async def write_held_open(backend, item: dict) -> AsyncIterator[None]:
    """A create through the service's own write path, its transaction left
    open for the body of the `async with`, then committed."""
    sessionmaker = make_sessionmaker(backend.engine)
    async with sessionmaker() as session, session.begin():
        fields = TaskLogCreate.model_validate(item).model_dump(by_alias=False)
        result = await create_task_logs(session, backend.settings(), [fields], batch=False, actor=SYSTEM)
        assert len(result.created) == 1
        yield


async def test_another_employee_on_another_project_commits_while_a_write_is_open(client, backend):
    await seed(client)
    async with write_held_open(backend, log(250, 10)):  # project 7
        response = await asyncio.wait_for(
            client.post("/tasklog/create/", json=log(260, 11)),  # project 8
            NOT_BLOCKED_WITHIN_SECONDS,
        )
        assert response.status_code == 200, response.text
        assert await backend.scalar("SELECT count(*) FROM task_logs WHERE user_id = 11") == 1
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 2


async def test_the_same_project_without_allocation_does_not_queue(client, backend):
    await seed(client, project_hours=None)
    async with write_held_open(backend, log(250, 10)):
        response = await asyncio.wait_for(
            client.post("/tasklog/create/", json=log(251, 11)), NOT_BLOCKED_WITHIN_SECONDS
        )
        assert response.status_code == 200, response.text
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 2
    project = (await client.get("/projects/7/")).json()["data"]
    assert project["loggedSeconds"] == 2 * 5400


async def test_the_same_project_with_an_allocation_waits_for_the_first_writer(client, backend):
    await seed(client, project_hours=2)  # 1:30 + 1:30 goes over: the second write crosses
    async with write_held_open(backend, log(250, 10)):
        second = asyncio.create_task(client.post("/tasklog/create/", json=log(251, 11)))
        await backend.until_one_waits_on_a_lock(second)
        assert await backend.waiting_on_a_lock() == 1
        assert not second.done()
    response = await asyncio.wait_for(second, NOT_BLOCKED_WITHIN_SECONDS)
    assert response.status_code == 200, response.text
    project = next(a for a in response.json()["allocation"] if "taskId" not in a)
    assert project["loggedHours"] == 3.0 and project["exceeded"] is True
    assert project["notifiedAdminIds"] == [1, 2]  # the second writer crossed, once


async def test_the_feed_holds_back_a_later_commit_until_the_open_write_commits(client, backend):
    await seed(client)
    before = (await client.get("/tasklogs/changes/")).json()["nextCursor"]
    async with write_held_open(backend, log(250, 10)):
        response = await client.post("/tasklog/create/", json=log(260, 11))
        assert response.status_code == 200
        # Committed, but after a transaction that may still commit below it.
        held = (await client.get("/tasklogs/changes/", params={"since": before})).json()
        assert held["data"] == [] and held["nextCursor"] == before
    page = (await client.get("/tasklogs/changes/", params={"since": before})).json()
    assert [c["after"]["userId"] for c in page["data"]] == [10, 11]  # transaction order, none skipped


async def test_an_employee_a_write_has_read_cannot_move_company_until_it_commits(client, backend):
    """The write checked that employee 10 belongs to the task's company. Had
    the move committed between that read and the insert, the log would be a
    company-1 task's log by a company-2 employee; the move waits instead."""
    await seed(client)
    sessionmaker = make_sessionmaker(backend.engine)
    async with sessionmaker() as session, session.begin():
        _, employees = await ReferenceRepository(session).write_contexts({250}, {10})
        assert employees[10].company_id == 1
        move = asyncio.create_task(client.put("/employees/10/", json={"companyId": 2, "name": "Asha Rao"}))
        await backend.until_one_waits_on_a_lock(move)
    # Nothing was inserted, so once the write has ended the move goes through.
    response = await asyncio.wait_for(move, NOT_BLOCKED_WITHIN_SECONDS)
    assert response.status_code == 200, response.text
    assert await backend.scalar("SELECT company_id FROM employees WHERE id = 10") == 2


# ---------------------------------------------------------------- one order of locks
#
# A write locks its employees by id, then each project before its tasks: the order in which a
# change of the company's lock date takes all of its employees, and a change of an allocation
# its projects, then its task. Taken in another order, the two deadlocked under load. Each test
# holds the second row a write needs, and shows the write waits there holding the first one,
# and not the other way round.


async def test_a_write_locks_its_employees_in_id_order(client, backend):
    await seed(client)
    moved = (await client.post("/tasklog/create/", json=log(250, 11))).json()["data"]["taskLogId"]
    async with backend.engine.connect() as holder:
        await holder.execute(text("SELECT 1 FROM employees WHERE id = 11 FOR UPDATE"))
        # The edit moves employee 11's log to employee 10: it needs both.
        request = asyncio.create_task(client.patch(f"/tasklogs/{moved}/", json={"userId": 10}))
        await backend.until_one_waits_on_a_lock(request)
        assert await backend.row_is_locked("employees", "id = 10")  # taken first, held while it waits for 11
        await holder.rollback()
    response = await asyncio.wait_for(request, NOT_BLOCKED_WITHIN_SECONDS)
    assert response.status_code == 200, response.text


async def test_a_write_locks_a_project_before_its_task(client, backend):
    await seed(client)
    async with backend.engine.connect() as holder:
        # As a change of project 7's allocation holds it.
        await holder.execute(text("SELECT 1 FROM projects WHERE id = 7 FOR UPDATE"))
        request = asyncio.create_task(client.post("/tasklog/create/", json=log(250, 10)))
        await backend.until_one_waits_on_a_lock(request)
        assert not await backend.row_is_locked("tasks", "id = 250")  # not taken before its project
        await holder.rollback()
    response = await asyncio.wait_for(request, NOT_BLOCKED_WITHIN_SECONDS)
    assert response.status_code == 200, response.text


async def test_a_write_on_a_task_that_moves_project_meanwhile_finds_it_in_its_new_project(client, backend):
    """The write waits for the old project's lock while the task moves; it
    then finds the task in its new project, instead of answering that it
    does not exist."""
    await seed(client)
    await client.put("/projects/9/", json={"companyId": 1, "name": "Other"})
    async with backend.engine.connect() as mover:
        # What `PUT /tasks/250/` with another projectId holds until it commits.
        await mover.execute(text("SELECT 1 FROM projects WHERE id IN (7, 9) ORDER BY id FOR UPDATE"))
        await mover.execute(text("SELECT 1 FROM tasks WHERE id = 250 FOR UPDATE"))
        await mover.execute(text("UPDATE tasks SET project_id = 9 WHERE id = 250"))
        request = asyncio.create_task(client.post("/tasklog/create/", json=log(250, 10)))
        await backend.until_one_waits_on_a_lock(request)
        await mover.commit()
    response = await asyncio.wait_for(request, NOT_BLOCKED_WITHIN_SECONDS)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["projectId"] == 9
    assert await backend.scalar("SELECT count(*) FROM task_logs WHERE task_id = 250") == 1
