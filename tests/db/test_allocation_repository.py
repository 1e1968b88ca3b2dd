"""app/allocation: the budget crossing, called directly on both databases.
`record_time_changes` moves running totals and alerts the company's active
admins once per crossing; `reevaluate_allocations` recounts from the logs.

Reference data (tests.factories.seed): company 1 has active admins 1 and 2
(employee 12 is inactive, admin 20 is company 2's); project 7 carries the
allocation under test, with tasks 250-252; project 8 and its task 260 have none."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.allocation.repository import Budget, Moved, allocation_repository
from app.allocation.service import TimeChanges, record_time_changes, reevaluate_allocations
from app.models import Notification
from app.reference.repository import ReferenceRepository, TaskContext
from app.tasklogs.repository import NewLog, task_log_repository
from tests.db.sessions import transaction
from tests.factories import put, seed

HOUR = 3600


async def task_context(backend, task_id: int) -> TaskContext:
    async with transaction(backend) as session:
        tasks, _ = await ReferenceRepository(session).write_contexts({task_id}, set())
    return tasks[task_id]


async def move(backend, task: TaskContext, seconds: int, log_id: int | None = None) -> list[dict[str, Any]]:
    """One write's worth of time on `task`, in its own transaction."""
    changes = TimeChanges()
    changes.add(task, seconds, log_id)
    async with transaction(backend) as session:
        return await record_time_changes(session, changes)


async def notifications(backend) -> list[tuple[int, str, dict[str, Any]]]:
    async with transaction(backend) as session:
        rows = await session.scalars(select(Notification).order_by(Notification.id))
        return [(n.recipient_id, n.type, n.payload) for n in rows]


async def budget_row(backend, table: str, ident: int) -> tuple[int | None, bool]:
    (row,) = await backend.rows(f"SELECT logged_seconds, allocation_exceeded FROM {table} WHERE id = :id", id=ident)
    return row[0], bool(row[1])


def project_entry(logged_hours: float, remaining: float, exceeded: bool, notified: list[int]) -> dict[str, Any]:
    return {
        "projectId": 7,
        "allocatedHours": 1.0,
        "loggedHours": logged_hours,
        "remainingHours": remaining,
        "exceeded": exceeded,
        "notifiedAdminIds": notified,
    }


# ---------------------------------------------------------------- pure parts


def test_time_changes_of_a_task_without_allocation_is_empty():
    changes = TimeChanges()
    changes.add(TaskContext(260, 8, 1), 5400, 1)
    assert dict(changes.seconds) == {}
    assert dict(changes.logs) == {}


def test_time_changes_adds_per_budget_and_keeps_written_log_ids():
    changes = TimeChanges()
    both = TaskContext(251, 7, 1, task_allocated=True, project_allocated=True)
    changes.add(both, 5400, 1)
    changes.add(TaskContext(250, 7, 1, project_allocated=True), 1800, 2)
    changes.add(both, -600)  # removed time: no log that may cross
    assert dict(changes.seconds) == {("project", 7): 6600, ("task", 251): 4800}
    assert dict(changes.logs) == {("project", 7): [1, 2], ("task", 251): [1]}


def budget(allocated: str | None, exceeded: bool = False) -> Budget:
    return Budget("project", 7, 7, 1, "Website", None if allocated is None else Decimal(allocated), exceeded, 0)


def test_budget_is_over_strictly_above_the_allocation():
    assert not budget("1").is_over(3600)
    assert budget("1").is_over(3601)
    assert not budget("1.5").is_over(5400)
    assert budget("1.5").is_over(5401)
    assert budget("0").is_over(1)
    assert not budget("0").is_over(0)
    assert not budget(None).is_over(10**9)


def test_moved_crossed_only_when_over_now_and_not_before():
    assert Moved(budget("1", exceeded=True), was_over=False).crossed
    assert not Moved(budget("1", exceeded=True), was_over=True).crossed
    assert not Moved(budget("1", exceeded=False), was_over=True).crossed
    assert not Moved(budget("1", exceeded=False), was_over=False).crossed


# ---------------------------------------------------------------- against the databases


async def test_moving_time_over_the_allocation_crosses_once(backend, client):
    await seed(client, project_hours=1)
    task = await task_context(backend, 250)
    assert task == TaskContext(250, 7, 1, task_allocated=False, project_allocated=True)

    assert await move(backend, task, 3000, log_id=101) == [project_entry(0.83, 0.17, False, [])]
    assert await budget_row(backend, "projects", 7) == (3000, False)
    assert await notifications(backend) == []

    # 3,000 + 1,200 = 4,200 s > 3,600 s: crosses, both active admins of company 1 are told.
    assert await move(backend, task, 1200, log_id=102) == [project_entry(1.17, -0.17, True, [1, 2])]
    assert await budget_row(backend, "projects", 7) == (4200, True)
    payload = {"projectId": 7, "allocatedHours": 1.0, "loggedHours": 1.17, "taskLogIds": [102]}
    assert await notifications(backend) == [
        (1, "PROJECT_ALLOCATION_EXCEEDED", payload),
        (2, "PROJECT_ALLOCATION_EXCEEDED", payload),
    ]

    # Still over: no second alert.
    assert await move(backend, task, 600, log_id=103) == [project_entry(1.33, -0.33, True, [])]
    assert await budget_row(backend, "projects", 7) == (4800, True)
    assert len(await notifications(backend)) == 2


async def test_going_back_to_the_line_rearms_the_alert(backend, client):
    await seed(client, project_hours=1)
    task = await task_context(backend, 250)
    await move(backend, task, 4000, log_id=1)
    assert len(await notifications(backend)) == 2

    # Back to exactly the allocation: not over (over is strictly above), re-armed.
    assert await move(backend, task, -400) == [project_entry(1.0, 0.0, False, [])]
    assert await budget_row(backend, "projects", 7) == (3600, False)
    # One second over: a new crossing, a new alert per admin.
    assert await move(backend, task, 1, log_id=2) == [project_entry(1.0, -0.0, True, [1, 2])]
    assert await budget_row(backend, "projects", 7) == (3601, True)
    found = await notifications(backend)
    assert [(r, p["taskLogIds"]) for r, _, p in found] == [(1, [1]), (2, [1]), (1, [2]), (2, [2])]


async def test_reaching_the_allocation_exactly_does_not_cross(backend, client):
    await seed(client, project_hours=1)
    task = await task_context(backend, 250)
    assert await move(backend, task, 3600, log_id=1) == [project_entry(1.0, 0.0, False, [])]
    assert await notifications(backend) == []


async def test_task_and_project_budgets_cross_separately(backend, client):
    await seed(client, project_hours=1)
    await put(client, "/tasks/251/", {"projectId": 7, "name": "Task 251", "allocatedHours": 0.5})
    task = await task_context(backend, 251)
    assert task.allocated_budgets() == [("project", 7), ("task", 251)]

    entries = await move(backend, task, 2000, log_id=7)
    task_entry = {
        "taskId": 251,
        "projectId": 7,
        "allocatedHours": 0.5,
        "loggedHours": 0.56,
        "remainingHours": -0.06,
        "exceeded": True,
        "notifiedAdminIds": [1, 2],
    }
    assert entries == [project_entry(0.56, 0.44, False, []), task_entry]
    assert await budget_row(backend, "tasks", 251) == (2000, True)
    assert await budget_row(backend, "projects", 7) == (2000, False)
    assert [(r, t) for r, t, _ in await notifications(backend)] == [
        (1, "TASK_ALLOCATION_EXCEEDED"),
        (2, "TASK_ALLOCATION_EXCEEDED"),
    ]


async def test_task_without_allocation_touches_no_budget(backend, client):
    await seed(client, project_hours=1)
    task = await task_context(backend, 260)
    assert task == TaskContext(260, 8, 1, task_allocated=False, project_allocated=False)
    assert await move(backend, task, 10 * HOUR, log_id=1) == []
    # Project 8 keeps no running total, and nothing else moved.
    assert await budget_row(backend, "projects", 8) == (None, False)
    assert await budget_row(backend, "tasks", 260) == (None, False)
    assert await budget_row(backend, "projects", 7) == (0, False)
    assert await notifications(backend) == []


async def test_a_write_that_moves_no_time_reports_without_moving(backend, client):
    await seed(client, project_hours=1)
    task = await task_context(backend, 250)
    await move(backend, task, 4000, log_id=1)
    assert await move(backend, task, 0) == [project_entry(1.11, -0.11, True, [])]
    assert await budget_row(backend, "projects", 7) == (4000, True)
    assert len(await notifications(backend)) == 2


async def test_reevaluate_counts_the_total_from_the_logs(backend, client):
    await seed(client, project_hours=100)
    start = datetime(2024, 10, 29, 9, tzinfo=UTC)
    async with transaction(backend) as session:
        await task_log_repository(session).insert_or_find(
            [
                NewLog(250, 10, start, start + timedelta(minutes=90), "a", False),
                NewLog(251, 11, start, start + timedelta(minutes=45), "b", False),
                NewLog(260, 10, start + timedelta(hours=2), start + timedelta(hours=5), "not project 7", False),
            ],
            "test",
        )
    # A wrong running total and a lowered allocation, behind the service's back.
    await backend.execute("UPDATE projects SET logged_seconds = 5, allocated_hours = 2 WHERE id = 7")

    async with transaction(backend) as session:
        await allocation_repository(session).lock_for_allocation_change("project", {7})
        entries = await reevaluate_allocations(session, {("project", 7)})
    assert entries == [
        {
            "projectId": 7,
            "allocatedHours": 2.0,
            "loggedHours": 2.25,
            "remainingHours": -0.25,
            "exceeded": True,
            "notifiedAdminIds": [1, 2],
        }
    ]
    assert await budget_row(backend, "projects", 7) == (8100, True)
    assert [(r, p) for r, _, p in await notifications(backend)] == [
        (1, {"projectId": 7, "allocatedHours": 2.0, "loggedHours": 2.25, "taskLogIds": []}),
        (2, {"projectId": 7, "allocatedHours": 2.0, "loggedHours": 2.25, "taskLogIds": []}),
    ]

    # Counting again while still over alerts nobody.
    async with transaction(backend) as session:
        entries = await reevaluate_allocations(session, {("project", 7)})
    assert entries[0]["notifiedAdminIds"] == []
    assert len(await notifications(backend)) == 2

    # Without an allocation: no total kept, nothing exceeded, no entry.
    await backend.execute("UPDATE projects SET allocated_hours = NULL WHERE id = 7")
    async with transaction(backend) as session:
        assert await reevaluate_allocations(session, {("project", 7)}) == []
    assert await budget_row(backend, "projects", 7) == (None, False)
