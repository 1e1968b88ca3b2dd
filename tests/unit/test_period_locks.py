"""app/locks/service.py, PeriodLocks: whether a log starting at an instant is
locked, by the company's lock date (a local day in the employee's zone) or by
a submitted or approved week (its stored UTC bounds, half-open)."""

from datetime import UTC, date, datetime

import pytest

from app.core.errors import Conflict
from app.core.timeutil import zone
from app.locks.repository import LockRow
from app.locks.service import PERIOD_LOCKED, PeriodLocks

KOLKATA, NEW_YORK, UTC_ZONE = zone("Asia/Kolkata"), zone("America/New_York"), zone("UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def lock_date(through: date | None, user_id: int = 10) -> LockRow:
    return LockRow(user_id, through, None, None, None, None, None, None)


def week(start: str, ends: str, status: str = "SUBMITTED", user_id: int = 10) -> LockRow:
    """A week of the employee from `start` to `ends` (UTC instants), Monday 2024-10-21 to Sunday the 27th."""
    return LockRow(user_id, None, 7, date(2024, 10, 21), date(2024, 10, 27), at(start), at(ends), status)


def test_nothing_is_locked_without_a_row_or_a_date():
    assert PeriodLocks([]).refusal(10, at("2024-10-21T09:00:00"), UTC_ZONE) is None
    assert PeriodLocks([lock_date(None)]).refusal(10, at("2024-10-21T09:00:00"), UTC_ZONE) is None


def test_locks_anyone_only_when_a_date_or_a_week_locks_someone():
    # Writes skip the look-up of each log when nothing locks anyone.
    assert not PeriodLocks([]).locks_anyone()
    assert not PeriodLocks([lock_date(None), lock_date(None, user_id=11)]).locks_anyone()
    assert PeriodLocks([lock_date(None), lock_date(date(2024, 10, 31), user_id=11)]).locks_anyone()
    assert PeriodLocks([week("2024-10-21T00:00:00", "2024-10-28T00:00:00")]).locks_anyone()


def test_the_lock_day_is_included_and_the_next_day_is_free():
    locks = PeriodLocks([lock_date(date(2024, 10, 31))])
    refusal = locks.refusal(10, at("2024-10-31T23:59:59"), UTC_ZONE)
    assert refusal is not None and refusal.extra == {"lockedThrough": "2024-10-31"}
    assert "2024-10-31" in refusal.message
    assert locks.refusal(10, at("2024-11-01T00:00:00"), UTC_ZONE) is None


def test_the_lock_day_is_the_employees_local_day():
    locks = PeriodLocks([lock_date(date(2024, 10, 31))])
    # 19:00 UTC on the 31st is already 00:30 on November 1 in Kolkata: free there, locked in UTC.
    assert locks.refusal(10, at("2024-10-31T19:00:00"), KOLKATA) is None
    assert locks.refusal(10, at("2024-10-31T19:00:00"), UTC_ZONE) is not None
    # 02:00 UTC on November 1 is still the evening of October 31 in New York: locked there.
    assert locks.refusal(10, at("2024-11-01T02:00:00"), NEW_YORK) is not None
    assert locks.refusal(10, at("2024-11-01T02:00:00"), UTC_ZONE) is None


def test_a_locked_week_holds_its_start_and_not_its_end():
    locks = PeriodLocks([week("2024-10-20T18:30:00", "2024-10-27T18:30:00")])  # the week in Kolkata
    refusal = locks.refusal(10, at("2024-10-20T18:30:00"), KOLKATA)
    assert refusal is not None and refusal.extra == {"submissionId": 7, "weekStart": "2024-10-21"}
    assert "submitted" in refusal.message
    assert locks.refusal(10, at("2024-10-20T18:29:59"), KOLKATA) is None
    assert locks.refusal(10, at("2024-10-27T18:30:00"), KOLKATA) is None


def test_locks_are_per_employee():
    locks = PeriodLocks([week("2024-10-21T00:00:00", "2024-10-28T00:00:00", "APPROVED"), lock_date(None, 11)])
    assert locks.refusal(10, at("2024-10-22T09:00:00"), UTC_ZONE) is not None
    assert locks.refusal(11, at("2024-10-22T09:00:00"), UTC_ZONE) is None
    assert locks.refusal(12, at("2024-10-22T09:00:00"), UTC_ZONE) is None


def test_refuse_is_a_409_period_locked_with_the_date():
    locks = PeriodLocks([lock_date(date(2024, 10, 31))])
    with pytest.raises(Conflict) as refused:
        locks.refuse(10, at("2024-10-01T09:00:00"), UTC_ZONE)
    assert (refused.value.status_code, refused.value.error_code) == (409, PERIOD_LOCKED)
    assert refused.value.extra == {"lockedThrough": "2024-10-31"}
    locks.refuse(10, at("2024-11-01T09:00:00"), UTC_ZONE)  # free: no error
