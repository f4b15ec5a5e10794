"""Which earlier cases an opening limit counts: those opened within its rolling period.

A period in calendar months or years (`P12M`) is counted by date, as the statute counts "any
period of 12 months" (ERA 1996 s.80F(4), see policies/months.py): a request on 31 January
2026 counts those received from 1 February 2025 on, whatever the time of day. A duration
(`P365D`) is elapsed time back from the opening, as before.
"""

from datetime import UTC, datetime, time, timedelta
from typing import Any

from policies.calendar import LONDON
from policies.durations import as_timedelta, describe_spec, parse_duration
from policies.months import parse_months, period_begins

_JUST_AFTER = timedelta(microseconds=1)


def counts_from(within: str | dict[str, Any], at: datetime) -> datetime:
    """The earliest instant (UTC) at which an earlier case may have opened and still count
    against one opening at `at`."""
    months = parse_months(within) if isinstance(within, str) else None
    if months is not None:
        first = period_begins(at.astimezone(LONDON).date(), months)
        return datetime.combine(first, time(0), tzinfo=LONDON).astimezone(UTC)
    # Elapsed time: a case opened exactly `within` before is outside the period.
    return (at - as_timedelta(parse_duration(within))).astimezone(UTC) + _JUST_AFTER


def describe_window(within: str | dict[str, Any]) -> str:
    """The period in words, for the refusal: "12 months", "365 days"."""
    months = parse_months(within) if isinstance(within, str) else None
    if months is not None:
        return f"{months} month{'s' if months != 1 else ''}"
    return describe_spec(within)
