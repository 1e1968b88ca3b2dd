"""Allocated-hours tracking. Every write that changes logged time passes its
changes here as seconds per (project, task); under the rows' locks the running
totals move, each touched project and task with an allocation is compared
with it, and the company's admins are told, once, when a write takes one over
the line. Going back to or under the line re-arms the alert."""

from collections import defaultdict
from dataclasses import dataclass, field
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


@dataclass
class TimeChanges:
    """What a write did to logged time: seconds added (or removed) per
    (project, task), and the logs it wrote there (the ones that may cross)."""

    seconds: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    logs: dict[tuple[int, int], list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, project_id: int, task_id: int, seconds: int, log_id: int | None = None) -> None:
        self.seconds[(project_id, task_id)] += seconds
        if log_id is not None:
            self.logs[(project_id, task_id)].append(log_id)

    def touch(self, project_id: int, task_id: int) -> None:
        """Report on this budget without changing it (e.g. a skipped duplicate)."""
        self.seconds[(project_id, task_id)] += 0


async def apply_time_changes(
    session: AsyncSession, changes: TimeChanges, *, projects: set[int] | None = None
) -> list[dict[str, Any]]:
    """Move the running totals and re-evaluate the allocations of every
    touched project and task (plus `projects`, e.g. after an allocation
    changed). Returns the `allocation` entries of the write's answer."""
    repo = AllocationRepository(session)
    seconds: dict[tuple[str, int], int] = defaultdict(int)
    crossing_logs: dict[tuple[str, int], list[int]] = defaultdict(list)
    for (project_id, task_id), added in changes.seconds.items():
        for budget_key in (("project", project_id), ("task", task_id)):
            seconds[budget_key] += added
            crossing_logs[budget_key] += changes.logs.get((project_id, task_id), [])
    for project_id in projects or ():
        seconds[("project", project_id)] += 0

    if not projects and not any(seconds.values()):
        # The write moved no time (a re-sent batch of duplicates): report where
        # the budgets stand, without queueing behind other writers' locks.
        budgets = await repo.budgets({i for k, i in seconds if k == "project"}, {i for k, i in seconds if k == "task"},
                                     lock=False)
        return [_entry(b) for b in budgets if b.allocated_hours is not None]

    moved = sorted(await repo.move(seconds), key=lambda m: (m[0].kind != "project", m[0].id))
    crossed = [budget for budget, was in moved if budget.exceeded and not was]
    entries = {(b.kind, b.id): _entry(b) for b, _ in moved if b.allocated_hours is not None}
    if crossed:
        admins = await repo.active_admins({b.company_id for b in crossed})
        alerts = []
        for budget in crossed:
            recipients = admins.get(budget.company_id, [])
            entries[(budget.kind, budget.id)]["notifiedAdminIds"] = recipients
            alerts += [_alert(budget, r, crossing_logs[(budget.kind, budget.id)]) for r in recipients]
        await NotificationRepository(session).add_many(alerts)
        count_on_commit(session, "notifications_sent", len(alerts))
    return list(entries.values())


def _entry(budget: Budget) -> dict[str, Any]:
    allocated = float(budget.allocated_hours or 0)
    entry: dict[str, Any] = {f"{budget.kind}Id": budget.id}
    if budget.kind == "task":
        entry["projectId"] = budget.project_id
    entry.update(
        allocatedHours=allocated,
        loggedHours=hours(budget.logged_seconds),
        remainingHours=round(allocated - budget.logged_seconds / 3600, 2),
        exceeded=budget.exceeded,
        notifiedAdminIds=[],
    )
    return entry


def _alert(budget: Budget, recipient_id: int, log_ids: list[int]) -> dict[str, Any]:
    allocated = float(budget.allocated_hours or 0)
    what = "Project" if budget.kind == "project" else "Task"
    return {
        "recipient_id": recipient_id,
        "category": "project",
        "type": ALERT_TYPES[budget.kind],
        "title": f"{what} over its allocated hours: {budget.name}",
        "message": (
            f"{what} '{budget.name}' has {hours_minutes(budget.logged_seconds)} logged, "
            f"over its allocation of {allocated:g} hours."
        ),
        "payload": {
            f"{budget.kind}Id": budget.id,
            "projectId": budget.project_id,
            "allocatedHours": allocated,
            "loggedHours": hours(budget.logged_seconds),
            "taskLogIds": sorted(set(log_ids)),
        },
        "read": False,
    }
