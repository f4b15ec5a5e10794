"""How long a closed case's records are kept: an ISO 8601 period in years, months and days.

Retention is counted in calendar years and months (records schedules are written that way,
e.g. six years after closure), unlike the clocks in durations.py, which refuse months.
"""

import re
from datetime import datetime, timedelta

_PERIOD = re.compile(r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<days>\d+)D)?$")
MAX_YEARS = 100


def parse_retention(value: object) -> tuple[int, int, int]:
    """(years, months, days), raising ValueError with a sentence for the policy owner."""
    match = _PERIOD.match(value.strip().upper()) if isinstance(value, str) else None
    if match is None or value in ("P", ""):
        raise ValueError("retention is an ISO 8601 period in years, months and days, e.g. P6Y")
    years, months, days = (int(match[part] or 0) for part in ("years", "months", "days"))
    if years + months + days == 0:
        raise ValueError("retention must be longer than nothing")
    if years * 12 + months > MAX_YEARS * 12:
        raise ValueError(f"retention must be at most {MAX_YEARS} years")
    return years, months, days


def retention_ends(closed_at: datetime, retention: str) -> datetime:
    """When a case closed at `closed_at` may be purged (29 February falls back to the 28th)."""
    years, months, days = parse_retention(retention)
    month_index = closed_at.month - 1 + months
    year = closed_at.year + years + month_index // 12
    month = month_index % 12 + 1
    for day in range(closed_at.day, 27, -1):
        try:
            moved = closed_at.replace(year=year, month=month, day=day)
            break
        except ValueError:
            continue
    else:
        moved = closed_at.replace(year=year, month=month)
    return moved + timedelta(days=days)
