"""Periods of calendar months, as statutes count them.

Clocks (durations.py) refuse months, whose length varies; two rules of law are written in
months and counted by the corresponding-date rule (Dodds v Walker [1981] 1 WLR 1441, HL):

- "a period of N months beginning with" a day ends on the day before the day with the same
  number N months later; when that month has no such day (31 December + 2 months), the
  period ends on the last day of that month. The flexible working decision period is two
  months beginning with the day the request was received (ERA 1996 s.80G(1B)(a)).
- "any period of N months" ending with a day begins on the day after the day with the same
  number N months earlier (or after the last day of that month when it has no such day), so
  at most two flexible working requests in any 12 months (ERA 1996 s.80F(4)) counts the
  requests received on or after that day.
"""

import calendar
import re
from datetime import date, timedelta

_MONTHS = re.compile(r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?$")
MAX_MONTHS = 120


def parse_months(value: str) -> int | None:
    """The number of months in a period written in years and months (P12M, P1Y, P1Y6M);
    None for anything else (a duration in days is not one). ValueError if out of range."""
    match = _MONTHS.match(value.strip().upper())
    if match is None or not (match["years"] or match["months"]):
        return None
    months = int(match["years"] or 0) * 12 + int(match["months"] or 0)
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"a period in months must be 1 to {MAX_MONTHS} months long")
    return months


def _same_day_moved(day: date, months: int) -> date | None:
    """The day with the same number `months` later (earlier if negative); None if none."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if day.day > calendar.monthrange(year, month + 1)[1]:
        return None
    return date(year, month + 1, day.day)


def _last_day_of_month_moved(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def period_ends(first_day: date, months: int) -> date:
    """The last day of the period of `months` months beginning with `first_day`."""
    corresponding = _same_day_moved(first_day, months)
    if corresponding is None:
        return _last_day_of_month_moved(first_day, months)
    return corresponding - timedelta(days=1)


def period_begins(last_day: date, months: int) -> date:
    """The first day of the period of `months` months ending with `last_day`."""
    corresponding = _same_day_moved(last_day, -months)
    if corresponding is None:
        corresponding = _last_day_of_month_moved(last_day, -months)
    return corresponding + timedelta(days=1)
