"""Durations as policies write them: ISO 8601 (`P32D`, `P6W`, `PT30S`) or `{working_days: N}`."""

import re
from dataclasses import dataclass
from datetime import timedelta

_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


@dataclass(frozen=True)
class CalendarDays:
    """Whole days: the deadline falls due at the end of the last day (Europe/London)."""

    days: int


@dataclass(frozen=True)
class Exact:
    """A duration with a time part: due exactly that long after the start."""

    delta: timedelta


@dataclass(frozen=True)
class WorkingDays:
    """N working days, not counting the day of the start; due at the end of the last one."""

    days: int


Duration = CalendarDays | Exact | WorkingDays

MAX_DAYS = 3660
"""The longest duration a policy may write, in days (about ten years)."""
MAX_WORKING_DAYS = 2610
"""The most working days a policy may write (about ten years)."""


def parse_duration(value: object) -> Duration:
    """Parse a policy duration, raising ValueError with a sentence a policy owner understands."""
    if isinstance(value, dict):
        if set(value) != {"working_days"}:
            raise ValueError("a duration object must have exactly one key, working_days")
        days = value["working_days"]
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise ValueError("working_days must be a whole number of days, 0 or more")
        if days > MAX_WORKING_DAYS:
            raise ValueError(f"working_days must be at most {MAX_WORKING_DAYS} (about ten years)")
        return WorkingDays(days)
    if not isinstance(value, str):
        raise ValueError(
            "a duration is an ISO 8601 text such as P32D or PT30S, or {working_days: N}"
        )
    text = value.strip().upper()
    match = _ISO.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(
            f"'{value}' is not an ISO 8601 duration; write e.g. P32D, P6W or PT30S "
            "(years and months are not allowed: their length varies)"
        )
    parts = {name: int(number) for name, number in match.groupdict().items() if number}
    days = parts.get("weeks", 0) * 7 + parts.get("days", 0)
    seconds = parts.get("hours", 0) * 3600 + parts.get("minutes", 0) * 60 + parts.get("seconds", 0)
    if days * 86400 + seconds > MAX_DAYS * 86400:
        raise ValueError(f"'{value}' is longer than {MAX_DAYS} days (about ten years)")
    if "T" in text:
        # A time part was written (even PT0S): due exactly that long after the start.
        return Exact(timedelta(days=days, seconds=seconds))
    return CalendarDays(days)


def as_timedelta(duration: Duration) -> timedelta:
    """The plain length of a duration, for offsets (reminders before, escalations after).

    Working days are not a fixed length; as an offset they count as calendar days.
    """
    match duration:
        case Exact(delta):
            return delta
        case CalendarDays(days) | WorkingDays(days):
            return timedelta(days=days)
    raise TypeError(duration)


def _counted(number: int, unit: str) -> str:
    return f"{number} {unit}{'s' if number != 1 else ''}"


def _exact_words(delta: timedelta) -> str:
    """'2 days 3 hours', '5 minutes', '30 seconds': every part the duration has."""
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        _counted(number, unit)
        for number, unit in (
            (delta.days, "day"),
            (hours, "hour"),
            (minutes, "minute"),
            (seconds, "second"),
        )
        if number
    ]
    return " ".join(parts) or "0 seconds"


def describe(duration: Duration) -> str:
    """Words for a duration, for messages, pages and diffs: '5 working days', '32 days'."""
    match duration:
        case WorkingDays(days):
            return _counted(days, "working day")
        case CalendarDays(days):
            return _counted(days, "day")
        case Exact(delta):
            return _exact_words(delta)
    raise TypeError(duration)


def describe_spec(spec: object) -> str:
    """Words for a duration as a policy writes it (P32D, {working_days: 5})."""
    return describe(parse_duration(spec))
