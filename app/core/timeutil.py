"""Time rules shared by writes and reports: time zones, local days, durations."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ZONE_CACHE: dict[str, ZoneInfo] = {}


def zone(name: str) -> ZoneInfo:
    """A ZoneInfo for an IANA name; ValueError for unknown names."""
    tz = _ZONE_CACHE.get(name)
    if tz is None:
        if not name or name != name.strip() or name.startswith("/") or ".." in name:
            raise ValueError(f"Unknown time zone {name!r}")
        try:
            tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"Unknown time zone {name!r}") from exc
        _ZONE_CACHE[name] = tz
    return tz


def is_known_zone(name: str) -> bool:
    try:
        zone(name)
    except ValueError:
        return False
    return True


def to_utc(value: datetime, local_zone: ZoneInfo) -> datetime:
    """An instant in UTC, to the whole second.

    A value without an offset is a wall-clock time in `local_zone` (Dyzo's
    manual entries are sent that way). A wall time that does not exist (the
    hour skipped when clocks go forward) is refused; an ambiguous one (the
    hour repeated when clocks go back) is read as its first occurrence; a
    client that means the second sends an explicit offset."""
    if value.microsecond:
        value = value.replace(microsecond=0)
    try:
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        utc = value.replace(tzinfo=local_zone).astimezone(UTC)
        round_trip = utc.astimezone(local_zone).replace(tzinfo=None)
    except OverflowError as exc:  # year 1 or 9999 shifted past the calendar's edge
        raise ValueError(f"{value.isoformat()} is out of range") from exc
    if round_trip != value:
        raise ValueError(f"{value.isoformat()} does not exist in {local_zone.key} (clocks went forward)")
    return utc


@dataclass(frozen=True)
class LocalDay:
    """One calendar day in a zone, with its UTC bounds (23, 24 or 25 hours)."""

    day: date
    start: datetime
    end: datetime


@lru_cache(maxsize=8192)  # writes and reports ask for the same days again and again
def local_day(day: date, tz: ZoneInfo) -> LocalDay:
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    return LocalDay(day, start, end)


def local_days_touched(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """Local dates that the half-open interval [start, end) has time in."""
    first = start.astimezone(tz).date()
    last = (end - _INSTANT).astimezone(tz).date()
    if first == last:  # nearly every log
        return [first]
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


_INSTANT = timedelta(microseconds=1)


# Cached: lists and exports format one duration per log (a million for an
# export), and durations repeat; the look-up costs a fifth of the formatting.
@lru_cache(maxsize=4096)
def hours_minutes(seconds: int) -> str:
    """23400 -> '6:30' (minutes rounded down, hours unbounded)."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    return f"{sign}{seconds // 3600}:{seconds % 3600 // 60:02d}"


def hours(seconds: int | float) -> float:
    return round(seconds / 3600, 2)


def remaining_hours(allocated_hours: float, logged_seconds: int) -> float:
    """Hours left in an allocation, to the hundredth; negative when over.
    `+ 0.0` turns the -0.0 that rounding a tiny overrun gives into 0.0, which
    JSON would otherwise show as `-0.0`."""
    return round(allocated_hours - logged_seconds / 3600, 2) + 0.0


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(value: str) -> datetime:
    """'2024-10-29T09:00:00Z' (as iso_utc writes it) -> an aware UTC datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
