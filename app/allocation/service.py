"""Allocated-hours tracking. Every write that changes logged time on a
project or task with an allocation passes its changes here as seconds per
budget; under those rows' locks the running totals move, each is compared
with its allocation, and the company's admins are told, once, when a write
takes one over the line. Going back to or under the line re-arms the alert.
Projects and tasks without an allocation keep no total (see
app/allocation/repository.py), so their writers never wait for each other."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.allocation.repository import Budget, BudgetKey, Moved, allocation_repository
from app.core.observability import count_on_commit
from app.core.timeutil import hours, hours_minutes, remaining_hours
from app.events.outbox import NewEvent, record_events
from app.notifications.repository import NotificationRepository
from app.reference.repository import TaskContext

ALERT_TYPES = {"project": "PROJECT_ALLOCATION_EXCEEDED", "task": "TASK_ALLOCATION_EXCEEDED"}


def figures(allocated_hours: Decimal | float | None, logged_seconds: int, exceeded: bool) -> dict[str, Any]:
    """The allocation numbers shown on a project or task."""
    allocated = float(allocated_hours) if allocated_hours is not None else None
    return {
        "allocatedHours": allocated,
        "loggedSeconds": logged_seconds,
        "loggedHours": hours(logged_seconds),
        "remainingHours": remaining_hours(allocated, logged_seconds) if allocated is not None else None,
        "allocationExceeded": exceeded,
    }


@dataclass
class TimeChanges:
    """What a write did to logged time on the budgets that keep a running
    total (projects and tasks with an allocation): seconds added or removed,
    and the logs it wrote there (the ones that may cross). A project or task
    without an allocation is not tracked here: its time is the sum of its
    logs, and its writers need no lock."""

    seconds: dict[BudgetKey, int] = field(default_factory=lambda: defaultdict(int))
    logs: dict[BudgetKey, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, task: TaskContext, seconds: int, log_id: int | None = None) -> None:
        """`seconds` logged (negative: removed) on this task and its project."""
        for key in task.allocated_budgets():
            self.seconds[key] += seconds
            if log_id is not None:
                self.logs[key].append(log_id)


async def record_time_changes(session: AsyncSession, changes: TimeChanges) -> list[dict[str, Any]]:
    """Move the running totals of the budgets with an allocation that the
    write touched, and tell the company's admins, once, about each one the
    write took over its allocation. Returns the `allocation` entries of the
    write's answer."""
    if not changes.seconds:
        return []
    repo = allocation_repository(session)
    if not any(changes.seconds.values()):
        # The write moved no time (a re-sent batch of duplicates): report where
        # the budgets stand, without queueing behind other writers' locks.
        return [_entry(b) for b in await repo.budgets(set(changes.seconds))]
    return await _answer_and_alert(session, await repo.move(changes.seconds), changes.logs)


async def reevaluate_allocations(session: AsyncSession, keys: set[BudgetKey]) -> list[dict[str, Any]]:
    """After an allocation changed (`PUT` of a project or task, which has
    locked the rows first): count the totals again from the logs and alert
    on a budget now over its allocation, as a write would."""
    return await _answer_and_alert(session, await allocation_repository(session).recount(keys), {})


async def _answer_and_alert(
    session: AsyncSession, moved: list[Moved], crossing_logs: dict[BudgetKey, list[int]]
) -> list[dict[str, Any]]:
    moved = sorted(moved, key=lambda m: (m.budget.kind != "project", m.budget.id))
    entries = {m.budget.key: _entry(m.budget) for m in moved if m.budget.allocated_hours is not None}
    crossed = [m.budget for m in moved if m.crossed]
    if crossed:
        admins = await allocation_repository(session).active_admins({b.company_id for b in crossed})
        alerts = []
        for budget in crossed:
            recipients = admins.get(budget.company_id, [])
            entries[budget.key]["notifiedAdminIds"] = recipients
            alerts += [_alert(budget, r, crossing_logs.get(budget.key, [])) for r in recipients]
        await NotificationRepository(session).add_many(alerts)
        count_on_commit(session, "notifications_sent", len(alerts))
    # Other services hear of the same crossings, and of a budget back under its line.
    await record_events(
        session,
        [
            NewEvent("allocation.exceeded" if m.crossed else "allocation.restored", m.budget.company_id, entries[k])
            for m in moved
            if (k := m.budget.key) in entries and (m.crossed or (m.was_over and not m.budget.exceeded))
        ],
    )
    return list(entries.values())


def _entry(budget: Budget) -> dict[str, Any]:
    allocated, logged = float(budget.allocated_hours or 0), budget.logged_seconds or 0
    entry: dict[str, Any] = {f"{budget.kind}Id": budget.id}
    if budget.kind == "task":
        entry["projectId"] = budget.project_id
    entry.update(
        allocatedHours=allocated,
        loggedHours=hours(logged),
        remainingHours=remaining_hours(allocated, logged),
        exceeded=budget.exceeded,
        notifiedAdminIds=[],
    )
    return entry


def _alert(budget: Budget, recipient_id: int, log_ids: list[int]) -> dict[str, Any]:
    allocated, logged = float(budget.allocated_hours or 0), budget.logged_seconds or 0
    what = "Project" if budget.kind == "project" else "Task"
    return {
        "recipient_id": recipient_id,
        "category": "project",
        "type": ALERT_TYPES[budget.kind],
        "title": f"{what} over its allocated hours: {budget.name}",
        "message": (
            f"{what} '{budget.name}' has {hours_minutes(logged)} logged, over its allocation of {allocated:g} hours."
        ),
        "payload": {
            f"{budget.kind}Id": budget.id,
            "projectId": budget.project_id,
            "allocatedHours": allocated,
            "loggedHours": hours(logged),
            "taskLogIds": sorted(set(log_ids)),
        },
        "read": False,
    }
