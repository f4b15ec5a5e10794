"""The dates letters carry, against dates worked out by hand from each rule.

England and Wales bank holidays used below (gov.uk/bank-holidays): 2026 — 1 January, 3 and 6
April, 4 and 25 May, 31 August, 25 December and 28 December (Boxing Day, a Saturday, moved to
Monday); 2027 — 1 January.
"""

from datetime import date

import pytest

from policies.durations import CalendarDays, WorkingDays
from policies.letter_dates import (
    after_duration,
    last_day_of_period,
    latest_sending_day,
    period_after,
)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Rule: "within N working days of X" does not count X; weekends and bank holidays skip.
        # Mon 18 May 2026 + 10: 19-22 May (4), 25 May bank holiday, 26-29 May (8), 1, 2 June.
        (date(2026, 5, 18), date(2026, 6, 2)),
        # Tue 22 Dec 2026 + 10: 23, 24 (2), 25 and 28 Dec bank holidays, 29-31 (5), 1 Jan
        # bank holiday, 4-8 Jan 2027 (10).
        (date(2026, 12, 22), date(2027, 1, 8)),
    ],
)
def test_an_appeal_window_in_working_days(start: date, expected: date) -> None:
    assert after_duration(start, WorkingDays(10)) == expected


def test_an_appeal_window_in_calendar_days() -> None:
    assert after_duration(date(2026, 5, 18), CalendarDays(14)) == date(2026, 6, 1)


@pytest.mark.parametrize(
    ("meeting", "expected"),
    [
        # Rule: the letter's day does not count, the meeting's does. Sent Mon 11 May 2026, the
        # fifth working day after is Mon 18 May; sent Tue 12 May, it would be Tue 19 May.
        (date(2026, 5, 18), date(2026, 5, 11)),
        # Meeting Tue 26 May 2026 (25 May a bank holiday): from Mon 18 May, 19-22 and 26 May.
        (date(2026, 5, 26), date(2026, 5, 18)),
        # Meeting Mon 4 Jan 2027: sent Thu 24 Dec, the fifth working day after is 5 Jan (29,
        # 30, 31 Dec, 4, 5 Jan); sent Wed 23 Dec, it is 4 Jan (24, 29, 30, 31 Dec, 4 Jan).
        (date(2027, 1, 4), date(2026, 12, 23)),
    ],
)
def test_the_notice_date_is_the_last_day_to_send(meeting: date, expected: date) -> None:
    assert latest_sending_day(meeting, WorkingDays(5)) == expected


@pytest.mark.parametrize(
    ("decided", "period", "expected"),
    [
        # Rule: the same date the period later; 29 February falls back to 28 February.
        (date(2026, 5, 18), "P12M", date(2027, 5, 18)),
        (date(2026, 1, 31), "P24M", date(2028, 1, 31)),
        (date(2028, 2, 29), "P12M", date(2029, 2, 28)),
        (date(2026, 8, 31), "P6M", date(2027, 2, 28)),
    ],
)
def test_a_warning_expires_its_period_after_the_decision(
    decided: date, period: str, expected: date
) -> None:
    assert period_after(decided, period) == expected


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # Employment Rights Act 1996 s. 80G(1B) (as amended by the Employment Relations
        # (Flexible Working) Act 2023): the decision period is "two months beginning with the
        # date on which the application is made" — it includes that day, so it ends the day
        # before the corresponding date two months on: 15 March → 14 May.
        (date(2026, 3, 15), date(2026, 5, 14)),
        (date(2026, 1, 1), date(2026, 2, 28)),
        # 28 Dec 2026 → 28 Feb 2027 exists → the day before, 27 February.
        (date(2026, 12, 28), date(2027, 2, 27)),
        # 30 Dec 2026 → no 30 February: the period ends on the last day of February.
        (date(2026, 12, 30), date(2027, 2, 28)),
    ],
)
def test_the_statutory_decision_date(received: date, expected: date) -> None:
    assert last_day_of_period(received, "P2M") == expected
