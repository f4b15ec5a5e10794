"""The working-day calendar and deadline rules, with real dates checked by hand.

Every expected value is written out literally. Calendars used:
- Dec 2026: Thu 24, Fri 25 (Christmas), Sat 26 (Boxing Day), Mon 28 (Boxing Day substitute),
  Tue 29, Wed 30, Thu 31; Jan 2027: Fri 1 (New Year), Mon 4.
- Easter 2027: Good Friday 26 March, Easter Monday 29 March; clocks go forward Sun 28 March.
- Early May bank holiday: Mon 4 May 2026, Mon 3 May 2027; spring: Mon 25 May 2026, Mon 31 May 2027.
- Clocks go back on Sun 25 October 2026 (BST +01:00 before, GMT +00:00 after).
"""

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from policies.calendar import (
    LONDON,
    add_working_days,
    due_instant,
    end_of_day,
    is_working_day,
    paused_between,
)
from policies.durations import CalendarDays, Exact, WorkingDays, parse_duration

BST = timezone(timedelta(hours=1))


# ---- which days are working days ---------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 12, 24), True),  # Thursday before Christmas
        (date(2026, 12, 25), False),  # Christmas Day, a Friday
        (date(2026, 12, 26), False),  # Boxing Day, a Saturday
        (date(2026, 12, 27), False),  # Sunday
        (date(2026, 12, 28), False),  # Boxing Day substitute, Monday
        (date(2026, 12, 29), True),
        (date(2026, 12, 31), True),
        (date(2027, 1, 1), False),  # New Year's Day, a Friday
        (date(2027, 1, 4), True),
        (date(2027, 3, 26), False),  # Good Friday
        (date(2027, 3, 29), False),  # Easter Monday
        (date(2027, 3, 30), True),
        (date(2026, 5, 4), False),  # early May bank holiday
        (date(2027, 5, 3), False),  # early May bank holiday
        (date(2026, 5, 25), False),  # spring bank holiday
        (date(2027, 5, 31), False),  # spring bank holiday
        (date(2026, 8, 31), False),  # summer bank holiday (England and Wales)
        (date(2026, 8, 3), True),  # Scotland's summer holiday, not England's
        (date(2026, 3, 17), True),  # St Patrick's Day: Northern Ireland only
        (date(2027, 12, 27), False),  # Christmas Day 2027 is a Saturday: substitute Monday
        (date(2027, 12, 28), False),  # and Boxing Day's substitute is Tuesday
        (date(2026, 7, 4), False),  # Saturday
        (date(2026, 7, 5), False),  # Sunday
        (date(2026, 7, 6), True),  # Monday
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert is_working_day(day) is working


# ---- counting working days ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        # Christmas and New Year 2026-27
        (date(2026, 12, 24), 1, date(2026, 12, 29)),
        (date(2026, 12, 24), 3, date(2026, 12, 31)),
        (date(2026, 12, 24), 4, date(2027, 1, 4)),
        (date(2026, 12, 23), 5, date(2027, 1, 4)),  # 24, 29, 30, 31 Dec, 4 Jan
        (date(2026, 12, 25), 1, date(2026, 12, 29)),  # starting on the bank holiday itself
        # Easter 2027
        (date(2027, 3, 25), 1, date(2027, 3, 30)),
        (date(2027, 3, 24), 2, date(2027, 3, 30)),
        (date(2027, 3, 22), 5, date(2027, 3, 31)),  # 23, 24, 25, 30, 31 March
        # May bank holidays
        (date(2026, 5, 1), 1, date(2026, 5, 5)),
        (date(2027, 4, 30), 1, date(2027, 5, 4)),
        (date(2026, 5, 22), 2, date(2026, 5, 27)),
        (date(2027, 5, 28), 1, date(2027, 6, 1)),
        # the day of X is not counted, even when it is a working day
        (date(2026, 7, 1), 1, date(2026, 7, 2)),
        (date(2026, 7, 1), 5, date(2026, 7, 8)),
        # starting at a weekend
        (date(2026, 7, 4), 1, date(2026, 7, 6)),
        (date(2026, 7, 5), 1, date(2026, 7, 6)),
        (date(2026, 7, 4), 5, date(2026, 7, 10)),
        # no working days: the day itself
        (date(2026, 7, 1), 0, date(2026, 7, 1)),
    ],
)
def test_add_working_days(start: date, count: int, expected: date) -> None:
    assert add_working_days(start, count) == expected


# ---- deadlines: end of day, Europe/London ------------------------------------------------


def test_end_of_day_is_one_second_before_midnight_in_london() -> None:
    assert end_of_day(date(2026, 7, 1)) == datetime(2026, 7, 1, 22, 59, 59, tzinfo=UTC)
    assert end_of_day(date(2026, 12, 1)) == datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)


def test_working_days_across_christmas_and_new_year() -> None:
    start = datetime(2026, 12, 23, 10, 0, tzinfo=UTC)  # Wednesday; GMT, so London = UTC
    due = due_instant(start, WorkingDays(5))
    assert due == datetime(2027, 1, 4, 23, 59, 59, tzinfo=UTC)
    assert due.isoformat() == "2027-01-04T23:59:59+00:00"


def test_working_days_across_easter_and_the_spring_clock_change() -> None:
    start = datetime(2027, 3, 25, 9, 0, tzinfo=UTC)  # Thursday, still GMT
    due = due_instant(start, WorkingDays(2))  # 30 and 31 March, now in BST
    assert due == datetime(2027, 3, 31, 22, 59, 59, tzinfo=UTC)
    assert due.isoformat() == "2027-03-31T23:59:59+01:00"


def test_working_days_across_the_early_may_bank_holiday() -> None:
    start = datetime(2026, 4, 30, 14, 0, tzinfo=BST)  # Thursday
    due = due_instant(start, WorkingDays(3))  # Fri 1, Tue 5, Wed 6 May
    assert due == datetime(2026, 5, 6, 22, 59, 59, tzinfo=UTC)


def test_working_days_across_the_spring_bank_holiday() -> None:
    start = datetime(2027, 5, 27, 16, 45, tzinfo=BST)  # Thursday
    due = due_instant(start, WorkingDays(2))  # Fri 28 May, Tue 1 June
    assert due == datetime(2027, 6, 1, 22, 59, 59, tzinfo=UTC)


def test_start_on_a_saturday() -> None:
    start = datetime(2026, 7, 4, 11, 0, tzinfo=BST)
    assert due_instant(start, WorkingDays(1)) == datetime(2026, 7, 6, 22, 59, 59, tzinfo=UTC)
    assert due_instant(start, WorkingDays(5)) == datetime(2026, 7, 10, 22, 59, 59, tzinfo=UTC)
    # calendar days count the weekend
    assert due_instant(start, CalendarDays(2)) == datetime(2026, 7, 6, 22, 59, 59, tzinfo=UTC)


def test_late_evening_utc_is_already_the_next_day_in_london() -> None:
    start = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # Wednesday 1 July, 00:30 in London
    assert due_instant(start, WorkingDays(1)) == datetime(2026, 7, 2, 22, 59, 59, tzinfo=UTC)
    assert due_instant(start, WorkingDays(5)) == datetime(2026, 7, 8, 22, 59, 59, tzinfo=UTC)
    assert due_instant(start, CalendarDays(1)) == datetime(2026, 7, 2, 22, 59, 59, tzinfo=UTC)
    # no working days: the end of that London day, 1 July, not 30 June
    assert due_instant(start, WorkingDays(0)) == datetime(2026, 7, 1, 22, 59, 59, tzinfo=UTC)


def test_the_same_instant_in_any_zone_gives_the_same_deadline() -> None:
    in_utc = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    in_london = datetime(2026, 7, 1, 0, 30, tzinfo=LONDON)
    in_new_york = datetime(2026, 6, 30, 19, 30, tzinfo=timezone(timedelta(hours=-4)))
    expected = datetime(2026, 7, 3, 22, 59, 59, tzinfo=UTC)
    assert due_instant(in_utc, WorkingDays(2)) == expected
    assert due_instant(in_london, WorkingDays(2)) == expected
    assert due_instant(in_new_york, WorkingDays(2)) == expected


def test_deadlines_across_the_october_clock_change_stay_at_23_59_59_london() -> None:
    start = datetime(2026, 10, 22, 9, 0, tzinfo=BST)  # Thursday, BST
    working = due_instant(start, WorkingDays(3))  # Fri 23, Mon 26, Tue 27 October, GMT
    assert working == datetime(2026, 10, 27, 23, 59, 59, tzinfo=UTC)
    assert working.astimezone(LONDON).time() == time(23, 59, 59)
    assert working.isoformat() == "2026-10-27T23:59:59+00:00"

    on_the_day = due_instant(start, CalendarDays(3))  # Sunday 25 October, after the change
    assert on_the_day == datetime(2026, 10, 25, 23, 59, 59, tzinfo=UTC)

    before = due_instant(start, CalendarDays(2))  # Saturday 24 October, still BST
    assert before == datetime(2026, 10, 24, 22, 59, 59, tzinfo=UTC)
    assert before.isoformat() == "2026-10-24T23:59:59+01:00"


def test_whole_case_target_p32d_across_the_clock_change() -> None:
    opened = datetime(2026, 10, 1, 10, 0, tzinfo=BST)
    assert due_instant(opened, parse_duration("P32D")) == datetime(
        2026, 11, 2, 23, 59, 59, tzinfo=UTC
    )


def test_p6w_is_42_calendar_days() -> None:
    assert parse_duration("P6W") == CalendarDays(42)
    start = datetime(2026, 6, 1, 9, 0, tzinfo=BST)  # Monday 1 June
    assert due_instant(start, parse_duration("P6W")) == datetime(
        2026, 7, 13, 22, 59, 59, tzinfo=UTC
    )


def test_pt30s_is_exactly_thirty_seconds() -> None:
    assert parse_duration("PT30S") == Exact(timedelta(seconds=30))
    start = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
    assert due_instant(start, parse_duration("PT30S")) == datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)


def test_pt0s_is_exact_and_due_at_the_start_not_at_the_end_of_the_day() -> None:
    assert parse_duration("PT0S") == Exact(timedelta(0))
    start = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
    assert due_instant(start, parse_duration("PT0S")) == start


def test_an_exact_duration_is_elapsed_time_across_the_clock_change() -> None:
    start = datetime(2026, 10, 24, 12, 0, tzinfo=LONDON)  # 11:00 UTC, BST
    due = due_instant(start, parse_duration("PT24H"))
    assert due == datetime(2026, 10, 25, 11, 0, tzinfo=UTC)  # 11:00 GMT, not 12:00
    assert due - start == timedelta(hours=24)


def test_naive_start_rejected() -> None:
    with pytest.raises(ValueError, match="time zone"):
        due_instant(datetime(2026, 7, 1, 9, 0), WorkingDays(5))


# ---- pauses ------------------------------------------------------------------------------

SINCE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_no_pauses() -> None:
    assert paused_between([], SINCE, NOW) == timedelta(0)


def test_closed_pause() -> None:
    pauses = [(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), datetime(2026, 3, 4, 10, 0, tzinfo=UTC))]
    assert paused_between(pauses, SINCE, NOW) == timedelta(days=1)


def test_open_pause_counts_up_to_now() -> None:
    pauses: list[tuple[datetime, datetime | None]] = [
        (datetime(2026, 3, 9, 14, 30, tzinfo=UTC), None)
    ]
    assert paused_between(pauses, SINCE, NOW) == timedelta(hours=18, minutes=30)


def test_closed_and_open_pauses_add_up() -> None:
    pauses: list[tuple[datetime, datetime | None]] = [
        (datetime(2026, 3, 3, 10, 0, tzinfo=UTC), datetime(2026, 3, 3, 16, 0, tzinfo=UTC)),
        (datetime(2026, 3, 5, 9, 0, tzinfo=UTC), datetime(2026, 3, 6, 9, 0, tzinfo=UTC)),
        (datetime(2026, 3, 10, 8, 15, tzinfo=UTC), None),
    ]
    assert paused_between(pauses, SINCE, NOW) == timedelta(days=1, hours=6, minutes=45)


def test_pause_that_began_before_since_counts_only_from_since() -> None:
    pauses = [(datetime(2026, 3, 1, 0, 0, tzinfo=UTC), datetime(2026, 3, 2, 12, 0, tzinfo=UTC))]
    assert paused_between(pauses, SINCE, NOW) == timedelta(hours=3)


def test_open_pause_that_began_before_since() -> None:
    pauses: list[tuple[datetime, datetime | None]] = [
        (datetime(2026, 2, 27, 17, 0, tzinfo=UTC), None)
    ]
    now = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert paused_between(pauses, SINCE, now) == timedelta(hours=1, minutes=30)


def test_pause_over_before_since_does_not_count() -> None:
    pauses = [(datetime(2026, 2, 20, 9, 0, tzinfo=UTC), datetime(2026, 2, 25, 9, 0, tzinfo=UTC))]
    assert paused_between(pauses, SINCE, NOW) == timedelta(0)


def test_pause_across_the_clock_change_is_elapsed_time() -> None:
    pauses = [
        (datetime(2026, 10, 24, 12, 0, tzinfo=LONDON), datetime(2026, 10, 26, 12, 0, tzinfo=LONDON))
    ]
    since = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    now = datetime(2026, 10, 30, 9, 0, tzinfo=UTC)
    assert paused_between(pauses, since, now) == timedelta(hours=49)


def test_a_pause_moves_the_deadline_by_exactly_the_paused_time_across_the_clock_change() -> None:
    start = datetime(2026, 10, 21, 10, 0, tzinfo=BST)  # Wednesday
    due = due_instant(start, CalendarDays(3))  # Saturday 24 October 23:59:59 BST
    assert due == datetime(2026, 10, 24, 22, 59, 59, tzinfo=UTC)
    pauses = [(datetime(2026, 10, 22, 9, 0, tzinfo=UTC), datetime(2026, 10, 23, 9, 0, tzinfo=UTC))]
    now = datetime(2026, 10, 23, 12, 0, tzinfo=UTC)
    moved = due + paused_between(pauses, start, now)
    # 24 hours later: 22:59:59 UTC on Sunday (GMT), not 23:59:59 on the London wall clock
    assert moved == datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    "pauses",
    [
        [(datetime(2026, 3, 3, 10, 0), datetime(2026, 3, 4, 10, 0, tzinfo=UTC))],
        [(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), datetime(2026, 3, 4, 10, 0))],
        [(datetime(2026, 3, 3, 10, 0), None)],
    ],
)
def test_naive_pause_rejected(pauses: list[tuple[datetime, datetime | None]]) -> None:
    with pytest.raises(ValueError, match="time zone"):
        paused_between(pauses, SINCE, NOW)


def test_naive_since_or_now_rejected() -> None:
    with pytest.raises(ValueError, match="time zone"):
        paused_between([], datetime(2026, 3, 2, 9, 0), NOW)
    with pytest.raises(ValueError, match="time zone"):
        paused_between([], SINCE, datetime(2026, 3, 10, 9, 0))
