"""What a step, pause, resume, suspension step or policy move may do (policies/case_rules.py).

Pure: no Temporal server, no database. Policies are the shipped definitions; every date
expected is worked out by hand from the rule quoted beside it. Calendar used:
- December 2026: Fri 25 (Christmas), Sat 26 (Boxing Day), Mon 28 (Boxing Day substitute);
  Thu 24, Tue 29, Wed 30 and Thu 31 are working days.
- March 2026 is GMT (+00:00) until Sun 29 March.
"""

from datetime import UTC, datetime
from typing import Any

import pytest

from policies.case_rules import (
    INVALID_DATA,
    NOT_ALLOWED,
    Refusal,
    check_action,
    check_open,
    check_pause,
    check_policy_change,
    check_resume,
    check_suspension,
    record_recurring,
)
from policies.case_state import CaseState
from policies.loader import shipped_policies
from policies.schema import PolicyDefinition

POLICIES = shipped_policies()
DISCIPLINARY = POLICIES["disciplinary"]
SICKNESS = POLICIES["sickness"]
ALL_TYPES = set(POLICIES)
JUST_CULTURE = {
    "terms_of_reference": "Conduct on 1 March",
    "investigating_officer": "Dana",
    "jc_deliberate_harm": "No",
    "jc_health": "No",
    "jc_foresight": "Unclear",
    "jc_substitution": "No",
    "jc_mitigation": "None known",
}


def at(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def state_in(stage: str, started: datetime | None = None, **changes: Any) -> CaseState:
    opened = at(2026, 3, 2)
    state = CaseState(opened, stage, started or opened, advisor="alice")
    for name, value in changes.items():
        setattr(state, name, value)
    return state


def refusal(check: Any, *args: Any) -> Refusal:
    with pytest.raises(Refusal) as raised:
        check(*args)
    return raised.value


def act(
    state: CaseState,
    key: str,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
    policy: PolicyDefinition = DISCIPLINARY,
) -> None:
    check_action(state, policy, key, data or {}, now or at(2026, 3, 3), ALL_TYPES)


# ---- open, paused, closed ------------------------------------------------------------------


def test_a_closed_case_refuses_everything() -> None:
    closed = state_in("assessment", status="closed")
    assert refusal(check_open, closed).message == (
        "The case is closed; nothing more can be done in it."
    )
    for check, args in [
        (act, (closed, "no_further_action", {"outcome": "x"})),
        (check_pause, (closed, "Off sick")),
        (check_resume, (closed,)),
        (check_suspension, (closed, DISCIPLINARY, "suspend", "Risk to patients")),
    ]:
        assert refusal(check, *args).kind == NOT_ALLOWED


def test_a_paused_case_takes_no_step_and_is_not_paused_twice() -> None:
    paused = state_in("assessment", status="paused", pauses=[(at(2026, 3, 3), None)])
    step = refusal(act, paused, "no_further_action", {"outcome": "x"})
    assert step.message == "The case is paused; resume it before taking the next step."
    assert refusal(check_pause, paused, "Again").message == "The case is already paused."
    check_resume(paused)


def test_a_pause_needs_a_reason_and_only_a_paused_case_resumes() -> None:
    open_case = state_in("assessment")
    blank = refusal(check_pause, open_case, "  ")
    assert (blank.kind, blank.message) == (INVALID_DATA, "Give a reason for pausing the clock.")
    check_pause(open_case, "Employee off sick")
    assert refusal(check_resume, open_case).message == "The case is not paused."


# ---- steps ---------------------------------------------------------------------------------


def test_a_step_the_stage_does_not_have_is_refused_with_the_allowed_ones() -> None:
    wrong = refusal(act, state_in("assessment"), "submit_report")
    assert wrong.kind == NOT_ALLOWED
    assert wrong.message == (
        "'submit_report' is not a step of the stage 'Pre-formal assessment'. Allowed now: "
        "refer_to_investigation, open_investigation_case, informal_resolution, no_further_action."
    )


def test_required_data_must_be_given_and_not_blank() -> None:
    missing = refusal(act, state_in("assessment"), "no_further_action", {"outcome": " "})
    assert (missing.kind, missing.message) == (INVALID_DATA, "'No further action' needs: outcome.")
    act(state_in("assessment"), "no_further_action", {"outcome": "Words of advice"})


def test_dates_and_choices_are_what_the_policy_declares() -> None:
    bad_choice = refusal(
        act, state_in("assessment"), "refer_to_investigation", {**JUST_CULTURE, "jc_health": "?"}
    )
    assert bad_choice.message == "jc_health must be one of: No, Yes, Unclear."
    bad_date = refusal(
        act,
        state_in("hearing_arrangement"),
        "schedule_hearing",
        {"hearing_date": "next week", "panel_chair": "Sam"},
    )
    assert (bad_date.kind, bad_date.message) == (
        INVALID_DATA,
        "hearing_date must be a date such as 2026-12-01.",
    )


def test_a_hearing_needs_five_working_days_notice_across_christmas() -> None:
    # Disciplinary policy, schedule_hearing: notice at_least 5 working days from today.
    # From Mon 21 Dec 2026: Tue 22 (1), Wed 23 (2), Thu 24 (3), [Fri 25, Sat 26, Sun 27,
    # Mon 28 bank holidays and weekend], Tue 29 (4), Wed 30 (5): 30 December at the earliest.
    monday = at(2026, 12, 21)
    stage = state_in("hearing_arrangement", monday)
    short = refusal(
        act, stage, "schedule_hearing", {"hearing_date": "2026-12-29", "panel_chair": "Sam"}, monday
    )
    assert short.kind == INVALID_DATA
    assert short.message == (
        "hearing_date must give at least 5 working days' notice: 2026-12-30 or later."
    )
    act(stage, "schedule_hearing", {"hearing_date": "2026-12-30", "panel_chair": "Sam"}, monday)


def test_a_postponed_hearing_is_at_most_five_working_days_after_the_first_date() -> None:
    # Disciplinary policy, postpone_hearing (ACAS Code): latest 5 working days after the
    # hearing_date first set. From Mon 21 Dec 2026: Tue 22, Wed 23, Thu 24, Tue 29, Wed 30.
    data = {"hearing_date": "2026-12-31", "postponement_reason": "Companion away"}
    never_set = refusal(act, state_in("hearing"), "postpone_hearing", data)
    assert (never_set.kind, never_set.message) == (
        NOT_ALLOWED,
        "No hearing_date has been recorded yet, so this step cannot be taken.",
    )
    hearing = state_in("hearing", data={"hearing_date": "2026-12-21"})
    late = refusal(act, hearing, "postpone_hearing", data)
    assert late.message == (
        "hearing_date may be at most 5 working days after 2026-12-21: 2026-12-30 or earlier."
    )
    act(hearing, "postpone_hearing", {**data, "hearing_date": "2026-12-30"})


def test_linked_cases_hold_the_stage_and_the_closing() -> None:
    children = {"INV-0001": "investigation"}
    waiting = refusal(
        act,
        state_in("investigation", children=children),
        "submit_report",
        {"report_summary": "x", "recommendation": "Formal hearing"},
    )
    assert waiting.message == "This stage waits for INV-0001 to close before the next step."
    closing = refusal(
        act, state_in("assessment", children=children), "no_further_action", {"outcome": "x"}
    )
    assert closing.message == "The case cannot close while INV-0001 is still open."


def test_a_suspended_employee_is_reinstated_before_the_case_closes() -> None:
    suspended = state_in("assessment", suspended_since=at(2026, 3, 2))
    closing = refusal(act, suspended, "no_further_action", {"outcome": "x"})
    assert closing.message == "Lift the suspension before the case closes."


def test_a_step_may_open_only_a_case_type_ercase_runs() -> None:
    refused = refusal(
        check_action,
        state_in("assessment"),
        DISCIPLINARY,
        "open_investigation_case",
        JUST_CULTURE,
        at(2026, 3, 3),
        {"disciplinary"},
    )
    assert refused.message == "This step opens a 'investigation' case, which ercase cannot run."


# ---- recurring items -----------------------------------------------------------------------


def test_a_welfare_contact_is_dated_within_the_stage_and_not_ahead() -> None:
    started = at(2026, 3, 2)
    stage = state_in("long_term", started)
    now = at(2026, 3, 12)
    data = {"contact_notes": "Called"}
    for day, message in [
        ("2026-03-13", "contact_date 2026-03-13 is in the future."),
        (
            "2026-03-01",
            "contact_date may not be before 2026-03-02 (the start of this stage or the last "
            "welfare contact recorded).",
        ),
    ]:
        refused = refusal(
            act, stage, "record_welfare_contact", {**data, "contact_date": day}, now, SICKNESS
        )
        assert (refused.kind, refused.message) == (INVALID_DATA, message)
    act(stage, "record_welfare_contact", {**data, "contact_date": "2026-03-12"}, now, SICKNESS)


def test_recording_a_welfare_contact_restarts_its_clock_from_that_day() -> None:
    stage = state_in("long_term", at(2026, 3, 2))
    detail = record_recurring(
        stage, SICKNESS, "welfare_contact", {"contact_date": "2026-03-10"}, at(2026, 3, 12)
    )
    # Sickness policy, long_term: welfare contact every P2W, i.e. 14 calendar days from the
    # day done: 10 March + 14 = 24 March 2026, due at its end (GMT).
    assert detail == {
        "item": "welfare_contact",
        "name": "Welfare contact",
        "done_on": "2026-03-10",
        "next_due": "2026-03-24T23:59:59+00:00",
    }
    # A second contact may not be dated before the first.
    earlier = refusal(
        act,
        stage,
        "record_welfare_contact",
        {"contact_date": "2026-03-09", "contact_notes": "x"},
        at(2026, 3, 12),
        SICKNESS,
    )
    assert "may not be before 2026-03-10" in earlier.message


# ---- suspension ----------------------------------------------------------------------------


def test_suspension_steps_follow_each_other() -> None:
    policy = DISCIPLINARY
    working = state_in("assessment")
    suspended = state_in("assessment", suspended_since=at(2026, 3, 3))
    assert refusal(check_suspension, working, policy, "pause", "x").kind == INVALID_DATA
    assert refusal(check_suspension, suspended, policy, "suspend", "x").message == (
        "The employee is already suspended."
    )
    for step in ("review", "lift"):
        assert refusal(check_suspension, working, policy, step, "x").message == (
            "The employee is not suspended."
        )
    assert refusal(check_suspension, working, policy, "suspend", " ").message == (
        "Give the reason for the suspension."
    )
    assert refusal(check_suspension, suspended, policy, "review", "").message == "Give a note."
    check_suspension(working, policy, "suspend", "Risk to patients")
    check_suspension(suspended, policy, "lift", "")


def test_a_policy_without_suspension_refuses_one() -> None:
    grievance = POLICIES["grievance"]
    refused = refusal(check_suspension, state_in("grievance_stage"), grievance, "suspend", "x")
    assert refused.message == "The Grievance policy has no suspension from work."


# ---- policy moves --------------------------------------------------------------------------


def test_a_case_moves_only_forward_to_a_version_of_its_own_type_that_has_its_stage() -> None:
    state = state_in("assessment")
    other = refusal(check_policy_change, state, DISCIPLINARY, 1, POLICIES["grievance"], 2)
    assert other.message == "Version 2 is for another case type."
    same = refusal(check_policy_change, state, DISCIPLINARY, 2, DISCIPLINARY, 2)
    assert same.message == "The case already follows version 2."
    without = DISCIPLINARY.model_copy(
        update={"stages": [s for s in DISCIPLINARY.stages if s.key != "assessment"]}
    )
    gone = refusal(check_policy_change, state, DISCIPLINARY, 1, without, 2)
    assert gone.message == (
        "The case is in stage 'assessment', which version 2 does not have; finish or move "
        "the stage first."
    )
    check_policy_change(state, DISCIPLINARY, 1, DISCIPLINARY, 2)


def test_a_date_done_is_not_ahead_and_a_date_planned_is_not_behind() -> None:
    # Issue 19, defect 7: an outcome letter "sent" next June closed the case. The policy says
    # which way each date looks (`when`): letter_sent_on records something done, so London's
    # today at the latest; hearing_date plans something, so today at the earliest.
    # Now: Thu 24 Dec 2026, 23:30 UTC = 23:30 in London (GMT), so today is 24 December.
    now = datetime(2026, 12, 24, 23, 30, tzinfo=UTC)
    letter = state_in("outcome_letter")
    sent_ahead = refusal(act, letter, "send_outcome_letter", {"letter_sent_on": "2027-06-01"}, now)
    assert (sent_ahead.kind, sent_ahead.message) == (
        INVALID_DATA,
        "Date the outcome letter was sent records something already done, so it cannot be in "
        "the future: give today (2026-12-24) or an earlier day.",
    )
    refusal(act, letter, "send_outcome_letter", {"letter_sent_on": "2026-12-25"}, now)
    act(letter, "send_outcome_letter", {"letter_sent_on": "2026-12-24"}, now)
    act(letter, "send_outcome_letter", {"letter_sent_on": "2026-11-30"}, now)

    # A hearing set in the past; the notice rule would refuse it too, but this says why.
    hearing = state_in("hearing_arrangement", now)
    behind = refusal(
        act, hearing, "schedule_hearing", {"hearing_date": "2026-12-23", "panel_chair": "Sam"}, now
    )
    assert behind.message == (
        "Hearing date plans something ahead, so it cannot be in the past: give today "
        "(2026-12-24) or a later day."
    )


def test_when_is_only_for_dates_and_every_shipped_date_says_which() -> None:
    for policy in POLICIES.values():
        for key, field in policy.fields.items():
            assert (field.type == "date") == (field.when is not None), (policy.case_type, key)
    definition = DISCIPLINARY.model_dump(mode="json")
    definition["fields"]["panel_chair"]["when"] = "done"
    with pytest.raises(ValueError, match="only for fields of type date"):
        PolicyDefinition.model_validate(definition)
