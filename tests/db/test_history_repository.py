"""app/tasklogs/history.py, `history_repository(session)`: changes appended
in transactions are read back by `feed` in (xid, seq) order, filtered by
company, and paged by the cursor of the last row without repeats or gaps."""

from sqlalchemy import text

from app.core.database import make_sessionmaker
from app.tasklogs.history import Change, FeedCursor, history_repository
from tests.db.sessions import transaction


def change(log_id: int, company_id: int, action: str = "create", version: int = 1) -> Change:
    after = None if action == "delete" else {"taskLogId": log_id, "version": version}
    return Change(log_id, company_id, action, version, None, after)


async def append(backend, *changes: Change, actor: str = "test") -> None:
    async with transaction(backend) as session:
        await history_repository(session).record(list(changes), actor)


async def feed(
    backend, after: FeedCursor = FeedCursor(0, 0), limit: int = 100, company_id: int | None = None
) -> list[tuple[FeedCursor, int, str, int]]:
    async with transaction(backend) as session:
        rows = await history_repository(session).feed(after, limit, company_id)
    return [(FeedCursor.of(r), r.task_log_id, r.action, r.version) for r in rows]


async def all_pages(backend, limit: int, company_id: int | None = None) -> list[list[int]]:
    """Task log ids page by page, each page read after the cursor of the one before."""
    pages, cursor = [], FeedCursor(0, 0)
    while page := await feed(backend, cursor, limit, company_id):
        assert len(page) <= limit
        pages.append([log_id for _, log_id, _, _ in page])
        cursor = page[-1][0]
    return pages


async def two_transactions(backend) -> None:
    """Logs 1 and 3 of company 1 and 2 of company 2, then an edit of 1 and log 4 of company 2."""
    await append(backend, change(1, 1), change(2, 2), change(3, 1))
    await append(backend, change(1, 1, "update", 2), change(4, 2))


async def test_feed_returns_changes_in_transaction_then_append_order(backend):
    await backend.clean()
    await two_transactions(backend)
    rows = await feed(backend)
    assert [(log_id, action, version) for _, log_id, action, version in rows] == [
        (1, "create", 1),
        (2, "create", 1),
        (3, "create", 1),
        (1, "update", 2),
        (4, "create", 1),
    ]
    cursors = [cursor for cursor, *_ in rows]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == 5
    first, second = {c.xid for c in cursors[:3]}, {c.xid for c in cursors[3:]}
    assert len(first) == len(second) == 1  # one xid per transaction
    if backend.name == "sqlite":
        assert first == second == {0}  # one writer at a time: seq alone is commit order
    else:
        assert min(first) < min(second)
    # The changes' contents come back as written.
    async with transaction(backend) as session:
        stored = await history_repository(session).feed(FeedCursor(0, 0), 1, None)
    assert (stored[0].company_id, stored[0].actor, stored[0].before, stored[0].after) == (
        1,
        "test",
        None,
        {"taskLogId": 1, "version": 1},
    )


async def test_feed_after_a_cursor_starts_after_it(backend):
    await backend.clean()
    await two_transactions(backend)
    rows = await feed(backend)
    assert [log_id for _, log_id, *_ in await feed(backend, rows[2][0])] == [1, 4]
    assert await feed(backend, rows[-1][0]) == []
    assert [log_id for _, log_id, *_ in await feed(backend, rows[0][0], limit=2)] == [2, 3]


async def test_feed_filters_by_company(backend):
    await backend.clean()
    await two_transactions(backend)
    assert [(log_id, action) for _, log_id, action, _ in await feed(backend, company_id=1)] == [
        (1, "create"),
        (3, "create"),
        (1, "update"),
    ]
    assert [log_id for _, log_id, *_ in await feed(backend, company_id=2)] == [2, 4]
    assert await feed(backend, company_id=3) == []


async def test_paging_by_the_last_cursor_neither_repeats_nor_skips(backend):
    await backend.clean()
    await two_transactions(backend)
    await append(backend, *[change(log_id, 1 + log_id % 2) for log_id in range(5, 12)])
    everything = [log_id for _, log_id, *_ in await feed(backend)]
    assert len(everything) == 12
    for limit in (1, 2, 3, 5, 12, 50):
        pages = await all_pages(backend, limit)
        assert [log_id for page in pages for log_id in page] == everything, limit
        assert len(pages) == -(-12 // limit)
    company_1 = [log_id for _, log_id, *_ in await feed(backend, company_id=1)]
    assert company_1 == [1, 3, 1, 6, 8, 10]
    assert [log_id for page in await all_pages(backend, 2, company_id=1) for log_id in page] == company_1


async def test_feed_holds_back_a_later_transaction_until_an_earlier_one_ends(backend, postgres_only):
    """PostgreSQL: a transaction that got its id first but appends and commits
    last is read first, and a reader is never handed the later one before it
    (its cursor would then be past the earlier one's rows: a skip)."""
    await backend.clean()
    async with make_sessionmaker(backend.engine)() as early, early.begin():
        await early.execute(text("SELECT pg_current_xact_id()"))  # its first write would do the same
        await append(backend, change(2, 1), actor="late")  # appends and commits first
        # Committed, but the still-running earlier transaction may add rows
        # before it in (xid, seq) order: the feed shows nothing yet.
        assert await feed(backend) == []
        await history_repository(early).record([change(1, 1)], "early")
        assert await feed(backend) == []
    rows = await feed(backend)
    assert [log_id for _, log_id, *_ in rows] == [1, 2]
    (early_at, _, _, _), (late_at, _, _, _) = rows
    assert early_at.xid < late_at.xid
    assert early_at.seq > late_at.seq  # appended last, read first
