"""The working-day calendar and deadline rules. Pure functions: same inputs, same instants.

- Weekends and England & Wales bank holidays are not working days.
- "Within N working days of X" does not count the day of X.
- A day-based deadline falls due at the end of that day, Europe/London time.
- A deadline moves by exactly the time the case was paused.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from policies.durations import CalendarDays, Duration, Exact, WorkingDays

LONDON = ZoneInfo("Europe/London")
END_OF_DAY = time(23, 59, 59)


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # Wales shares England's bank holidays; holidays.UK(subdiv="ENG") lists them.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: date, count: int) -> date:
    """The date N working days after `start`, not counting `start` itself."""
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=LONDON)


def due_instant(start: datetime, duration: Duration) -> datetime:
    """When something started at `start` with this duration falls due (no pauses)."""
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone")
    local_day = start.astimezone(LONDON).date()
    match duration:
        case Exact(delta):
            return start + delta
        case CalendarDays(days):
            return end_of_day(local_day + timedelta(days=days))
        case WorkingDays(days):
            return end_of_day(add_working_days(local_day, days))
    raise TypeError(duration)


def paused_between(
    pauses: Iterable[tuple[datetime, datetime | None]], since: datetime, now: datetime
) -> timedelta:
    """How long the clock was stopped after `since`; an open pause counts up to `now`."""
    total = timedelta()
    for began, ended in pauses:
        began = max(began, since)
        ended = ended or now
        if ended > began:
            total += ended - began
    return total
