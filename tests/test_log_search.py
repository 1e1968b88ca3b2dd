"""GET /tasklogs/: every filter alone and combined, keyset pages with signed
cursors (inserts between pages, tampering, reuse with other filters) and the
access rules per role. Runs on SQLite and PostgreSQL."""

from typing import Any

import httpx
import pytest

from tests.conftest import app_and_client
from tests.factories import put, seed

# Company 1 is in Europe/Berlin (UTC+1 from 2024-10-27). Employee 10 and 11
# are company 1's; employee 21 is company 2's.
LOGS: dict[str, dict[str, Any]] = {
    "A": {
        "taskId": 250,
        "userId": 10,
        "startTime": "2024-10-01T08:00:00Z",
        "endTime": "2024-10-01T09:00:00Z",
        "description": "Worked on Auth",
        "manualAdd": False,
    },
    "E": {
        "taskId": 250,
        "userId": 11,
        "startTime": "2024-10-01T08:00:00Z",
        "endTime": "2024-10-01T09:00:00Z",
        "description": "pairing",
        "manualAdd": False,
    },
    "B": {
        "taskId": 251,
        "userId": 10,
        "startTime": "2024-10-01T09:00:00Z",
        "endTime": "2024-10-01T10:00:00Z",
        "description": "code REVIEW 100%",
        "manualAdd": True,
    },
    "G": {
        "taskId": 900,
        "userId": 21,
        "startTime": "2024-10-10T10:00:00Z",
        "endTime": "2024-10-10T11:00:00Z",
        "description": "theirs",
        "manualAdd": False,
    },
    "F": {
        "taskId": 252,
        "userId": 11,
        "startTime": "2024-10-15T12:00:00Z",
        "endTime": "2024-10-15T13:00:00Z",
        "description": "100_percent",
        "manualAdd": False,
    },
    # 00:15-00:45 on November 1 in Berlin, still October 31 in UTC.
    "C": {
        "taskId": 260,
        "userId": 10,
        "startTime": "2024-10-31T23:15:00Z",
        "endTime": "2024-10-31T23:45:00Z",
        "description": "late night",
        "manualAdd": False,
    },
    "D": {
        "taskId": 250,
        "userId": 10,
        "startTime": "2024-11-05T10:00:00Z",
        "endTime": "2024-11-05T11:00:00Z",
        "description": "=cmd|' /C calc'!A0",
        "manualAdd": False,
    },
}
ORDER = ["A", "E", "B", "G", "F", "C", "D"]  # by start time, then id (A is created before E)


class World:
    """The seeded logs' ids by name, and headers for each kind of caller."""

    def __init__(self, backend: Any, http: httpx.AsyncClient, ids: dict[str, int], keys: dict[str, str]) -> None:
        self.backend, self.http, self.ids, self.keys = backend, http, ids, keys

    def caller(self, role: str) -> dict[str, str]:
        employees = {"employee": (10, 1), "team_leader": (13, 1), "admin": (1, 1), "other_admin": (20, 2)}
        if role in employees:
            employee_id, company_id = employees[role]
            return {"Authorization": f"Bearer {self.backend.token(employee_id, company_id)}"}
        return {"X-API-Key": self.keys[role]}

    def names(self, data: list[dict[str, Any]]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id.get(log["taskLogId"], str(log["taskLogId"])) for log in data]

    async def search(self, role: str = "platform_key", **params: Any) -> httpx.Response:
        return await self.http.get("/tasklogs/", params=params, headers=self.caller(role))


async def seed_logs(http: httpx.AsyncClient) -> dict[str, int]:
    ids: dict[str, int] = {}
    for name in ORDER[:2] + [n for n in LOGS if n not in ORDER[:2]]:
        body = LOGS[name]
        response = await http.post(f"/tasklogs/bulk/create/{body['userId']}/", json=[body])
        assert response.status_code == 200, response.text
        ids[name] = response.json()["data"]["created"][0]["taskLogId"]
    return ids


@pytest.fixture
async def world(backend: Any) -> Any:
    await backend.clean()
    async with app_and_client(backend) as (_, http):
        await seed(http, timezone="Europe/Berlin")
        await put(http, "/employees/13/", {"companyId": 1, "name": "Tia Lead", "isTeamLeader": True})
        ids = await seed_logs(http)
        keys = {
            "platform_key": http.headers["X-API-Key"],
            "company_key": await backend.api_key("billing", company_id=1),
        }
        del http.headers["X-API-Key"]
        yield World(backend, http, ids, keys)


def ok_names(world: World, response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == 1 and body["message"] == "Task logs"
    assert set(body) == {"status", "message", "data", "nextCursor"}
    return world.names(body["data"])


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == 0 and body["error_code"] == code, body


async def test_without_filters_a_platform_key_gets_every_log_in_start_order(world):
    response = await world.search()
    assert ok_names(world, response) == ORDER
    assert response.json()["nextCursor"] is None
    first = response.json()["data"][0]
    assert first["taskLogId"] == world.ids["A"] and first["userName"] == "Asha Rao"
    assert first["startTime"] == "2024-10-01T08:00:00Z" and first["duration"] == "1:00"
    assert first["projectId"] == 7 and first["version"] == 1
    # The rows the database holds, in the same order.
    rows = await world.backend.rows("SELECT id FROM task_logs ORDER BY start_time, id")
    assert [r[0] for r in rows] == [log["taskLogId"] for log in response.json()["data"]]


async def test_the_path_works_without_its_trailing_slash(world):
    response = await world.http.get("/tasklogs", params={"employeeId": 11}, headers=world.caller("platform_key"))
    assert ok_names(world, response) == ["E", "F"]


FILTERS = [
    ({"employeeId": 10}, ["A", "B", "C", "D"]),
    ({"userId": 11}, ["E", "F"]),
    ({"user_id": [10, 11]}, ["A", "E", "B", "F", "C", "D"]),
    ({"projectId": 8}, ["C"]),
    ({"projectId": [7, 9]}, ["A", "E", "B", "G", "F", "D"]),
    ({"taskId": 250}, ["A", "E", "D"]),
    ({"taskId": [250, 252]}, ["A", "E", "F", "D"]),
    # Overlap: logs that started before `from` but end after it are in.
    ({"from": "2024-10-01T08:30:00Z", "to": "2024-10-01T08:45:00Z"}, ["A", "E"]),
    ({"from": "2024-10-31T23:30:00+00:00"}, ["C", "D"]),
    # `to` is exclusive: B starts at 09:00.
    ({"to": "2024-10-01T09:00:00Z"}, ["A", "E"]),
    # A platform key reads dates in UTC unless told a zone.
    ({"from": "2024-11-01", "to": "2024-11-02"}, []),
    ({"from": "2024-11-01", "to": "2024-11-02", "timezone": "Europe/Berlin"}, ["C"]),
    ({"from": "2024-10-31", "to": "2024-11-01"}, ["C"]),
    ({"manualAdd": "true"}, ["B"]),
    ({"manualAdd": "false"}, ["A", "E", "G", "F", "C", "D"]),
    ({"q": "review"}, ["B"]),
    ({"q": "AUTH"}, ["A"]),
    # LIKE's wildcards are plain characters.
    ({"q": "100%"}, ["B"]),
    ({"q": "100_"}, ["F"]),
    ({"q": "%"}, ["B"]),
    ({"order": "-startTime"}, ORDER[::-1]),
]


@pytest.mark.parametrize(("params", "expected"), FILTERS, ids=[str(p) for p, _ in FILTERS])
async def test_each_filter_alone(world, params, expected):
    assert ok_names(world, await world.search(**params)) == expected


async def test_updated_since_finds_logs_changed_at_or_after_an_instant(world):
    # Give every log an updated_at of its start, then edit A now.
    await world.backend.execute("UPDATE task_logs SET updated_at = start_time")
    assert ok_names(world, await world.search(updatedSince="2024-10-31T23:15:00Z")) == ["C", "D"]
    edited = await world.http.patch(
        f"/tasklogs/{world.ids['A']}/", json={"description": "Auth, again"}, headers=world.caller("platform_key")
    )
    assert edited.status_code == 200, edited.text
    assert ok_names(world, await world.search(updatedSince="2024-11-01T00:00:00Z")) == ["A", "D"]


async def test_filters_combine(world):
    params = {
        "employeeId": 10,
        "projectId": 7,
        "from": "2024-10-01",
        "to": "2024-11-01",
        "manualAdd": "false",
        "q": "auth",
    }
    assert ok_names(world, await world.search("admin", **params)) == ["A"]
    params = {"taskId": [250, 251], "userId": 10, "order": "-startTime", "to": "2024-11-01"}
    assert ok_names(world, await world.search(**params)) == ["B", "A"]


COMBINED = [
    # The three spellings of the employee filter add up (any of these employees).
    ({"employeeId": 10, "userId": 11}, ["A", "E", "B", "F", "C", "D"]),
    ({"user_id": 11, "employeeId": 21}, ["E", "G", "F"]),
    ({"employeeId": 10, "taskId": 250}, ["A", "D"]),
    ({"projectId": 7, "manualAdd": "true"}, ["B"]),
    ({"projectId": 7, "taskId": 252}, ["F"]),
    ({"projectId": 8, "taskId": 250}, []),
    ({"userId": 11, "q": "100"}, ["F"]),
    ({"taskId": [250, 251], "from": "2024-10-01T08:30:00Z", "to": "2024-10-01T09:30:00Z"}, ["A", "E", "B"]),
    ({"employeeId": 10, "from": "2024-11-01", "timezone": "Europe/Berlin", "order": "-startTime"}, ["D", "C"]),
    (
        # C (00:15 on November 1 in Berlin) is after a Berlin `to`; read in UTC it would be in.
        {"projectId": [7, 8], "to": "2024-11-01", "timezone": "Europe/Berlin", "manualAdd": "false"},
        ["A", "E", "F"],
    ),
    (
        {"employeeId": [10, 11], "projectId": 7, "from": "2024-10-01T09:00:00Z", "q": "0", "order": "-startTime"},
        ["D", "F", "B"],
    ),
]


@pytest.mark.parametrize(("params", "expected"), COMBINED, ids=[str(p) for p, _ in COMBINED])
async def test_filters_combine_in_pairs_and_more(world, params, expected):
    assert ok_names(world, await world.search(**params)) == expected


async def test_updated_since_combines_with_the_other_filters(world):
    await world.backend.execute("UPDATE task_logs SET updated_at = start_time")
    edited = await world.http.patch(
        f"/tasklogs/{world.ids['E']}/", json={"description": "pairing, again"}, headers=world.caller("platform_key")
    )
    assert edited.status_code == 200, edited.text
    since = {"updatedSince": "2024-10-15T00:00:00Z"}
    assert ok_names(world, await world.search(**since)) == ["E", "F", "C", "D"]
    assert ok_names(world, await world.search(**since, employeeId=10)) == ["C", "D"]
    assert ok_names(world, await world.search(**since, projectId=7, to="2024-11-01T00:00:00Z")) == ["E", "F"]
    assert ok_names(world, await world.search("employee", **since, q="night")) == ["C"]


async def test_deleted_logs_are_not_found(world):
    deleted = await world.http.delete(f"/api/tasklogs/delete/{world.ids['B']}/", headers=world.caller("platform_key"))
    assert deleted.status_code == 200, deleted.text
    assert ok_names(world, await world.search(employeeId=10)) == ["A", "C", "D"]
    assert ok_names(world, await world.search(q="review")) == []


async def test_a_company_admin_reads_dates_in_the_companys_zone(world):
    assert ok_names(world, await world.search("admin", **{"from": "2024-11-01", "to": "2024-11-02"})) == ["C"]
    params = {"from": "2024-11-01", "to": "2024-11-02", "timezone": "UTC"}
    assert ok_names(world, await world.search("admin", **params)) == []


ROLE_VIEWS = [
    ("employee", {}, ["A", "B", "C", "D"]),
    ("employee", {"employeeId": 11}, []),
    ("employee", {"employeeId": [10, 11]}, ["A", "B", "C", "D"]),
    ("team_leader", {}, ["A", "E", "B", "F", "C", "D"]),
    ("admin", {}, ["A", "E", "B", "F", "C", "D"]),
    ("admin", {"projectId": 9}, []),
    ("company_key", {}, ["A", "E", "B", "F", "C", "D"]),
    ("company_key", {"employeeId": 21}, []),
    ("platform_key", {}, ORDER),
    ("other_admin", {}, ["G"]),
    ("other_admin", {"employeeId": 10}, []),
    ("other_admin", {"taskId": 250}, []),
    ("other_admin", {"projectId": [7, 9]}, ["G"]),
    ("employee", {"employeeId": 10, "projectId": 8}, ["C"]),
    ("employee", {"taskId": 250, "from": "2024-10-01", "to": "2024-11-01"}, ["A"]),
    ("team_leader", {"employeeId": [11, 21]}, ["E", "F"]),
    ("team_leader", {"projectId": 9}, []),
    ("admin", {"taskId": [250, 900]}, ["A", "E", "D"]),
    ("company_key", {"projectId": 9}, []),
    ("platform_key", {"employeeId": [10, 21], "to": "2024-10-15T00:00:00Z"}, ["A", "B", "G"]),
]


@pytest.mark.parametrize(("role", "params", "expected"), ROLE_VIEWS, ids=[f"{r}-{p}" for r, p, _ in ROLE_VIEWS])
async def test_who_sees_which_logs(world, role, params, expected):
    assert ok_names(world, await world.search(role, **params)) == expected


async def follow(world: World, role: str = "platform_key", **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        response = await world.search(role, **params, **({"cursor": cursor} if cursor else {}))
        pages.append(ok_names(world, response))
        cursor = response.json()["nextCursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20


async def test_pages_follow_next_cursor_to_the_end(world):
    assert await follow(world, limit=2) == [["A", "E"], ["B", "G"], ["F", "C"], ["D"]]
    assert await follow(world, limit=3, order="-startTime") == [["D", "C", "F"], ["G", "B", "E"], ["A"]]
    # A page exactly at the end says so: no empty last page.
    assert await follow(world, limit=7) == [ORDER]
    assert await follow(world, "employee", limit=2) == [["A", "B"], ["C", "D"]]


async def test_inserts_between_pages_neither_repeat_nor_skip_a_log(world):
    first = await world.search(limit=2)
    assert ok_names(world, first) == ["A", "E"]
    new = [  # one before the cursor, one tied with its start time (larger id), one after it
        {"taskId": 252, "userId": 10, "startTime": "2024-09-01T08:00:00Z", "endTime": "2024-09-01T09:00:00Z"},
        {"taskId": 252, "userId": 10, "startTime": "2024-10-01T08:00:00Z", "endTime": "2024-10-01T08:30:00Z"},
        {"taskId": 252, "userId": 11, "startTime": "2024-10-20T08:00:00Z", "endTime": "2024-10-20T09:00:00Z"},
    ]
    for body in new:
        created = await world.http.post(
            f"/tasklogs/bulk/create/{body['userId']}/", json=[body], headers=world.caller("platform_key")
        )
        assert created.status_code == 200, created.text
    seen = ok_names(world, first)
    cursor = first.json()["nextCursor"]
    while cursor:
        response = await world.search(limit=2, cursor=cursor)
        seen += ok_names(world, response)
        cursor = response.json()["nextCursor"]
        if len(seen) == 4:  # and one more, after the second page
            body = {"taskId": 251, "userId": 11, "startTime": "2024-11-04T08:00:00Z", "endTime": "2024-11-04T09:00:00Z"}
            created = await world.http.post(
                "/tasklogs/bulk/create/11/", json=[body], headers=world.caller("platform_key")
            )
            assert created.status_code == 200, created.text
    assert len(seen) == len(set(seen)), seen
    assert set(ORDER) <= set(seen)
    later = [name for name in seen if name not in ORDER]
    # The one before the first page's end is not shown; the three after it are, in order.
    all_ids = [r[0] for r in await world.backend.rows("SELECT id FROM task_logs ORDER BY start_time, id")]
    assert len(all_ids) == 11 and len(later) == 3
    assert [int(n) for n in later] == [i for i in all_ids if i not in world.ids.values()][1:]
    assert seen[:3] == ["A", "E", later[0]]  # the log tied with E's start time, after it by id


async def test_newest_first_pages_skip_nothing_while_logs_are_added(world):
    first = await world.search(limit=3, order="-startTime")
    assert ok_names(world, first) == ["D", "C", "F"]
    new = [  # one after the cursor's position in time (already read past), one tied with F, one older
        {"taskId": 252, "userId": 10, "startTime": "2024-11-20T08:00:00Z", "endTime": "2024-11-20T09:00:00Z"},
        {"taskId": 251, "userId": 10, "startTime": "2024-10-15T12:00:00Z", "endTime": "2024-10-15T12:30:00Z"},
        {"taskId": 252, "userId": 11, "startTime": "2024-09-20T08:00:00Z", "endTime": "2024-09-20T09:00:00Z"},
    ]
    created_ids = []
    for body in new:
        created = await world.http.post(
            f"/tasklogs/bulk/create/{body['userId']}/", json=[body], headers=world.caller("platform_key")
        )
        assert created.status_code == 200, created.text
        created_ids.append(created.json()["data"]["created"][0]["taskLogId"])
    seen = ok_names(world, first)
    cursor = first.json()["nextCursor"]
    while cursor:
        response = await world.search(limit=3, order="-startTime", cursor=cursor)
        seen += ok_names(world, response)
        cursor = response.json()["nextCursor"]
    # Every log of the first read once, in order; the newest new log lies behind the cursor (the next walk
    # finds it); the log tied with F's start has a larger id, so it sorts before F, also behind the cursor.
    assert [n for n in seen if n in ORDER] == ORDER[::-1]
    assert len(seen) == len(set(seen))
    assert [n for n in seen if n not in ORDER] == [str(created_ids[2])]
    assert ok_names(world, await world.search(order="-startTime", limit=2)) == [str(created_ids[0]), "D"]


async def test_a_tampered_or_foreign_cursor_is_refused(world):
    first = await world.search(limit=2, employeeId=10)
    cursor = first.json()["nextCursor"]
    body, _, tag = cursor.partition(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for bad in (f"{flipped}.{tag}", f"{body}.{tag[:-1]}x", "not-a-cursor", ".", cursor + "x"):
        assert_error(await world.search(limit=2, employeeId=10, cursor=bad), 422, "INVALID_CURSOR")
    # The same cursor with other filters, or another order.
    assert_error(await world.search(limit=2, employeeId=11, cursor=cursor), 422, "INVALID_CURSOR")
    assert_error(await world.search(limit=2, cursor=cursor), 422, "INVALID_CURSOR")
    assert_error(await world.search(limit=2, employeeId=10, order="-startTime", cursor=cursor), 422, "INVALID_CURSOR")
    # Another page size is fine: the cursor is a position.
    assert ok_names(world, await world.search(limit=5, employeeId=10, cursor=cursor)) == ["C", "D"]


async def test_limit_and_input_checks(world):
    assert_error(await world.search(limit=1001), 422, "VALIDATION_ERROR")
    assert_error(await world.search(limit=0), 422, "VALIDATION_ERROR")
    assert ok_names(world, await world.search(limit=1000)) == ORDER
    assert_error(await world.search(q="x" * 201), 422, "VALIDATION_ERROR")
    assert_error(await world.search(**{"from": "yesterday"}), 422, "INVALID_TIME")
    assert_error(await world.search(**{"from": "2024-10-01T00:00:00"}), 422, "INVALID_TIME")
    assert_error(await world.search(**{"from": "2024-02-30"}), 422, "INVALID_TIME")
    assert_error(await world.search(timezone="Mars/Olympus"), 422, "INVALID_TIMEZONE")
    assert_error(await world.search(**{"from": "2024-10-02", "to": "2024-10-01"}), 422, "INVALID_RANGE")
    assert_error(await world.search(order="desc"), 422, "VALIDATION_ERROR")
    assert_error(await world.search(employeeId=0), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "params",
    [
        {"from": "9999-12-31"},
        {"from": "9999-12-31T23:59:59-05:00"},
        {"updatedSince": "0001-01-01T00:00:00+05:00"},
    ],
)
async def test_times_at_the_calendars_edges_are_refused_not_crashed(world, params):
    assert_error(await world.search(**params), 422, "INVALID_TIME")


async def test_edge_instants_that_exist_are_fine_and_control_characters_are_refused(world):
    assert ok_names(world, await world.search(**{"from": "0001-01-01T00:00:00Z"})) == ORDER
    assert ok_names(world, await world.search(to="9999-12-31T00:00:00Z")) == ORDER
    assert ok_names(world, await world.search(to="0001-01-02")) == []
    assert_error(await world.search(q="a\x00b"), 422, "INVALID_TEXT")


@pytest.mark.parametrize("path", ["/tasklogs/", "/tasklogs", "/tasklogs/export/?from=2024-10-01&to=2024-11-01"])
async def test_the_search_and_export_need_credentials(world, path):
    assert_error(await world.http.get(path), 401, "NO_ACCESS_TOKEN")
