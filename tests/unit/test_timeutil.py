"""app/core/timeutil.py: local days, their UTC bounds, and wall times read in a zone."""

from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from app.core.timeutil import LocalDay, local_day, local_days_touched, to_utc, zone

KOLKATA = zone("Asia/Kolkata")  # UTC+05:30, no daylight saving
BERLIN = zone("Europe/Berlin")  # CET/CEST: +1 in winter, +2 in summer


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------- local_day


def test_local_day_in_kolkata_runs_from_1830_utc_the_day_before():
    assert local_day(date(2024, 10, 29), KOLKATA) == LocalDay(
        date(2024, 10, 29), utc(2024, 10, 28, 18, 30), utc(2024, 10, 29, 18, 30)
    )


def test_spring_forward_day_in_berlin_is_23_hours():
    day = local_day(date(2024, 3, 31), BERLIN)  # last Sunday of March 2024
    assert (day.start, day.end) == (utc(2024, 3, 30, 23), utc(2024, 3, 31, 22))
    assert day.end - day.start == timedelta(hours=23)


def test_fall_back_day_in_berlin_is_25_hours():
    day = local_day(date(2024, 10, 27), BERLIN)  # last Sunday of October 2024
    assert (day.start, day.end) == (utc(2024, 10, 26, 22), utc(2024, 10, 27, 23))
    assert day.end - day.start == timedelta(hours=25)


def test_ordinary_days_either_side_of_the_changes_are_24_hours():
    for day in (date(2024, 3, 30), date(2024, 4, 1), date(2024, 10, 26), date(2024, 10, 28)):
        bounds = local_day(day, BERLIN)
        assert bounds.end - bounds.start == timedelta(hours=24), day


def test_consecutive_local_days_tile_time_without_gaps():
    days = [local_day(date(2024, 3, 29) + timedelta(days=i), BERLIN) for i in range(5)]
    for before, after in pairwise(days):
        assert before.end == after.start


# ---------------------------------------------------------------- local_days_touched


def test_log_across_local_midnight_in_kolkata_touches_both_days():
    # 23:30-00:30 local (IST) on the night of 29 to 30 October.
    start, end = utc(2024, 10, 29, 18, 0), utc(2024, 10, 29, 19, 0)
    touched = local_days_touched(start, end, KOLKATA)
    assert touched == [date(2024, 10, 29), date(2024, 10, 30)]
    first, second = (local_day(d, KOLKATA) for d in touched)
    assert (first.start, first.end) == (utc(2024, 10, 28, 18, 30), utc(2024, 10, 29, 18, 30))
    assert (second.start, second.end) == (utc(2024, 10, 29, 18, 30), utc(2024, 10, 30, 18, 30))
    # The log's time splits 30 + 30 minutes at local midnight.
    assert min(end, first.end) - max(start, first.start) == timedelta(minutes=30)
    assert min(end, second.end) - max(start, second.start) == timedelta(minutes=30)


def test_the_same_log_is_inside_one_day_in_utc():
    assert local_days_touched(utc(2024, 10, 29, 18), utc(2024, 10, 29, 19), zone("UTC")) == [date(2024, 10, 29)]


def test_log_inside_one_local_day_touches_one_day():
    assert local_days_touched(utc(2024, 10, 29, 9), utc(2024, 10, 29, 10, 30), KOLKATA) == [date(2024, 10, 29)]


def test_intervals_are_half_open_at_local_midnight():
    midnight = local_day(date(2024, 10, 30), KOLKATA).start  # 2024-10-29 18:30 UTC
    # Ending exactly at midnight: no time in the next day.
    assert local_days_touched(midnight - timedelta(hours=1), midnight, KOLKATA) == [date(2024, 10, 29)]
    # Starting exactly at midnight: no time in the day before.
    assert local_days_touched(midnight, midnight + timedelta(hours=1), KOLKATA) == [date(2024, 10, 30)]
    # One second either side: both days.
    assert local_days_touched(midnight - timedelta(seconds=1), midnight + timedelta(seconds=1), KOLKATA) == [
        date(2024, 10, 29),
        date(2024, 10, 30),
    ]


def test_log_over_two_midnights_touches_three_days():
    start = datetime(2024, 10, 29, 23, 0, tzinfo=KOLKATA)
    end = datetime(2024, 10, 31, 1, 0, tzinfo=KOLKATA)
    assert local_days_touched(start, end, KOLKATA) == [date(2024, 10, 29), date(2024, 10, 30), date(2024, 10, 31)]


def test_log_over_the_berlin_fall_back_night_stays_in_one_day():
    # 00:30 to 03:30 local on 27 October 2024 is 4 hours (02:00-03:00 twice).
    start, end = utc(2024, 10, 26, 22, 30), utc(2024, 10, 27, 2, 30)
    assert local_days_touched(start, end, BERLIN) == [date(2024, 10, 27)]


# ---------------------------------------------------------------- to_utc


def test_naive_wall_time_is_read_in_the_zone():
    assert to_utc(datetime(2024, 10, 29, 9, 0), KOLKATA) == utc(2024, 10, 29, 3, 30)
    assert to_utc(datetime(2024, 7, 1, 12, 0), BERLIN) == utc(2024, 7, 1, 10, 0)
    assert to_utc(datetime(2024, 1, 1, 12, 0), BERLIN) == utc(2024, 1, 1, 11, 0)


def test_value_with_an_offset_keeps_its_instant_whatever_the_zone():
    value = datetime(2024, 10, 29, 9, 0, tzinfo=zone("America/New_York"))
    assert to_utc(value, KOLKATA) == utc(2024, 10, 29, 13, 0)


def test_fractions_of_a_second_are_dropped():
    assert to_utc(datetime(2024, 10, 29, 9, 0, 59, 999_999), zone("UTC")) == utc(2024, 10, 29, 9, 0, 59)
    assert to_utc(datetime(2024, 10, 29, 9, 0, 0, 500_000, tzinfo=UTC), BERLIN) == utc(2024, 10, 29, 9)


@pytest.mark.parametrize(
    "wall", [datetime(2024, 3, 31, 2, 0), datetime(2024, 3, 31, 2, 30), datetime(2024, 3, 31, 2, 59, 59)]
)
def test_wall_time_skipped_by_spring_forward_is_refused(wall):
    with pytest.raises(ValueError, match="does not exist in Europe/Berlin"):
        to_utc(wall, BERLIN)


def test_wall_times_next_to_the_skipped_hour_exist():
    assert to_utc(datetime(2024, 3, 31, 1, 59, 59), BERLIN) == utc(2024, 3, 31, 0, 59, 59)
    assert to_utc(datetime(2024, 3, 31, 3, 0), BERLIN) == utc(2024, 3, 31, 1, 0)


def test_ambiguous_wall_time_reads_as_its_first_occurrence():
    # 02:30 on 27 October 2024 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    assert to_utc(datetime(2024, 10, 27, 2, 30), BERLIN) == utc(2024, 10, 27, 0, 30)
    # One second before the clocks go back, and the repeated hour's end (read as its first pass).
    assert to_utc(datetime(2024, 10, 27, 2, 59, 59), BERLIN) == utc(2024, 10, 27, 0, 59, 59)
    assert to_utc(datetime(2024, 10, 27, 3, 0), BERLIN) == utc(2024, 10, 27, 2, 0)


def test_second_occurrence_needs_an_explicit_offset():
    value = datetime(2024, 10, 27, 2, 30, tzinfo=timezone(timedelta(hours=1)))
    assert to_utc(value, BERLIN) == utc(2024, 10, 27, 1, 30)


def test_wall_time_at_the_calendar_edge_is_refused_not_crashed():
    with pytest.raises(ValueError, match="out of range"):
        to_utc(datetime(1, 1, 1, 0, 0), KOLKATA)


def test_day_whose_midnight_is_skipped_starts_when_the_clocks_jump():
    # America/Santiago went from 00:00 -04 straight to 01:00 -03 on 8 September 2024:
    # the day begins at 01:00 local (04:00 UTC) and lasts 23 hours; the day before is whole.
    santiago = zone("America/Santiago")
    assert local_day(date(2024, 9, 8), santiago) == LocalDay(date(2024, 9, 8), utc(2024, 9, 8, 4), utc(2024, 9, 9, 3))
    assert local_day(date(2024, 9, 7), santiago).end == utc(2024, 9, 8, 4)
    with pytest.raises(ValueError, match="does not exist"):
        to_utc(datetime(2024, 9, 8, 0, 30), santiago)
    # And back on 7 April 2024 at midnight: 6 April has 25 hours (23:00-24:00 twice).
    day = local_day(date(2024, 4, 6), santiago)
    assert (day.start, day.end) == (utc(2024, 4, 6, 3), utc(2024, 4, 7, 4))
