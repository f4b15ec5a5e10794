"""The case clock (policies/case_clock.py): what falls due when, and what firing it owes.

Pure: no Temporal server. Policies are the shipped definitions; every instant expected is
worked out by hand from the rule quoted beside it. Calendar used: March 2026 is GMT (+00:00)
until Sun 29 March, BST (+01:00) after; Mon 2 March 2026 is a working day, and there is no
bank holiday between it and Good Friday (3 April 2026).
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.case_clock import (
    ClockItem,
    announcement,
    assigned_notice,
    breached,
    case_due,
    clock_items,
    due_items,
    next_instant,
    stage_due,
)
from policies.case_rules import record_recurring
from policies.case_state import CaseState
from policies.loader import shipped_policies

POLICIES = shipped_policies()
DISCIPLINARY = POLICIES["disciplinary"]
SICKNESS = POLICIES["sickness"]
GMT, BST = UTC, timezone(timedelta(hours=1))
OPENED = datetime(2026, 3, 2, 9, tzinfo=UTC)  # Monday


def disciplinary(**changes: Any) -> CaseState:
    return replace(CaseState(OPENED, "assessment", OPENED, advisor="alice"), **changes)


def at_of(items: list[ClockItem]) -> dict[str, datetime]:
    return {item.key: item.at for item in items}


def fire_all(state: CaseState, now: datetime) -> list[ClockItem]:
    """Fire what is due at `now` until nothing is, as the workflow's catch-up does."""
    fired = []
    while due := due_items(state, DISCIPLINARY, now):
        for item in due:
            state.done.add(item.key)
            fired.append(item)
    return fired


# ---- worked examples -----------------------------------------------------------------------


def test_a_new_disciplinary_case_owes_reminders_a_breach_escalations_and_the_target() -> None:
    # Disciplinary policy, assessment: due 5 working days from the open date, Mon 2 March
    # 2026: Tue 3, Wed 4, Thu 5, Fri 6, Mon 9 March, at the end of that day (GMT).
    assessment_due = datetime(2026, 3, 9, 23, 59, 59, tzinfo=GMT)
    # Target P32D: 32 calendar days from 2 March is Fri 3 April 2026, end of day (BST).
    target_due = datetime(2026, 4, 3, 23, 59, 59, tzinfo=BST)
    assert at_of(clock_items(disciplinary(), DISCIPLINARY, OPENED)) == {
        # reminders P2D and P1D before the deadline (exact days)
        "stage0:assessment:reminder:0": datetime(2026, 3, 7, 23, 59, 59, tzinfo=GMT),
        "stage0:assessment:reminder:1": datetime(2026, 3, 8, 23, 59, 59, tzinfo=GMT),
        "stage0:assessment:breach": assessment_due,
        # escalations after PT0S and after P7D
        "stage0:assessment:escalation:0": assessment_due,
        "stage0:assessment:escalation:1": datetime(2026, 3, 16, 23, 59, 59, tzinfo=GMT),
        "target:breach": target_due,
        "target:escalation:0": target_due,
    }
    assert next_instant(disciplinary(), DISCIPLINARY, OPENED) == datetime(
        2026, 3, 7, 23, 59, 59, tzinfo=GMT
    )


def test_a_pause_moves_every_deadline_by_its_length_and_stops_the_clock_meanwhile() -> None:
    began, ended = datetime(2026, 3, 4, 9, tzinfo=UTC), datetime(2026, 3, 6, 9, tzinfo=UTC)
    paused = disciplinary(status="paused", pauses=[(began, None)])
    assert clock_items(paused, DISCIPLINARY, ended) == []  # no suspension, no clock
    resumed = disciplinary(pauses=[(began, ended)])
    # Paused 48 hours: the assessment deadline of 9 March 23:59:59 moves to 11 March, the
    # target of 3 April 23:59:59 BST to 5 April (elapsed time, both in BST).
    assert stage_due(resumed, DISCIPLINARY, ended) == datetime(2026, 3, 11, 23, 59, 59, tzinfo=GMT)
    assert case_due(resumed, DISCIPLINARY, ended) == datetime(2026, 4, 5, 23, 59, 59, tzinfo=BST)


def test_a_breach_stands_while_paused_only_if_it_came_before_the_pause() -> None:
    after_deadline = datetime(2026, 3, 10, 9, tzinfo=UTC)  # assessment was due 9 March
    assert breached(disciplinary(), DISCIPLINARY, after_deadline)
    before = disciplinary(status="paused", pauses=[(datetime(2026, 3, 9, 9, tzinfo=UTC), None)])
    assert not breached(before, DISCIPLINARY, after_deadline)
    late = disciplinary(status="paused", pauses=[(after_deadline, None)])
    assert breached(late, DISCIPLINARY, after_deadline)


def test_firing_announces_what_each_kind_owes() -> None:
    state = disciplinary()
    now = datetime(2026, 3, 10, 9, tzinfo=UTC)  # the assessment deadline has passed
    items = {item.key: item for item in clock_items(state, DISCIPLINARY, now)}
    assert announcement(items["stage0:assessment:reminder:0"], state, DISCIPLINARY, now) is None
    breach = announcement(items["stage0:assessment:breach"], state, DISCIPLINARY, now)
    assert breach is not None and breach.notice is None
    assert (breach.event, breach.detail) == (
        "stage_breach",
        {"due_at": "2026-03-09T23:59:59+00:00"},
    )
    first = announcement(items["stage0:assessment:escalation:0"], state, DISCIPLINARY, now)
    assert first is not None and first.notice is not None
    assert (first.event, first.notice.kind, first.notice.level) == ("escalation", "breach", 0)
    assert first.notice.roles == ["advisor", "manager"]
    assert (first.notice.subject_stage, first.notice.stage_key) == (
        "Pre-formal assessment",
        "assessment",
    )
    target = announcement(items["target:escalation:0"], state, DISCIPLINARY, now)
    assert target is not None and target.notice is not None
    assert (target.notice.subject_stage, target.notice.stage_key) == ("whole case", None)
    assert target.notice.due_at == datetime(2026, 4, 3, 23, 59, 59, tzinfo=BST)


def test_a_new_advisor_is_told_the_stage_deadline_or_else_the_whole_case_target() -> None:
    told = assigned_notice(disciplinary(), DISCIPLINARY, OPENED, "assigned:2")
    # The assessment deadline (5 working days from Mon 2 March 2026: Mon 9 March, end of day).
    assert (told.kind, told.roles, told.subject_stage, told.stage_key) == (
        "assigned",
        ["advisor"],
        "Pre-formal assessment",
        "assessment",
    )
    assert told.due_at == datetime(2026, 3, 9, 23, 59, 59, tzinfo=GMT)
    # Sickness long_term_review has no deadline of its own, and the policy no target.
    review = CaseState(OPENED, "long_term_review", OPENED, advisor="alice")
    untimed = assigned_notice(review, SICKNESS, OPENED, "assigned:3")
    assert (untimed.subject_stage, untimed.due_at) == ("whole case", None)


def test_a_suspension_review_falls_due_every_four_weeks_even_while_paused() -> None:
    suspended_at = datetime(2026, 3, 3, 10, tzinfo=UTC)
    state = disciplinary(
        status="paused",
        pauses=[(suspended_at, None)],
        suspended_since=suspended_at,
        suspensions=1,
    )
    # Disciplinary policy, suspension: review_every P4W: 28 calendar days from 3 March is
    # 31 March 2026, end of day (BST); escalations after PT0S and P7D (exact).
    review = datetime(2026, 3, 31, 23, 59, 59, tzinfo=BST)
    assert at_of(clock_items(state, DISCIPLINARY, suspended_at)) == {
        "suspension1:review0:due": review,
        "suspension1:review0:escalation:0": review,
        "suspension1:review0:escalation:1": datetime(2026, 4, 7, 23, 59, 59, tzinfo=BST),
    }
    item = clock_items(state, DISCIPLINARY, review)[0]
    owed = announcement(item, state, DISCIPLINARY, review)
    assert owed is not None and owed.notice is not None
    assert (owed.event, owed.notice.kind, owed.notice.roles) == (
        "suspension_review_due",
        "suspension_review",
        ["advisor"],
    )


def test_welfare_contacts_fall_due_fortnightly_and_restart_from_the_day_recorded() -> None:
    state = CaseState(OPENED, "long_term", OPENED, advisor="alice")
    items = at_of(clock_items(state, SICKNESS, OPENED))
    # Sickness policy, long_term: welfare contact every P2W (14 calendar days) from the
    # stage's start, 2 March: 16 March, end of day; its escalation P3D later (exact).
    assert items["stage0:long_term:welfare_contact:1"] == datetime(
        2026, 3, 16, 23, 59, 59, tzinfo=GMT
    )
    assert items["stage0:long_term:welfare_contact:1:escalation:0"] == datetime(
        2026, 3, 19, 23, 59, 59, tzinfo=GMT
    )
    record_recurring(state, SICKNESS, "welfare_contact", {"contact_date": "2026-03-10"}, OPENED)
    after = at_of(clock_items(state, SICKNESS, OPENED))
    assert "stage0:long_term:welfare_contact:1" not in after
    # Recorded on 10 March: the next is 14 days from then, 24 March, end of day.
    assert after["stage0:long_term:welfare_contact:done1:1"] == datetime(
        2026, 3, 24, 23, 59, 59, tzinfo=GMT
    )


# ---- properties ----------------------------------------------------------------------------

DETERMINISTIC = settings(derandomize=True, max_examples=120, deadline=None, database=None)
opened = st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC))
offsets = st.timedeltas(timedelta(0), timedelta(days=120))
pause_lengths = st.timedeltas(timedelta(minutes=1), timedelta(days=40))


@DETERMINISTIC
@given(opened, offsets)
def test_firing_everything_due_leaves_nothing_due_and_fires_each_key_once(
    start: datetime, later: timedelta
) -> None:
    state = disciplinary(opened_at=start, stage_started_at=start)
    now = start + later
    fired = fire_all(state, now)
    assert len({item.key for item in fired}) == len(fired)
    assert all(item.at <= now for item in fired)
    assert due_items(state, DISCIPLINARY, now) == []
    pending = next_instant(state, DISCIPLINARY, now)
    assert pending is None or pending > now


@DETERMINISTIC
@given(opened, offsets, pause_lengths)
def test_a_closed_pause_moves_every_stage_and_target_item_by_exactly_its_length(
    start: datetime, into: timedelta, length: timedelta
) -> None:
    began = start + into
    ended = began + length
    before = at_of(
        clock_items(disciplinary(opened_at=start, stage_started_at=start), DISCIPLINARY, ended)
    )
    paused = disciplinary(opened_at=start, stage_started_at=start, pauses=[(began, ended)])
    after = at_of(clock_items(paused, DISCIPLINARY, ended))
    for key, when in after.items():
        assert when - before[key] == length, key
    # A reminder may newly come after the stage's start, never the other way round.
    assert set(before) <= set(after)


@DETERMINISTIC
@given(opened, offsets)
def test_stage_items_come_in_order_and_escalations_follow_the_breach(
    start: datetime, later: timedelta
) -> None:
    state = disciplinary(opened_at=start, stage_started_at=start)
    items = at_of(clock_items(state, DISCIPLINARY, start + later))
    breach = items["stage0:assessment:breach"]
    reminders = [items[k] for k in items if ":reminder:" in k]
    assert all(start < reminder < breach for reminder in reminders)
    assert items["stage0:assessment:escalation:0"] == breach  # after PT0S
    assert items["stage0:assessment:escalation:1"] - breach == timedelta(days=7)
    assert items["target:escalation:0"] == items["target:breach"]


@DETERMINISTIC
@given(opened, offsets)
def test_paused_and_closed_cases_keep_only_the_suspension_clock(
    start: datetime, later: timedelta
) -> None:
    now = start + later
    suspended = disciplinary(opened_at=start, stage_started_at=start, suspended_since=start)
    running = {item.key for item in clock_items(suspended, DISCIPLINARY, now)}
    paused = replace(suspended, status="paused", pauses=[(start, None)])
    kept = {item.key for item in clock_items(paused, DISCIPLINARY, now)}
    assert kept == {key for key in running if key.startswith("suspension")}
    assert kept
    assert clock_items(replace(suspended, status="closed"), DISCIPLINARY, now) == []
