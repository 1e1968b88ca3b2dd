"""app/tasklogs/repository.py, `task_log_repository(session)` on both
databases: `insert_or_find` (the duplicate rule decided by the database,
and the nearby logs read with it) and `logs_starting_between` (the nearby
logs of the day totals and the overlap check)."""

from datetime import UTC, datetime, timedelta

from app.tasklogs.repository import NearbyLog, NewLog, Offered, UserRange, task_log_repository
from tests.db.sessions import transaction
from tests.factories import seed

T0 = datetime(2024, 10, 29, 9, 0, tzinfo=UTC)
E0 = int(T0.timestamp())  # 1730192400
MIN = 60


def new(task_id: int, user_id: int, start_minutes: int, minutes: int = 30, description: str = "") -> NewLog:
    start = T0 + timedelta(minutes=start_minutes)
    return NewLog(task_id, user_id, start, start + timedelta(minutes=minutes), description, False)


async def insert(backend, rows: list[NewLog], author: str = "tester"):
    """`insert_or_find`'s inserted logs and stored ids, nothing nearby asked for."""
    offered = await insert_near(backend, rows, [], author)
    assert offered.nearby == []
    return offered.inserted, offered.stored


async def insert_near(backend, rows: list[NewLog], near: list[UserRange], author: str = "tester") -> Offered:
    async with transaction(backend) as session:
        return await task_log_repository(session).insert_or_find(rows, author, near)


async def nearby(backend, ranges: list[UserRange]) -> list[NearbyLog]:
    async with transaction(backend) as session:
        return await task_log_repository(session).logs_starting_between(ranges)


# ---------------------------------------------------------------- insert_or_find


async def test_insert_or_find_inserts_new_rows(backend, client):
    await seed(client)
    rows = [new(250, 10, 0), new(251, 10, 30), new(250, 11, 0)]
    inserted, stored = await insert(backend, rows)
    assert stored == {}
    assert sorted(inserted) == [0, 1, 2]
    assert len({log.id for log in inserted.values()}) == 3
    for log in inserted.values():
        assert log.created_at is not None and log.updated_at is not None
    # Each position's id is its own row (PostgreSQL inserts in key order, so ids need not follow positions).
    saved = await backend.rows(
        "SELECT id, task_id, user_id, description, created_by, updated_by, version FROM task_logs"
    )
    by_id = {r[0]: tuple(r[1:]) for r in saved}
    assert by_id == {
        inserted[i].id: (row.task_id, row.user_id, "", "tester", "tester", 1) for i, row in enumerate(rows)
    }


async def test_insert_or_find_returns_the_stored_id_of_a_taken_key(backend, client):
    await seed(client)
    first, _ = await insert(backend, [new(250, 10, 0, description="original")])
    original_id = first[0].id
    # Same (task, user, start) with another end and text, between two new rows.
    again = [new(251, 10, 60), new(250, 10, 0, minutes=90, description="re-sent"), new(252, 10, 120)]
    inserted, stored = await insert(backend, again, author="second")
    assert stored == {1: original_id}
    assert sorted(inserted) == [0, 2]
    assert original_id not in {log.id for log in inserted.values()}
    # The stored log is left as it was.
    (row,) = await backend.rows("SELECT description, created_by, version FROM task_logs WHERE id = :id", id=original_id)
    assert tuple(row) == ("original", "tester", 1)
    assert await backend.scalar("SELECT count(*) FROM task_logs") == 3


async def test_key_is_task_user_and_start(backend, client):
    await seed(client)
    (inserted, _) = await insert(backend, [new(250, 10, 0)])
    # Another task, another employee, another second: each a new log.
    inserted2, stored2 = await insert(
        backend,
        [
            new(251, 10, 0),
            new(250, 11, 0),
            NewLog(250, 10, T0 + timedelta(seconds=1), T0 + timedelta(minutes=30), "", False),
        ],
    )
    assert (sorted(inserted2), stored2) == ([0, 1, 2], {})
    # A whole re-sent batch is all found, nothing inserted.
    inserted3, stored3 = await insert(backend, [new(251, 10, 0), new(250, 10, 0)])
    assert inserted3 == {}
    assert stored3 == {0: inserted2[0].id, 1: inserted[0].id}


async def test_insert_or_find_of_nothing(backend, client):
    await seed(client)
    assert await insert(backend, []) == ({}, {})


async def test_insert_or_find_reads_the_nearby_logs_as_they_were_before_the_insert(backend, client):
    await seed(client)
    (before, _) = await insert(backend, [new(250, 10, 0), new(250, 10, 600), new(250, 11, 0)])
    around_t0 = [UserRange(10, T0 - timedelta(hours=1), T0 + timedelta(hours=2))]
    # A new log in the range and a repeat of the stored one: the stored log
    # is nearby, the new one is not (it was not there before), nor are the
    # stored logs outside the range (user 10's at +10 h, user 11's).
    offered = await insert_near(backend, [new(251, 10, 30), new(250, 10, 0, minutes=90)], around_t0)
    assert offered.stored == {1: before[0].id}
    assert list(offered.inserted) == [0]
    assert offered.nearby == [NearbyLog(before[0].id, 10, E0, E0 + 30 * MIN)]
    # Nothing to insert: the nearby logs all the same, now with the one inserted above.
    again = await insert_near(backend, [], around_t0)
    assert again == Offered(
        {},
        {},
        [
            NearbyLog(before[0].id, 10, E0, E0 + 30 * MIN),
            NearbyLog(offered.inserted[0].id, 10, E0 + 30 * MIN, E0 + 60 * MIN),
        ],
    )


# ---------------------------------------------------------------- logs_starting_between


async def test_logs_starting_between_by_user_and_start_in_epoch_seconds(backend, client):
    await seed(client)
    # Inserted out of order, to see the ordering is the query's.
    (inserted, _) = await insert(
        backend,
        [
            new(251, 11, 60, 15),  # 0
            new(250, 10, 120, 60),  # 1
            new(250, 11, 0, 45),  # 2
            new(251, 10, 0, 90),  # 3
            new(252, 10, 0, 10),  # 4: same start as 3
            new(260, 10, -600),  # 5: before the range
            new(250, 10, 240),  # 6: starts at the range's end
            new(251, 11, 240),  # 7: outside user 11's range
        ],
    )
    ids = {i: log.id for i, log in inserted.items()}
    found = await nearby(
        backend, [UserRange(10, T0, T0 + timedelta(minutes=240)), UserRange(11, T0, T0 + timedelta(minutes=120))]
    )
    assert found == [
        NearbyLog(ids[3], 10, E0, E0 + 90 * MIN),
        NearbyLog(ids[4], 10, E0, E0 + 10 * MIN),
        NearbyLog(ids[1], 10, E0 + 120 * MIN, E0 + 180 * MIN),
        NearbyLog(ids[2], 11, E0, E0 + 45 * MIN),
        NearbyLog(ids[0], 11, E0 + 60 * MIN, E0 + 75 * MIN),
    ]
    assert ids[3] < ids[4]  # same start: by id
    assert all(type(v) is int for log in found for v in log)
    assert E0 == 1_730_192_400


async def test_logs_starting_between_is_half_open_and_per_user(backend, client):
    await seed(client)
    (inserted, _) = await insert(backend, [new(250, 10, 0), new(250, 10, 30), new(250, 11, 0)])
    lo, hi = T0, T0 + timedelta(minutes=30)
    # [lo, hi): the log starting at hi is out, the one at lo in; user 11 was not asked for.
    assert await nearby(backend, [UserRange(10, lo, hi)]) == [NearbyLog(inserted[0].id, 10, E0, E0 + 30 * MIN)]
    assert await nearby(backend, [UserRange(10, lo + timedelta(seconds=1), hi + timedelta(seconds=1))]) == [
        NearbyLog(inserted[1].id, 10, E0 + 30 * MIN, E0 + 60 * MIN)
    ]
    assert await nearby(backend, [UserRange(12, lo, hi)]) == []
    assert await nearby(backend, []) == []
    # A log is found by its start only: one that started before lo is out even if it runs into the range.
    assert await nearby(backend, [UserRange(10, lo + timedelta(minutes=1), hi + timedelta(minutes=1))]) == [
        NearbyLog(inserted[1].id, 10, E0 + 30 * MIN, E0 + 60 * MIN)
    ]
