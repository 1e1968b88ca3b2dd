"""Reference data and the 1,000,000 task logs, written straight into the
database (reference rows with executemany, logs with COPY through asyncpg's
copy_records_to_table), never through the API.

The shape of the data: one company in Europe/Berlin (so DST days are in
play) with 200 employees, 10 projects of 5 tasks each (6 projects and 20
tasks with an allocation, far above what is logged, so no alert fires), and
two years of working days with 9 or 10 logs a day per employee (exactly
5,000 per employee), 15-60 minutes each; about 2 % of days end with a log
that crosses local midnight. Two extra tasks get exactly 1,000 and 10,000
of those logs (row 3). Writers (ids from WRITER_BASE) are employees of the
same company with no history; rows 1-2 give each measured batch or each
concurrent connection a fresh one, so every repeat does the same work.

The concurrency rows (single creates under wrk) log to projects of their
own, none with an allocation (writers of a project without one must not
queue behind each other): SHARED_PROJECT has one task per connection (32
writers on one project), SPREAD_PROJECTS are 32 projects of one task each
(every connection on its own project).

The search rows (part 9) read one employee's month page by page: SEARCH_EMPLOYEE,
the only employee of a second company (so the first company's month rows
keep their 200 employees), has SEARCH_LOGS logs in REPORT_MONTH, 3 minutes
every 4 (a time-tracking integration's account): 10 pages of 1,000. They
are loaded with the first 100,000 (the first page is measured on 100k and
again on 1M) and take the place of as many other logs, so the table still
holds 1,000,000."""

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import asyncpg

COMPANY_ID = 1
TIMEZONE = "Europe/Berlin"
EMPLOYEES = 200
PROJECTS = 10
TASKS_PER_PROJECT = 5
LOGS_PER_EMPLOYEE = 5000  # x 200 = 1,000,000
TASK_1K, TASK_10K = 9001, 9002  # in project 10
WRITER_BASE = 100_001
# Bulk rows take one writer per batch; every wrk run of the concurrency rows
# takes 32 (about 40 runs in a full run, with the SQLite row and the profile).
WRITERS = 4000
CONNECTIONS = 32  # wrk connections of the concurrency rows
SHARED_PROJECT = 20  # tasks 2001..2032, one per connection
SPREAD_PROJECTS = range(21, 21 + CONNECTIONS)  # one task each: p * 100 + 1
HISTORY_END = date(2026, 11, 27)  # the last day of history (a Friday)
# The month row 4 reports on: October 2026, whose last Sunday is the end of
# summer time in Berlin (a 25-hour local day).
REPORT_MONTH = (date(2026, 10, 1), date(2026, 10, 31))
REPORT_EMPLOYEE = 7
SEARCH_COMPANY = 2
SEARCH_EMPLOYEE = 90_001
SEARCH_PROJECT = 95  # tasks 9501..9505
SEARCH_LOGS = 10_000


def task_ids(project_id: int) -> list[int]:
    return [project_id * 100 + i for i in range(1, TASKS_PER_PROJECT + 1)]


def home_project(employee_id: int) -> int:
    return (employee_id - 1) % PROJECTS + 1


@dataclass
class Dataset:
    """The logs to COPY, in two phases: `first` (100,000 rows, holding every
    log of the report month, so row 4 can be measured on 100k and again on
    1M with the same month) and `rest`."""

    first: list[tuple]
    rest: list[tuple]


def shared_project_task(connection: int) -> int:
    """The task of connection `connection` (0-based) on the one shared project."""
    return SHARED_PROJECT * 100 + 1 + connection


def spread_project_task(connection: int) -> int:
    """The only task of connection `connection`'s own project."""
    return SPREAD_PROJECTS[connection] * 100 + 1


class Table(NamedTuple):
    name: str
    columns: tuple[str, ...]
    rows: list[tuple]


def reference() -> list[Table]:
    """The reference rows, in foreign-key order, for either database."""
    people = [
        (i, COMPANY_ID, f"Employee {i:03d}", f"e{i}@bench.example", i <= 2, i % 20 == 3, None)
        for i in range(1, EMPLOYEES + 1)
    ]
    people += [
        (i, COMPANY_ID, f"Writer {i}", None, False, False, None) for i in range(WRITER_BASE, WRITER_BASE + WRITERS)
    ]
    people.append((SEARCH_EMPLOYEE, SEARCH_COMPANY, "Search Employee", None, False, False, None))
    projects = [(p, COMPANY_ID, f"Project {p}", 1_000_000 if p <= 6 else None) for p in range(1, PROJECTS + 1)]
    projects.append((SEARCH_PROJECT, SEARCH_COMPANY, "Search project", None))
    # The concurrency rows' projects: no allocation on the project or its tasks.
    projects += [(p, COMPANY_ID, f"Concurrency project {p}", None) for p in (SHARED_PROJECT, *SPREAD_PROJECTS)]
    tasks = [
        (t, p, f"Task {t}", 100_000 if t % 100 <= 2 else None) for p in range(1, PROJECTS + 1) for t in task_ids(p)
    ]
    tasks += [(TASK_1K, PROJECTS, "Task with 1,000 logs", None), (TASK_10K, PROJECTS, "Task with 10,000 logs", None)]
    tasks += [(t, SEARCH_PROJECT, f"Search task {t}", None) for t in task_ids(SEARCH_PROJECT)]
    tasks += [(shared_project_task(c), SHARED_PROJECT, f"Shared task {c}", None) for c in range(CONNECTIONS)]
    tasks += [(spread_project_task(c), SPREAD_PROJECTS[c], f"Own task {c}", None) for c in range(CONNECTIONS)]
    return [
        Table(
            "companies",
            ("id", "name", "timezone"),
            [(COMPANY_ID, "Bench Co", TIMEZONE), (SEARCH_COMPANY, "Search Co", TIMEZONE)],
        ),
        Table("employees", ("id", "company_id", "name", "email", "is_admin", "is_team_leader", "timezone"), people),
        Table("projects", ("id", "company_id", "name", "allocated_hours"), projects),
        Table("tasks", ("id", "project_id", "name", "allocated_hours"), tasks),
    ]


# Written around the API, so the running totals that projects and tasks with
# an allocation keep (the schema requires one) are set here: 0 before the
# logs, the logs' sum after them.
RECOUNT_TOTALS = [
    "UPDATE tasks SET logged_seconds = (SELECT COALESCE(SUM(CAST(EXTRACT(EPOCH FROM l.end_time - l.start_time) "
    "AS BIGINT)), 0) FROM task_logs l WHERE l.task_id = tasks.id) WHERE allocated_hours IS NOT NULL",
    "UPDATE projects SET logged_seconds = (SELECT COALESCE(SUM(CAST(EXTRACT(EPOCH FROM l.end_time - l.start_time) "
    "AS BIGINT)), 0) FROM task_logs l JOIN tasks t ON t.id = l.task_id WHERE t.project_id = projects.id) "
    "WHERE allocated_hours IS NOT NULL",
]


async def load_reference(conn: asyncpg.Connection) -> None:
    for table in reference():
        marks = ", ".join(f"${i}" for i in range(1, len(table.columns) + 1))
        rows = [_with_total(table, row) for row in table.rows]
        await conn.executemany(
            f"INSERT INTO {table.name} ({', '.join(_columns(table))}) VALUES ({marks}"
            f"{', $' + str(len(table.columns) + 1) if _keeps_total(table) else ''})",
            rows,
        )


def _keeps_total(table: "Table") -> bool:
    return table.name in ("projects", "tasks")


def _columns(table: "Table") -> tuple[str, ...]:
    return (*table.columns, "logged_seconds") if _keeps_total(table) else table.columns


def _with_total(table: "Table", row: tuple) -> tuple:
    """A project or task row with its starting total: 0 with an allocation (the last column), else none."""
    return (*row, 0 if row[-1] is not None else None) if _keeps_total(table) else row


def load_reference_sqlite(path: str) -> None:
    """The same rows into a migrated SQLite file (the SQLite concurrency row)."""
    with sqlite3.connect(path) as conn:
        for table in reference():
            columns = _columns(table)
            marks = ", ".join("?" * len(columns))
            conn.executemany(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})",
                [_with_total(table, row) for row in table.rows],
            )


def _working_days(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def generate(seed: int = 7) -> Dataset:
    """1,000,000 rows (task_id, user_id, start_time, end_time, description, manual_add, created_by, updated_by)."""
    rng = random.Random(seed)
    tz = ZoneInfo(TIMEZONE)
    days = _working_days(HISTORY_END - timedelta(days=730), HISTORY_END)
    # Local midnight of each day in UTC; the offset is taken at noon, so it
    # is right for every wall time of the day after the 02:00/03:00 switch.
    midnights = [
        datetime(d.year, d.month, d.day, tzinfo=UTC) - datetime(d.year, d.month, d.day, 12, tzinfo=tz).utcoffset()
        for d in days
    ]
    month_lo = datetime.combine(REPORT_MONTH[0] - timedelta(days=2), datetime.min.time(), UTC)
    month_hi = datetime.combine(REPORT_MONTH[1] + timedelta(days=2), datetime.min.time(), UTC)
    in_month: list[tuple] = []
    others: list[tuple] = []
    minute = timedelta(minutes=1)
    for emp in range(1, EMPLOYEES + 1):
        tasks = task_ids(home_project(emp))
        side = task_ids(home_project(emp + 3))
        # 5,000 logs over the working days: 9 a day, 10 on a random subset.
        extra = set(rng.sample(range(len(days)), LOGS_PER_EMPLOYEE - 9 * len(days)))
        author = f"employee:{emp}"
        for k, midnight in enumerate(midnights):
            count = 10 if k in extra else 9
            at = 8 * 60 + rng.randrange(0, 60)
            late = rng.random() < 0.02
            for n in range(count):
                length = rng.randrange(15, 61)
                if late and n == count - 1:
                    at, length = 23 * 60 + rng.randrange(0, 45), rng.randrange(30, 121)
                start = midnight + at * minute
                end = start + length * minute
                task = side[rng.randrange(5)] if rng.random() < 0.1 else tasks[rng.randrange(5)]
                row = (task, emp, start, end, f"Work item {rng.randrange(10_000)}", rng.random() < 0.05, author, author)
                (in_month if month_lo <= start < month_hi else others).append(row)
                at += length + rng.randrange(0, 11)
    rng.shuffle(others)
    # Row 3's tasks take 1,000 and 10,000 logs from outside the report month.
    for i in range(11_000):
        _task, *rest = others[i]
        others[i] = (TASK_1K if i < 1000 else TASK_10K, *rest)
    searched = search_employee_logs()
    cut = 100_000 - len(in_month) - len(searched)
    return Dataset(in_month + searched + others[:cut], others[cut : len(others) - len(searched)])


def search_month() -> tuple[datetime, datetime]:
    """REPORT_MONTH as UTC instants: from its first local midnight to the next month's."""
    tz = ZoneInfo(TIMEZONE)
    first, last = REPORT_MONTH
    after = last + timedelta(days=1)
    return (
        datetime(first.year, first.month, first.day, tzinfo=tz).astimezone(UTC),
        datetime(after.year, after.month, after.day, tzinfo=tz).astimezone(UTC),
    )


def search_employee_logs() -> list[tuple]:
    """SEARCH_LOGS logs of SEARCH_EMPLOYEE in REPORT_MONTH: 3 minutes every 4."""
    start, _end = search_month()
    tasks = task_ids(SEARCH_PROJECT)
    author = f"employee:{SEARCH_EMPLOYEE}"
    return [
        (
            tasks[i % len(tasks)],
            SEARCH_EMPLOYEE,
            start + timedelta(minutes=4 * i),
            start + timedelta(minutes=4 * i + 3),
            f"Synced item {i}",
            False,
            author,
            author,
        )
        for i in range(SEARCH_LOGS)
    ]


COLUMNS = ["task_id", "user_id", "start_time", "end_time", "description", "manual_add", "created_by", "updated_by"]


async def copy_logs(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    for chunk in _chunks(rows, 200_000):
        await conn.copy_records_to_table("task_logs", records=chunk, columns=COLUMNS)
    for statement in RECOUNT_TOTALS:
        await conn.execute(statement)
    await conn.execute("ANALYZE task_logs")


def _chunks(rows: list[tuple], size: int) -> Iterator[list[tuple]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def writer_logs(employee_id: int, count: int, *, first_day: date = date(2012, 1, 2)) -> list[dict]:
    """`count` new logs of a writer, as a bulk body: four 2-hour logs on each
    day (09, 11, 14 and 16 UTC), on the writer's home project's tasks, going
    forward from `first_day` (years before any history)."""
    tasks = task_ids(home_project(employee_id))
    items = []
    base = datetime.combine(first_day, datetime.min.time(), UTC)
    for i in range(count):
        start = base + timedelta(days=i // 4, hours=(9, 11, 14, 16)[i % 4])
        end = start + timedelta(hours=2)
        items.append(
            {
                "taskId": tasks[i % len(tasks)],
                "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "description": f"Bench item {i}",
                "manualAdd": False,
            }
        )
    return items
