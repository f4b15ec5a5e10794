"""Flexible working requests through the API: at most two in any 12 months counted by
calendar date and none while one is being dealt with (ERA 1996 s.80F(4) as amended 6 April
2024), and the statutory decision date on the case (s.80G(1B))."""

import calendar
from datetime import UTC, date, datetime, time, timedelta

from policies.calendar import LONDON
from tests.support.stack import ApiStack

HEADER = "case_type,employee_id,summary,risk,advisor,opened_at,stage,stage_started_at\n"


def same_day_months_away(day: date, months: int) -> date | None:
    """By hand: the day with the same number `months` away, None when that month has none."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if day.day > calendar.monthrange(year, month + 1)[1]:
        return None
    return date(year, month + 1, day.day)


def first_day_of_12_months_ending(today: date) -> date:
    """Any 12 months ending today begin the day after the same-numbered day a year ago (or
    after the end of that month when it has no such day: 29 February)."""
    earlier = same_day_months_away(today, -12) or date(today.year - 1, today.month, 28)
    return earlier + timedelta(days=1)


def decision_day(received: date) -> date:
    """Two months beginning with the day of receipt: the day before the same-numbered day two
    months on, or the last day of that month when it has none."""
    corresponding = same_day_months_away(received, 2)
    if corresponding is None:
        index = received.year * 12 + received.month + 1
        year, month = divmod(index, 12)
        return date(year, month + 1, calendar.monthrange(year, month + 1)[1])
    return corresponding - timedelta(days=1)


def row(employee: str, opened: datetime) -> str:
    return f"flexible_working,{employee},Request,routine,alice,{opened.isoformat()},,\n"


async def test_two_in_any_12_months_by_date_none_while_one_is_open_and_the_decision_date(
    api_stack: ApiStack,
) -> None:
    alice = await api_stack.token("alice")
    today = datetime.now(LONDON).date()
    # Five past midnight on the first day of the 12 months that end today: it counts, however
    # late today the third request comes (364 days back from now would have dropped it).
    first = datetime.combine(first_day_of_12_months_ending(today), time(0, 5), tzinfo=LONDON)
    second = datetime.now(UTC) - timedelta(days=100)
    imported = await api_stack.http.post(
        "/api/cases/import",
        content=HEADER + row("E1001", first) + row("E1001", second) + row("E1002", second),
        headers={**alice, "content-type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    [early, late, other] = [case["id"] for case in imported.json()["cases"]]

    third = await api_stack.http.post(
        "/api/cases",
        json={"case_type": "flexible_working", "employee_id": "E1001", "summary": "Remote"},
        headers=alice,
    )
    assert third.status_code == 422
    assert third.json()["detail"] == (
        f"E1001 already has 2 flexible working request case(s) in the last 12 months "
        f"({early}, {late}); the policy allows at most 2."
    )
    while_open = await api_stack.http.post(
        "/api/cases",
        json={"case_type": "flexible_working", "employee_id": "E1002", "summary": "Remote"},
        headers=alice,
    )
    assert while_open.status_code == 422
    assert while_open.json()["detail"] == (
        f"E1002's earlier flexible working request ({other}) is still being dealt with; a new "
        "one can be made once it is decided and closed."
    )

    fresh = await api_stack.http.post(
        "/api/cases",
        json={"case_type": "flexible_working", "employee_id": "E2001", "summary": "Remote"},
        headers=alice,
    )
    assert fresh.status_code == 201, fresh.text
    case = await api_stack.http.get(f"/api/cases/{fresh.json()['id']}", headers=alice)
    received = datetime.fromisoformat(case.json()["opened_at"]).astimezone(LONDON).date()
    last = decision_day(received)
    expected = datetime(last.year, last.month, last.day, 23, 59, 59, tzinfo=LONDON)
    assert datetime.fromisoformat(case.json()["decision_due_at"]) == expected
