"""Properties of the deadline calculator (policies/calendar.py) over generated dates and pauses.

Examples are drawn with a bias towards the awkward places: year ends (Christmas, Boxing Day
and New Year with their substitute days) and the days around the GMT/BST clock changes.
The runs are derandomized, so CI and every developer check the same examples.
"""

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.calendar import (
    LONDON,
    add_working_days,
    due_instant,
    is_working_day,
    paused_between,
)
from policies.durations import CalendarDays, Duration, Exact, WorkingDays

DETERMINISTIC = settings(derandomize=True, max_examples=150, deadline=None, database=None)

FIRST_YEAR, LAST_YEAR = 1991, 2075  # inside the calendar's 1990-2080, with room to count on
ENGLAND_AND_WALES = holidays.country_holidays(
    "GB", subdiv="ENG", years=range(FIRST_YEAR, LAST_YEAR + 6)
)

years = st.integers(FIRST_YEAR, LAST_YEAR)
any_day = st.dates(date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31))
year_end = st.builds(date, years, st.just(12), st.integers(18, 31))
days = st.one_of(any_day, year_end)
counts = st.integers(0, 800)


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


# Instants within three days either side of 01:00 UTC on a clock-change Sunday.
clock_change = st.builds(
    lambda year, month, offset: (
        datetime.combine(_last_sunday(year, month), time(1), tzinfo=UTC) + timedelta(seconds=offset)
    ),
    years,
    st.sampled_from([3, 10]),
    st.integers(-3 * 86400, 3 * 86400),
)
ordinary = st.datetimes(
    datetime(FIRST_YEAR, 1, 1), datetime(LAST_YEAR, 12, 31), timezones=st.just(UTC)
)
zones: st.SearchStrategy[tzinfo] = st.sampled_from(
    [UTC, LONDON, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata"), timezone.min]
)
moments = st.one_of(clock_change, ordinary)
instants = st.builds(lambda moment, zone: moment.astimezone(zone), moments, zones)
up_to_800_days = st.timedeltas(timedelta(0), timedelta(days=800))
day_durations: st.SearchStrategy[Duration] = st.one_of(
    st.builds(CalendarDays, st.integers(0, 800)), st.builds(WorkingDays, st.integers(0, 800))
)
any_duration = st.one_of(day_durations, st.builds(Exact, up_to_800_days))


def substitute_days(year: int) -> list[date]:
    """England and Wales' rule, written out: a fixed bank holiday on a weekend moves to the
    next weekday that is not already a bank holiday."""
    fixed = [date(year, 1, 1), date(year, 12, 25), date(year, 12, 26)]
    taken = {day for day in fixed if day.weekday() < 5}
    moved = []
    for day in fixed:
        if day.weekday() >= 5:
            while day.weekday() >= 5 or day in taken:
                day += timedelta(days=1)
            taken.add(day)
            moved.append(day)
    return moved


def _off(day: date) -> bool:
    return day.weekday() >= 5 or day in ENGLAND_AND_WALES


# ---- working days ------------------------------------------------------------------------


@DETERMINISTIC
@given(years)
def test_substitute_days_are_never_working_days(year: int) -> None:
    for day in substitute_days(year):
        assert not is_working_day(day), day


@DETERMINISTIC
@given(days, st.integers(1, 800))
def test_n_working_days_land_on_a_working_day_after_exactly_n_of_them(
    start: date, count: int
) -> None:
    end = add_working_days(start, count)
    assert end.weekday() < 5 and end not in ENGLAND_AND_WALES
    assert end not in substitute_days(end.year)
    between = (start + timedelta(days=offset) for offset in range(1, (end - start).days + 1))
    assert sum(not _off(day) for day in between) == count


@DETERMINISTIC
@given(days, counts)
def test_one_more_working_day_is_always_later(start: date, count: int) -> None:
    assert add_working_days(start, count + 1) > add_working_days(start, count)


@DETERMINISTIC
@given(days)
def test_zero_working_days_is_the_day_itself(start: date) -> None:
    assert add_working_days(start, 0) == start


# ---- day-based deadlines: 23:59:59 in London, whatever the offset -----------------------------


@DETERMINISTIC
@given(instants, day_durations)
def test_a_day_based_deadline_is_at_23_59_59_london(start: datetime, length: Duration) -> None:
    due = due_instant(start, length)
    in_london = due.astimezone(LONDON)
    assert in_london.time() == time(23, 59, 59)
    assert due.utcoffset() == in_london.utcoffset()  # shown at London's own offset
    first_day = start.astimezone(LONDON).date()
    if isinstance(length, WorkingDays):
        assert in_london.date() == add_working_days(first_day, length.days)
    else:
        assert isinstance(length, CalendarDays)
        assert in_london.date() == first_day + timedelta(days=length.days)


@DETERMINISTIC
@given(instants, up_to_800_days)
def test_an_exact_duration_is_exact_elapsed_time(start: datetime, delta: timedelta) -> None:
    due = due_instant(start, Exact(delta))
    assert due - start == delta
    assert due.astimezone(UTC) - start.astimezone(UTC) == delta
    assert due.utcoffset() == due.astimezone(LONDON).utcoffset()


# ---- pauses ------------------------------------------------------------------------------

# Instants for pauses are worked out in UTC (adding a timedelta to a zoned datetime moves the
# wall clock, not elapsed time), then handed to paused_between in any zone.
spans_strategy = st.lists(
    st.tuples(st.timedeltas(timedelta(0), timedelta(days=60)), up_to_800_days), max_size=5
)


def _pauses(
    since: datetime, spans: list[tuple[timedelta, timedelta]], zone: tzinfo
) -> list[tuple[datetime, datetime | None]]:
    """Pauses one after another from `since`: each a gap, then a pause of the given length."""
    pauses: list[tuple[datetime, datetime | None]] = []
    moment = since
    for gap, length in spans:
        began = moment + gap
        moment = began + length
        pauses.append((began.astimezone(zone), moment.astimezone(zone)))
    return pauses


@DETERMINISTIC
@given(moments, zones, any_duration, spans_strategy)
def test_pauses_move_a_deadline_by_exactly_their_length(
    start: datetime, zone: tzinfo, length: Duration, spans: list[tuple[timedelta, timedelta]]
) -> None:
    pauses = _pauses(start, spans, zone)
    now = start + sum((gap + paused for gap, paused in spans), timedelta()) + timedelta(hours=1)
    due = due_instant(start.astimezone(zone), length)
    moved = due + paused_between(pauses, start.astimezone(zone), now.astimezone(zone))
    total = sum((paused for _, paused in spans), timedelta())
    assert moved - due == total
    assert moved.astimezone(UTC) - due.astimezone(UTC) == total


@DETERMINISTIC
@given(moments, zones, up_to_800_days, up_to_800_days)
def test_an_open_pause_counts_up_to_now(
    began: datetime, zone: tzinfo, paused: timedelta, earlier: timedelta
) -> None:
    since, now = began - earlier, began + paused
    pause: list[tuple[datetime, datetime | None]] = [(began.astimezone(zone), None)]
    assert paused_between(pause, since.astimezone(zone), now.astimezone(zone)) == paused


@DETERMINISTIC
@given(moments, zones, up_to_800_days, up_to_800_days)
def test_only_the_part_of_a_pause_after_since_counts(
    since: datetime, zone: tzinfo, before: timedelta, after: timedelta
) -> None:
    pause: list[tuple[datetime, datetime | None]] = [
        ((since - before).astimezone(zone), (since + after).astimezone(zone))
    ]
    now = since + after + timedelta(days=1)
    assert paused_between(pause, since.astimezone(zone), now.astimezone(zone)) == after
