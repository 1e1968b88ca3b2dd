"""Allocated-hours tracking: after every write that changes logged time,
compare each touched project's and task's total against its allocation and
tell the company's admins, once, when a write takes it over the line."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.allocation.repository import AllocationRepository, Budget
from app.core.observability import count_on_commit
from app.core.timeutil import hours, hours_minutes
from app.notifications.repository import NotificationRepository

ALERT_TYPES = {"project": "PROJECT_ALLOCATION_EXCEEDED", "task": "TASK_ALLOCATION_EXCEEDED"}


def figures(allocated_hours: Decimal | float | None, logged_seconds: int, exceeded: bool) -> dict[str, Any]:
    """The allocation numbers shown on a project or task."""
    allocated = float(allocated_hours) if allocated_hours is not None else None
    return {
        "allocatedHours": allocated,
        "loggedSeconds": logged_seconds,
        "loggedHours": hours(logged_seconds),
        "remainingHours": round(allocated - logged_seconds / 3600, 2) if allocated is not None else None,
        "allocationExceeded": exceeded,
    }


async def check_allocations(
    session: AsyncSession,
    project_ids: set[int],
    task_ids: set[int],
    written_log_ids: dict[tuple[str, int], list[int]],
) -> list[dict[str, Any]]:
    """Re-evaluate the allocations of the touched projects and tasks.

    `written_log_ids` maps ("project", id) / ("task", id) to the logs this
    request created or moved there: they are the ones that crossed the line.
    Returns the `allocation` entries of the write's answer."""
    repo = AllocationRepository(session)
    budgets = await repo.lock_budgets(project_ids, task_ids)
    if not budgets:
        return []
    by_task = await repo.logged_seconds_by_task({b.project_id for b in budgets})
    project_seconds: dict[int, int] = defaultdict(int)
    task_seconds: dict[int, int] = {}
    for (project_id, task_id), seconds in by_task.items():
        project_seconds[project_id] += seconds
        task_seconds[task_id] = seconds

    crossed: list[tuple[Budget, int]] = []
    rearmed: list[Budget] = []
    entries: dict[tuple[str, int], dict[str, Any]] = {}
    for budget in budgets:
        logged = project_seconds[budget.id] if budget.kind == "project" else task_seconds.get(budget.id, 0)
        over = logged > budget.allocated_hours * 3600
        if over and not budget.exceeded:
            crossed.append((budget, logged))
        elif not over and budget.exceeded:
            rearmed.append(budget)
        entry: dict[str, Any] = {f"{budget.kind}Id": budget.id}
        if budget.kind == "task":
            entry["projectId"] = budget.project_id
        allocated = float(budget.allocated_hours)
        entry.update(
            allocatedHours=allocated,
            loggedHours=hours(logged),
            remainingHours=round(allocated - logged / 3600, 2),
            exceeded=over,
            notifiedAdminIds=[],
        )
        entries[(budget.kind, budget.id)] = entry

    for kind in ("project", "task"):
        await repo.set_exceeded(kind, [b.id for b, _ in crossed if b.kind == kind], True)
        await repo.set_exceeded(kind, [b.id for b in rearmed if b.kind == kind], False)

    if crossed:
        admins = await repo.active_admins({b.company_id for b, _ in crossed})
        notifications = []
        for budget, logged in crossed:
            recipients = admins.get(budget.company_id, [])
            entries[(budget.kind, budget.id)]["notifiedAdminIds"] = recipients
            notifications += [
                _alert(budget, logged, recipient, written_log_ids.get((budget.kind, budget.id), []))
                for recipient in recipients
            ]
        await NotificationRepository(session).add_many(notifications)
        count_on_commit(session, "notifications_sent", len(notifications))
    return list(entries.values())


def _alert(budget: Budget, logged_seconds: int, recipient_id: int, log_ids: list[int]) -> dict[str, Any]:
    allocated = float(budget.allocated_hours)
    what = "Project" if budget.kind == "project" else "Task"
    return {
        "recipient_id": recipient_id,
        "category": "project",
        "type": ALERT_TYPES[budget.kind],
        "title": f"{what} over its allocated hours: {budget.name}",
        "message": (
            f"{what} '{budget.name}' has {hours_minutes(logged_seconds)} logged, "
            f"over its allocation of {allocated:g} hours."
        ),
        "payload": {
            f"{budget.kind}Id": budget.id,
            "projectId": budget.project_id,
            "allocatedHours": allocated,
            "loggedHours": hours(logged_seconds),
            "taskLogIds": sorted(log_ids),
        },
        "read": False,
    }
