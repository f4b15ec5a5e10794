"""The working-day calendar and deadline rules. Pure functions: same inputs, same instants.

- Weekends and the bank holidays of the case's region (England & Wales, Scotland or Northern
  Ireland) are not working days; every function that counts working days takes the region,
  England & Wales when none is given (every case before regions existed ran on it).
- "Within N working days of X" does not count the day of X.
- A day-based deadline falls due at the end of that day, Europe/London time.
- A deadline moves by exactly the time the case was paused.

Instants come back with a fixed UTC offset (London's offset at that instant), not with the
Europe/London zone: Python adds a timedelta to a zoned datetime on the wall clock, so
`deadline + paused` across a clock change would be an hour out. With a fixed offset, adding
and subtracting durations is exact elapsed time, and isoformat() still shows London's offset.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from policies.durations import CalendarDays, Duration, Exact, WorkingDays


class PackagedZone(ZoneInfo):
    """A zone read from the `tzdata` package that requirements.lock pins, never from the OS.

    `ZoneInfo("Europe/London")` prefers the system's /usr/share/zoneinfo, so a deadline would
    follow whatever tz data the machine or image happens to carry. A zone read from a file
    cannot be pickled (or deep-copied) by itself; this one is, by its key, back to the same
    object.
    """

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return packaged_zone, (self.key,)


@cache
def packaged_zone(key: str) -> PackagedZone:
    with resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).open("rb") as data:
        return PackagedZone.from_file(data, key=key)


LONDON = packaged_zone("Europe/London")
END_OF_DAY = time(23, 59, 59)


# The UK's three bank-holiday calendars: NHS Scotland boards and Northern Ireland's HSC trusts
# do not keep England's. Wales shares England's bank holidays; subdivision ENG lists them.
ENGLAND_AND_WALES = "england-and-wales"
SCOTLAND = "scotland"
NORTHERN_IRELAND = "northern-ireland"
_SUBDIVISIONS = {ENGLAND_AND_WALES: "ENG", SCOTLAND: "SCT", NORTHERN_IRELAND: "NIR"}
REGIONS: tuple[str, ...] = tuple(_SUBDIVISIONS)
DEFAULT_REGION = ENGLAND_AND_WALES

# Computed once, when this module is imported (outside any workflow sandbox): the holidays
# package reads locale data when it builds a year, which a workflow may not do.
CALENDAR_YEARS = range(1990, 2081)
_BANK_HOLIDAYS: dict[str, frozenset[date]] = {
    region: frozenset(
        holidays.country_holidays("GB", subdiv=subdivision, years=CALENDAR_YEARS).keys()
    )
    for region, subdivision in _SUBDIVISIONS.items()
}
# Weekday bank holidays in order, for counting them by bisection (count_working_days).
_WEEKDAY_BANK_HOLIDAYS: dict[str, tuple[date, ...]] = {
    region: tuple(sorted(day for day in days if day.weekday() < 5))
    for region, days in _BANK_HOLIDAYS.items()
}


def _holidays_of(region: str) -> frozenset[date]:
    found = _BANK_HOLIDAYS.get(region)
    if found is None:
        raise ValueError(
            f"unknown bank-holiday region {region!r}: the regions are {', '.join(REGIONS)}"
        )
    return found


def _check_year(day: date) -> None:
    if day.year not in CALENDAR_YEARS:
        raise ValueError(
            f"the working-day calendar covers {CALENDAR_YEARS[0]} to {CALENDAR_YEARS[-1]}"
        )


def is_bank_holiday(day: date, region: str = DEFAULT_REGION) -> bool:
    _check_year(day)
    return day in _holidays_of(region)


def is_working_day(day: date, region: str = DEFAULT_REGION) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day, region)


def add_working_days(start: date, count: int, region: str = DEFAULT_REGION) -> date:
    """The date N working days after `start`, not counting `start` itself."""
    _holidays_of(region)  # an unknown region is refused even when no day is counted
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, region):
            remaining -= 1
    return day


def end_of_day(day: date) -> datetime:
    """23:59:59 Europe/London on `day` (in the Europe/London zone)."""
    return datetime.combine(day, END_OF_DAY, tzinfo=LONDON)


def _require_aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone")


def _fixed_offset(moment: datetime) -> datetime:
    """The same instant, at London's offset for it, as a fixed offset (see the module doc)."""
    local = moment.astimezone(LONDON)
    offset = local.utcoffset()
    assert offset is not None
    return local.replace(tzinfo=timezone(offset))


def due_instant(start: datetime, duration: Duration, region: str = DEFAULT_REGION) -> datetime:
    """When something started at `start` with this duration falls due (no pauses); working
    days are the region's."""
    _require_aware("start", start)
    local_day = start.astimezone(LONDON).date()
    match duration:
        case Exact(delta):
            # Elapsed time: add in UTC, never on a wall clock that may change in between.
            return _fixed_offset(start.astimezone(UTC) + delta)
        case CalendarDays(days):
            return _fixed_offset(end_of_day(local_day + timedelta(days=days)))
        case WorkingDays(days):
            return _fixed_offset(end_of_day(add_working_days(local_day, days, region)))
    raise TypeError(duration)


def paused_between(
    pauses: Iterable[tuple[datetime, datetime | None]], since: datetime, now: datetime
) -> timedelta:
    """How long the clock was stopped between `since` and `now`; an open pause counts up to `now`.

    Only the part of a pause after `since` counts (a pause that began before a stage started
    stops that stage's clock only from the stage's start).
    """
    _require_aware("since", since)
    _require_aware("now", now)
    total = timedelta()
    for began, ended in pauses:
        _require_aware("a pause's start", began)
        if ended is not None:
            _require_aware("a pause's end", ended)
        # In UTC: Python subtracts two datetimes sharing a zone on the wall clock.
        start = max(began, since).astimezone(UTC)
        end = (now if ended is None else min(ended, now)).astimezone(UTC)
        if end > start:
            total += end - start
    return total


def count_working_days(first: date, last: date, region: str = DEFAULT_REGION) -> int:
    """Working days from `first` to `last`, both included (0 when `last` is before `first`).

    Counted by whole weeks and a bisect over the bank holidays, not day by day: attendance
    monitoring asks this for every day of a year when it looks for the next trigger.
    """
    _holidays_of(region)  # the region's check, before the early answer below
    weekday_holidays = _WEEKDAY_BANK_HOLIDAYS[region]
    if last < first:
        return 0
    _check_year(first)
    _check_year(last)
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    weekdays = weeks * 5 + sum(
        1 for offset in range(rest) if (first + timedelta(days=offset)).weekday() < 5
    )
    holidays_in = bisect_right(weekday_holidays, last) - bisect_left(weekday_holidays, first)
    return weekdays - holidays_in
