"""The dates ercase writes into letters, computed from the policy and the calendar (pure).

Each is a date (a letter names days, not instants), from a rule a person can check by hand:

- the notice date: the last day a letter may be sent and still give the notice the policy
  requires before the meeting it names (`{working_days: 5}` before a hearing on Monday 18 May
  2026 is Monday 11 May: the day of sending does not count, the day of the meeting does);
- the appeal deadline: the appeal window counted from the day it opens (the day the case
  closed, or entered its appeal-window stage, or, while neither has happened yet, the day of
  the letter, since recording the letter as sent is what opens it);
- a warning's expiry: its period after the day the sanction was decided, on the same date
  (29 February falling back to the 28th);
- the statutory decision date: the last day of a period beginning with the day the request
  was received (two months beginning with 15 March end on 14 May).

Working days are the calendar's (`policies/calendar.py`): its public functions only, so a
per-organisation calendar reaches these dates through the same calls.
"""

import calendar as month_lengths
from datetime import date, timedelta

from policies.calendar import DEFAULT_REGION, add_working_days, is_working_day
from policies.durations import CalendarDays, Duration, Exact, WorkingDays
from policies.retention import parse_retention


def after_duration(start: date, length: Duration, region: str = DEFAULT_REGION) -> date:
    """The day `length` after `start`: working days not counting `start` (in the region's
    calendar), or calendar days."""
    match length:
        case WorkingDays(days):
            return add_working_days(start, days, region)
        case CalendarDays(days):
            return start + timedelta(days=days)
        case Exact(delta):
            return start + timedelta(days=delta.days)
    raise TypeError(length)


def latest_sending_day(meeting: date, notice: Duration, region: str = DEFAULT_REGION) -> date:
    """The last day a letter can be sent so that `meeting` is at least `notice` after it."""
    day = meeting
    while after_duration(day, notice, region) > meeting:
        day -= timedelta(days=1)
    # A letter goes out on a working day; a weekend or bank holiday moves it earlier.
    while not is_working_day(day, region):
        day -= timedelta(days=1)
    return day


def _months_later(start: date, years: int, months: int) -> tuple[date, bool]:
    """The corresponding date `years` and `months` on, and whether that month has it."""
    index = start.month - 1 + months
    year, month = start.year + years + index // 12, index % 12 + 1
    last = month_lengths.monthrange(year, month)[1]
    return date(year, month, min(start.day, last)), start.day <= last


def period_after(start: date, period: str) -> date:
    """The same date a calendar period after `start` (29 February → 28 February)."""
    years, months, days = parse_retention(period)
    moved, _ = _months_later(start, years, months)
    return moved + timedelta(days=days)


def last_day_of_period(first: date, period: str) -> date:
    """The last day of a period *beginning with* `first`: the day before the corresponding
    date, or the last day of the month when that month has no corresponding date."""
    years, months, days = parse_retention(period)
    moved, exists = _months_later(first, years, months)
    if days:
        return moved + timedelta(days=days - 1)
    return moved - timedelta(days=1) if exists else moved
