"""The three UK bank-holiday calendars, checked against gov.uk's published lists.

Source: https://www.gov.uk/bank-holidays (the Scotland and Northern Ireland tabs), the dates
written out by hand below for 2025 to 2027. Only weekdays are listed: a bank holiday on a
Saturday or Sunday is not a working day anyway, and gov.uk lists its substitute Monday (or
Tuesday) instead. The rules behind them: Banking and Financial Dealings Act 1971, Schedule 1
(Scotland: 1 and 2 January, Good Friday, first Monday in May, last Monday in May, first Monday
in August, Christmas, Boxing Day; Northern Ireland: England's eight plus 17 March and
12 July); St Andrew's Day Bank Holiday (Scotland) Act 2007 (30 November, or the Monday after
when it falls at a weekend).
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from policies.calendar import (
    ENGLAND_AND_WALES,
    NORTHERN_IRELAND,
    REGIONS,
    SCOTLAND,
    add_working_days,
    count_working_days,
    due_instant,
    is_working_day,
)
from policies.durations import WorkingDays

SCOTLAND_GOV_UK = {
    # 2025
    date(2025, 1, 1),  # New Year's Day
    date(2025, 1, 2),  # 2nd January
    date(2025, 4, 18),  # Good Friday
    date(2025, 5, 5),  # Early May bank holiday
    date(2025, 5, 26),  # Spring bank holiday
    date(2025, 8, 4),  # Summer bank holiday (first Monday in August in Scotland)
    date(2025, 12, 1),  # St Andrew's Day (substitute day: 30 November is a Sunday)
    date(2025, 12, 25),  # Christmas Day
    date(2025, 12, 26),  # Boxing Day
    # 2026
    date(2026, 1, 1),  # New Year's Day
    date(2026, 1, 2),  # 2nd January
    date(2026, 4, 3),  # Good Friday
    date(2026, 5, 4),  # Early May bank holiday
    date(2026, 5, 25),  # Spring bank holiday
    # A one-off: Royal Proclamation under the 1971 Act, approved 5 February 2026, for
    # Scotland's men's team at the FIFA World Cup (Scottish Government announcement "World
    # Cup bank holiday confirmed", 5 February 2026). The package lists it too. Kept as a
    # non-working day: it is a bank holiday in law, like the 2022 and 2023 royal ones, and a
    # board that works it can still meet a deadline early.
    date(2026, 6, 15),
    date(2026, 8, 3),  # Summer bank holiday
    date(2026, 11, 30),  # St Andrew's Day (a Monday)
    date(2026, 12, 25),  # Christmas Day
    date(2026, 12, 28),  # Boxing Day (substitute day)
    # 2027
    date(2027, 1, 1),  # New Year's Day
    date(2027, 1, 4),  # 2nd January (substitute day: 2 January is a Saturday)
    date(2027, 3, 26),  # Good Friday
    date(2027, 5, 3),  # Early May bank holiday
    date(2027, 5, 31),  # Spring bank holiday
    date(2027, 8, 2),  # Summer bank holiday
    date(2027, 11, 30),  # St Andrew's Day (a Tuesday)
    date(2027, 12, 27),  # Christmas Day (substitute day)
    date(2027, 12, 28),  # Boxing Day (substitute day)
}

NORTHERN_IRELAND_GOV_UK = {
    # 2025
    date(2025, 1, 1),  # New Year's Day
    date(2025, 3, 17),  # St Patrick's Day
    date(2025, 4, 18),  # Good Friday
    date(2025, 4, 21),  # Easter Monday
    date(2025, 5, 5),  # Early May bank holiday
    date(2025, 5, 26),  # Spring bank holiday
    date(2025, 7, 14),  # Battle of the Boyne (substitute day: 12 July is a Saturday)
    date(2025, 8, 25),  # Summer bank holiday
    date(2025, 12, 25),  # Christmas Day
    date(2025, 12, 26),  # Boxing Day
    # 2026
    date(2026, 1, 1),  # New Year's Day
    date(2026, 3, 17),  # St Patrick's Day
    date(2026, 4, 3),  # Good Friday
    date(2026, 4, 6),  # Easter Monday
    date(2026, 5, 4),  # Early May bank holiday
    date(2026, 5, 25),  # Spring bank holiday
    date(2026, 7, 13),  # Battle of the Boyne (substitute day: 12 July is a Sunday)
    date(2026, 8, 31),  # Summer bank holiday
    date(2026, 12, 25),  # Christmas Day
    date(2026, 12, 28),  # Boxing Day (substitute day)
    # 2027
    date(2027, 1, 1),  # New Year's Day
    date(2027, 3, 17),  # St Patrick's Day
    date(2027, 3, 26),  # Good Friday
    date(2027, 3, 29),  # Easter Monday
    date(2027, 5, 3),  # Early May bank holiday
    date(2027, 5, 31),  # Spring bank holiday
    date(2027, 7, 12),  # Battle of the Boyne
    date(2027, 8, 30),  # Summer bank holiday
    date(2027, 12, 27),  # Christmas Day (substitute day)
    date(2027, 12, 28),  # Boxing Day (substitute day)
}


def weekdays_off(region: str, first: date, last: date) -> set[date]:
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return {day for day in days if day.weekday() < 5 and not is_working_day(day, region)}


@pytest.mark.parametrize(
    ("region", "published"),
    [(SCOTLAND, SCOTLAND_GOV_UK), (NORTHERN_IRELAND, NORTHERN_IRELAND_GOV_UK)],
)
def test_the_calendar_is_gov_uks_for_2025_to_2027(region: str, published: set[date]) -> None:
    assert weekdays_off(region, date(2025, 1, 1), date(2027, 12, 31)) == published


def test_the_default_region_is_england_and_wales() -> None:
    assert REGIONS[0] == ENGLAND_AND_WALES
    assert not is_working_day(date(2026, 4, 6))  # Easter Monday: England, not Scotland
    assert is_working_day(date(2026, 4, 6), SCOTLAND)
    assert add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)  # Good Friday, Easter Monday


def test_st_andrews_day_moves_a_scottish_deadline_a_day_later() -> None:
    # Fri 27 November 2026 + 1 working day: Mon 30 November in England, but St Andrew's Day
    # is a Scottish bank holiday, so Tue 1 December there.
    assert add_working_days(date(2026, 11, 27), 1, ENGLAND_AND_WALES) == date(2026, 11, 30)
    assert add_working_days(date(2026, 11, 27), 1, SCOTLAND) == date(2026, 12, 1)


def test_counting_working_days_follows_the_region() -> None:
    # March 2026 has 22 weekdays; St Patrick's Day (Tue 17) is off in Northern Ireland only.
    assert count_working_days(date(2026, 3, 1), date(2026, 3, 31), ENGLAND_AND_WALES) == 22
    assert count_working_days(date(2026, 3, 1), date(2026, 3, 31), NORTHERN_IRELAND) == 21


def test_an_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown bank-holiday region 'wales'"):
        add_working_days(date(2026, 1, 5), 0, "wales")
    with pytest.raises(ValueError, match="unknown bank-holiday region"):
        count_working_days(date(2026, 1, 6), date(2026, 1, 5), "wales")
    with pytest.raises(ValueError, match="unknown bank-holiday region"):
        due_instant(datetime(2026, 1, 5, 9, tzinfo=UTC), WorkingDays(1), "wales")
