"""The running totals on projects and tasks with an allocation always equal
the sum of their logs; without an allocation none is kept (NULL), and the
API shows the sum of the logs."""

from tests.factories import SEED_BULK, log, put, seed

SECONDS = {
    "sqlite": "CAST(strftime('%s', l.end_time) AS INTEGER) - CAST(strftime('%s', l.start_time) AS INTEGER)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM l.end_time - l.start_time) AS BIGINT)",
}


async def assert_totals_match_the_logs(backend):
    """Kept totals equal the sums; no total is kept without an allocation."""
    seconds = SECONDS[backend.name]
    tasks = await backend.rows(
        f"SELECT t.id, t.logged_seconds, COALESCE((SELECT SUM({seconds}) FROM task_logs l WHERE l.task_id = t.id), 0),"
        " t.allocated_hours IS NOT NULL FROM tasks t"
    )
    projects = await backend.rows(
        f"SELECT p.id, p.logged_seconds, COALESCE((SELECT SUM({seconds}) FROM task_logs l JOIN tasks t "
        "ON t.id = l.task_id WHERE t.project_id = p.id), 0), p.allocated_hours IS NOT NULL FROM projects p"
    )
    for rows in (tasks, projects):
        assert any(allocated for *_, allocated in rows)
        assert [(i, kept) for i, kept, _, _ in rows] == [(i, s if allocated else None) for i, _, s, allocated in rows]


async def test_totals_follow_every_kind_of_write(client, backend):
    await seed(client, project_hours=3)
    await put(client, "/tasks/251/", {"projectId": 7, "name": "Review", "allocatedHours": 40})
    await client.post("/tasklogs/bulk/create/10/", json=SEED_BULK)
    await assert_totals_match_the_logs(backend)
    log_id = (await client.post("/tasklog/create/", json=log(260, 11))).json()["data"]["taskLogId"]
    await client.patch(f"/tasklogs/{log_id}/", json={"taskId": 251, "endTime": "2024-10-29T12:00:00Z"})
    await assert_totals_match_the_logs(backend)
    await client.delete(f"/api/tasklogs/delete/{log_id}/")
    await assert_totals_match_the_logs(backend)
    await client.post(f"/tasklogs/{log_id}/restore/")
    await assert_totals_match_the_logs(backend)
    # A task moved to another project takes its time along.
    await put(client, "/tasks/252/", {"projectId": 8, "name": "Moved"})
    await assert_totals_match_the_logs(backend)
    project_8 = (await client.get("/projects/8/")).json()["data"]
    assert project_8["loggedSeconds"] == 9000  # task 252's 2:30
    # Duplicates and refused writes change nothing.
    await client.post("/tasklogs/bulk/create/10/", json=SEED_BULK)
    await client.post("/tasklog/create/", json=log(250, 12))
    await assert_totals_match_the_logs(backend)


async def test_without_an_allocation_the_api_shows_the_sum_of_the_logs(client, backend):
    await seed(client, project_hours=None)
    await client.post("/tasklogs/bulk/create/10/", json=SEED_BULK)  # 1:30 on 250, 1:30 on 251, 2:30 on 252
    project = (await client.get("/projects/7/")).json()["data"]
    task = (await client.get("/tasks/251/")).json()["data"]
    assert (project["loggedSeconds"], project["loggedHours"], project["remainingHours"]) == (19800, 5.5, None)
    assert (task["loggedSeconds"], task["allocatedHours"]) == (5400, None)
    assert await backend.scalar("SELECT logged_seconds FROM projects WHERE id = 7") is None
    # An allocation set later starts from the logs: 5.5 h over 5 h is a crossing.
    await put(client, "/projects/7/", {"companyId": 1, "name": "Website", "allocatedHours": 5})
    assert await backend.scalar("SELECT logged_seconds FROM projects WHERE id = 7") == 19800
    alerts = await backend.scalar("SELECT count(*) FROM notifications WHERE type = 'PROJECT_ALLOCATION_EXCEEDED'")
    assert alerts == 2  # admins 1 and 2
    # Removed again: no total kept, the sum still shown.
    await put(client, "/projects/7/", {"companyId": 1, "name": "Website", "allocatedHours": None})
    assert await backend.scalar("SELECT logged_seconds FROM projects WHERE id = 7") is None
    assert (await client.get("/projects/7/")).json()["data"]["loggedSeconds"] == 19800
