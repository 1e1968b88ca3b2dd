"""app/tasklogs/service.py, LogsByEmployee: seconds of stored logs inside a
day window and the overlaps of written logs, on instants in epoch seconds.
Intervals are half-open [start, end)."""

from app.tasklogs.repository import NearbyLog
from app.tasklogs.service import LogsByEmployee

H = 3600
DAY = 24 * H
D1, D2 = DAY, 2 * DAY  # the window [D1, D2): one day


def nearby(*logs: tuple[int, int, int, int]) -> LogsByEmployee:
    """(id, user, start, end) rows, sorted by user and start as the repository returns them."""
    rows = sorted((NearbyLog(*log) for log in logs), key=lambda r: (r.user_id, r.start, r.id))
    return LogsByEmployee(rows)


# ---------------------------------------------------------------- seconds_in


def test_seconds_in_adds_logs_inside_the_window():
    logs = nearby((1, 10, D1 + 9 * H, D1 + 10 * H + 1800), (2, 10, D1 + 13 * H, D1 + 15 * H + 1800))
    assert logs.seconds_in(10, D1, D2) == 5400 + 9000


def test_seconds_in_counts_only_the_part_inside_the_window():
    # 22:00 the day before to 02:00: 2 h before the window, 2 h in it.
    logs = nearby((1, 10, D1 - 2 * H, D1 + 2 * H))
    assert logs.seconds_in(10, D1, D2) == 2 * H
    assert logs.seconds_in(10, D1 - DAY, D1) == 2 * H
    # 23:00 to 01:00 the next day: 1 h in the window.
    logs = nearby((1, 10, D2 - H, D2 + H))
    assert logs.seconds_in(10, D1, D2) == H


def test_seconds_in_of_a_log_longer_than_the_window_is_the_window():
    logs = nearby((1, 10, D1 - H, D2 + H))
    assert logs.seconds_in(10, D1, D2) == DAY


def test_intervals_are_half_open():
    # Ends exactly where the window starts, starts exactly where it ends: no time in it.
    logs = nearby((1, 10, D1 - 3 * H, D1), (2, 10, D2, D2 + 3 * H))
    assert logs.seconds_in(10, D1, D2) == 0
    # One second on each side.
    logs = nearby((1, 10, D1 - 3 * H, D1 + 1), (2, 10, D2 - 1, D2 + 3 * H))
    assert logs.seconds_in(10, D1, D2) == 2


def test_seconds_in_counts_only_that_employees_logs():
    logs = nearby((1, 10, D1 + H, D1 + 2 * H), (2, 11, D1 + H, D1 + 4 * H), (3, 12, D1 + H, D1 + 8 * H))
    assert logs.seconds_in(10, D1, D2) == H
    assert logs.seconds_in(11, D1, D2) == 3 * H
    assert logs.seconds_in(99, D1, D2) == 0


def test_seconds_in_of_no_logs_is_zero():
    assert LogsByEmployee([]).seconds_in(10, D1, D2) == 0


def test_overlapping_logs_each_count():
    # The totals add logs up; overlaps are warned about, not merged.
    logs = nearby((1, 10, D1 + 9 * H, D1 + 11 * H), (2, 10, D1 + 10 * H, D1 + 12 * H))
    assert logs.seconds_in(10, D1, D2) == 4 * H


def test_a_log_reaching_in_from_before_counts_whatever_its_length():
    # The scan looks back by the longest log the employee has here: a
    # 12-hour log ending where the window starts has no time in it ...
    assert nearby((1, 10, D1 - 12 * H, D1)).seconds_in(10, D1, D2) == 0
    # ... a 13-hour one starting 13 h before has its last hour in it ...
    assert nearby((1, 10, D1 - 13 * H, D1 + H)).seconds_in(10, D1, D2) == H
    # ... and so does a 30-hour one (longer than a log may be now: stored
    # before the limit was lowered), among short logs of the same employee.
    logs = nearby((1, 10, D1 - 29 * H, D1 + H), (2, 10, D1 - 5 * H, D1 - 4 * H), (3, 10, D1 + 2 * H, D1 + 3 * H))
    assert logs.seconds_in(10, D1, D2) == 2 * H


def test_the_lookback_is_each_employees_own():
    # Employee 11's 20-hour log does not widen employee 10's scan, and
    # employee 10's short logs do not narrow employee 11's.
    logs = nearby((1, 10, D1 - H, D1 + H), (2, 11, D1 - 19 * H, D1 + H), (3, 11, D1 + 5 * H, D1 + 6 * H))
    assert logs.seconds_in(10, D1, D2) == H
    assert logs.seconds_in(11, D1, D2) == 2 * H
    assert logs.overlaps_of({3}) == []
    assert logs.overlaps_of({2}) == []


def test_logs_after_the_window_stop_the_scan():
    logs = nearby((1, 10, D1 + H, D1 + 2 * H), (2, 10, D2, D2 + H), (3, 10, D2 + 5 * H, D2 + 6 * H))
    assert logs.seconds_in(10, D1, D2) == H
    assert logs.seconds_in(10, D2, D2 + DAY) == 2 * H


def test_several_windows_of_one_reading():
    # A log 20:00-04:00 over a midnight, and logs on both days.
    logs = nearby((1, 10, D1 + 8 * H, D1 + 9 * H), (2, 10, D2 - 4 * H, D2 + 4 * H), (3, 10, D2 + 10 * H, D2 + 11 * H))
    assert logs.seconds_in(10, D1, D2) == H + 4 * H
    assert logs.seconds_in(10, D2, D2 + DAY) == 4 * H + H
    # A 23-hour (spring forward) and a 25-hour window in seconds work the same way.
    assert logs.seconds_in(10, D1, D2 - H) == H + 3 * H
    assert logs.seconds_in(10, D2, D2 + 25 * H) == 4 * H + H


# ---------------------------------------------------------------- overlaps_of


def test_overlapping_pair_is_reported_for_the_written_log():
    logs = nearby((1, 10, D1 + 9 * H, D1 + 11 * H), (2, 10, D1 + 10 * H, D1 + 12 * H))
    assert logs.overlaps_of({2}) == [(2, 1)]
    assert logs.overlaps_of({1}) == [(1, 2)]


def test_both_written_logs_report_each_other():
    logs = nearby((1, 10, D1 + 9 * H, D1 + 11 * H), (2, 10, D1 + 10 * H, D1 + 12 * H))
    assert sorted(logs.overlaps_of({1, 2})) == [(1, 2), (2, 1)]


def test_touching_end_to_start_is_no_overlap():
    logs = nearby((1, 10, D1 + 9 * H, D1 + 10 * H), (2, 10, D1 + 10 * H, D1 + 11 * H))
    assert logs.overlaps_of({1, 2}) == []
    # One second more is.
    logs = nearby((1, 10, D1 + 9 * H, D1 + 10 * H + 1), (2, 10, D1 + 10 * H, D1 + 11 * H))
    assert sorted(logs.overlaps_of({1, 2})) == [(1, 2), (2, 1)]


def test_only_the_given_written_ids_are_checked():
    logs = nearby(
        (1, 10, D1 + 9 * H, D1 + 11 * H), (2, 10, D1 + 10 * H, D1 + 12 * H), (3, 10, D1 + 20 * H, D1 + 21 * H)
    )
    assert logs.overlaps_of({3}) == []
    assert logs.overlaps_of(set()) == []
    assert logs.overlaps_of({99}) == []


def test_other_employees_logs_never_overlap():
    logs = nearby((1, 10, D1 + 9 * H, D1 + 11 * H), (2, 11, D1 + 9 * H, D1 + 11 * H))
    assert logs.overlaps_of({1, 2}) == []


def test_a_log_inside_another_and_one_containing_it():
    logs = nearby(
        (1, 10, D1 + 8 * H, D1 + 18 * H), (2, 10, D1 + 10 * H, D1 + 11 * H), (3, 10, D1 + 12 * H, D1 + 13 * H)
    )
    assert sorted(logs.overlaps_of({1})) == [(1, 2), (1, 3)]
    assert logs.overlaps_of({3}) == [(3, 1)]


def test_overlap_with_a_long_log_that_started_hours_before():
    # A 12-hour log from 00:00 and a written one at 11:00: the other log
    # started 11 h before the written one, within the lookback.
    logs = nearby((1, 10, D1, D1 + 12 * H), (2, 10, D1 + 11 * H, D1 + 13 * H))
    assert logs.overlaps_of({2}) == [(2, 1)]
    # A 12-hour log ending where the written one starts touches: no overlap.
    logs = nearby((1, 10, D1, D1 + 12 * H), (2, 10, D1 + 12 * H, D1 + 13 * H))
    assert logs.overlaps_of({2}) == []


def test_same_start_logs_overlap():
    logs = nearby((1, 10, D1 + 9 * H, D1 + 10 * H), (2, 10, D1 + 9 * H, D1 + 9 * H + 60))
    assert sorted(logs.overlaps_of({1, 2})) == [(1, 2), (2, 1)]
