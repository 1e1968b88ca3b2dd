"""Properties of the time rules, whatever the zone and the daylight-saving days:
splitting a log at local midnights never loses or invents a second, and the
database's daily totals are the sum of each log's part in each day."""

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.timeutil import local_day, local_days_touched, zone
from tests.factories import iso, put, seed

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Europe/London",
    "America/Santiago",
]

instants = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2025, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)
durations = st.integers(min_value=1, max_value=24 * 3600)


def share(start, end, window_start, window_end) -> int:
    return max(0, int((min(end, window_end) - max(start, window_start)).total_seconds()))


@settings(max_examples=2000, deadline=None)
@given(start=instants, seconds=durations, zone_name=st.sampled_from(ZONES))
def test_the_local_days_of_a_log_hold_exactly_its_seconds(start, seconds, zone_name):
    tz = zone(zone_name)
    end = start + timedelta(seconds=seconds)
    days = local_days_touched(start, end, tz)
    parts = [share(start, end, local_day(d, tz).start, local_day(d, tz).end) for d in days]
    assert sum(parts) == seconds
    assert all(p > 0 for p in parts)  # no day listed without time in it
    # consecutive local days tile the time line: no gap, no overlap
    for a, b in pairwise(days):
        assert local_day(a, tz).end == local_day(b, tz).start


@settings(max_examples=500, deadline=None)
@given(
    day=st.dates(min_value=datetime(2023, 1, 1).date(), max_value=datetime(2025, 12, 31).date()),
    zone_name=st.sampled_from(ZONES),
)
def test_a_local_day_is_23_to_25_hours(day, zone_name):
    bounds = local_day(day, zone(zone_name))
    assert timedelta(hours=22, minutes=30) <= bounds.end - bounds.start <= timedelta(hours=25)


async def test_database_daily_totals_are_the_sum_of_the_parts(client, backend):
    """Random logs of one employee in DST-shifting zones, checked against a
    brute-force split of every log (fixed seed: the same cases every run)."""
    await seed(client)
    rng = random.Random(20241027)
    for zone_name in ("Europe/Berlin", "Australia/Lord_Howe", "America/St_Johns"):
        await put(client, "/employees/11/", {"companyId": 1, "name": "Ravi Kumar", "timezone": zone_name})
        tz = zone(zone_name)
        logs, cursor = (
            [],
            datetime(2024, 3, 28, tzinfo=UTC)
            if zone_name != "Australia/Lord_Howe"
            else datetime(2024, 4, 4, tzinfo=UTC),
        )
        for _ in range(40):  # back to back with random gaps, over the DST change
            cursor += timedelta(minutes=rng.randint(0, 600))
            length = timedelta(minutes=rng.randint(1, 20 * 60))
            logs.append((cursor, cursor + length))
            cursor += length
        body = [{"taskId": 251, "startTime": iso(s), "endTime": iso(e)} for s, e in logs]
        response = await client.post("/tasklogs/bulk/create/11/", json=body)
        assert response.status_code == 200, response.text
        totals = {t["date"]: t["totalSeconds"] for t in response.json()["dailyTotals"]}
        expected: dict[str, int] = {}
        for s, e in logs:
            for d in local_days_touched(s, e, tz):
                bounds = local_day(d, tz)
                expected[d.isoformat()] = expected.get(d.isoformat(), 0) + share(s, e, bounds.start, bounds.end)
        assert totals == expected, zone_name
        assert sum(totals.values()) == sum(int((e - s).total_seconds()) for s, e in logs)
        await backend.execute("DELETE FROM task_logs")
