"""The running totals on projects and tasks always equal the sum of their logs."""

from tests.factories import SEED_BULK, log, put, seed

SECONDS = {
    "sqlite": "CAST(strftime('%s', l.end_time) AS INTEGER) - CAST(strftime('%s', l.start_time) AS INTEGER)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM l.end_time - l.start_time) AS BIGINT)",
}


async def assert_totals_match_the_logs(backend):
    seconds = SECONDS[backend.name]
    tasks = await backend.rows(
        f"SELECT t.id, t.logged_seconds, COALESCE((SELECT SUM({seconds}) FROM task_logs l WHERE l.task_id = t.id), 0)"
        " FROM tasks t")
    assert [(i, a) for i, a, _ in tasks] == [(i, b) for i, _, b in tasks]
    projects = await backend.rows(
        f"SELECT p.id, p.logged_seconds, COALESCE((SELECT SUM({seconds}) FROM task_logs l JOIN tasks t "
        "ON t.id = l.task_id WHERE t.project_id = p.id), 0) FROM projects p")
    assert [(i, a) for i, a, _ in projects] == [(i, b) for i, _, b in projects]


async def test_totals_follow_every_kind_of_write(client, backend):
    await seed(client, project_hours=3)
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
