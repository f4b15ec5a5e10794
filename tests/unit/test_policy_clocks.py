"""Policies whose clocks can be met and match the law (issue 18: 7, 3 and 8).

Every expected date and sum here is worked out by hand from the rule stated beside it, never
by calling the code under test.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli import validate_policy_file
from policies.case_clock import case_due, clock_items, decision_due, stage_due
from policies.case_rules import Refusal, check_action, extend_decision_period
from policies.case_state import CaseState
from policies.loader import DEFINITIONS_DIR, shipped_policies
from policies.months import period_begins, period_ends
from policies.opening_limits import counts_from
from policies.schema import PolicyInvalid, validate_policy
from policies.target_fit import longest_route, target_warnings

POLICIES = shipped_policies()
GMT, BST = UTC, timezone(timedelta(hours=1))


def shipped_data(case_type: str) -> dict[str, Any]:
    data = yaml.safe_load((DEFINITIONS_DIR / f"{case_type}.yaml").read_text())
    assert isinstance(data, dict)
    return data


# ---- 7: targets the stages can meet ---------------------------------------------------------


# The longest forward route to the end of each target's span, every stage taking its full
# allowance, summed by hand from the YAML: N working days count N + 2 x ceil(N/5) days (the
# longest they take in a week without bank holidays: 5 -> 7, 10 -> 14, 2 -> 4).
HAND_SUMMED = {
    # assessment 5wd (7) + investigation P21D, to the investigation report (hearing_arrangement)
    "disciplinary": (7 + 21, 32),
    # terms of reference 5wd (7) + interviews P2W (14) + report P1W (7); target P6W
    "investigation": (7 + 14 + 7, 42),
    # received, meeting, outcome letter 5wd each (7) + appeal window 10wd (14) + appeal 10wd
    # (14), to closure; target P8W
    "grievance": (7 + 7 + 7 + 14 + 14, 56),
    # received 5wd (7) + informal P3W (21) + investigation P5W (35) + outcome 10wd (14), to the
    # written outcome (appeal_window); target P12W
    "bullying_harassment": (7 + 21 + 35 + 14, 84),
    # received 5wd (7) + consultation P2W (14) + appeal window 10wd (14) + appeal P2W (14), to
    # the decision (changed_terms); target P8W
    "flexible_working": (7 + 14 + 14 + 14, 56),
    # arrangement 5wd (7) + hearing P3W (21) + letter 5wd (7); target P5W
    "appeal": (7 + 21 + 7, 35),
    # received 2wd (2 + 2) + assessment 10wd (14) + investigation P6W (42) + feedback 10wd
    # (14); target P12W
    "freedom_to_speak_up": (4 + 14 + 42 + 14, 84),
}


@pytest.mark.parametrize("case_type", sorted(HAND_SUMMED))
def test_every_shipped_target_can_be_met_when_every_stage_is_on_time(case_type: str) -> None:
    policy = POLICIES[case_type]
    allowed, target = HAND_SUMMED[case_type]
    assert sum(days for _, days in longest_route(policy)) == allowed <= target
    assert target_warnings(policy) == []


def test_the_old_grievance_clock_is_warned_about_with_its_numbers() -> None:
    # The grievance as shipped before: appeal 20 working days (28 days) and the 8-week target
    # to closure: 7 + 7 + 7 + 14 + 28 = 63 days against 56.
    data = shipped_data("grievance")
    data["stages"][4]["due"] = {"working_days": 20}
    policy = validate_policy(data)  # a warning, not a refusal
    [warning] = target_warnings(policy)
    assert warning.path == "target"
    assert warning.message.startswith(
        "the stages on the longest route to closure allow 63 days (received 7, meeting 7, "
        "outcome_letter 7, appeal_window 14, appeal 28), more than the target of 56 days"
    )


def test_the_old_disciplinary_clock_counted_to_closure_is_warned_about() -> None:
    # Without target_until the 32 days run to closure: 7 + 21 + 7 + 21 + 7 = 63.
    data = shipped_data("disciplinary")
    del data["target_until"]
    [warning] = target_warnings(validate_policy(data))
    assert "allow 63 days" in warning.message and "target of 32 days" in warning.message


def test_the_old_bullying_clock_takes_the_longer_informal_route() -> None:
    # The shipped values before: informal P4W, investigation P6W, appeal 20wd, to closure:
    # 7 + 28 + 42 + 14 + 14 + 28 = 133 days (19 weeks) against 84.
    data = shipped_data("bullying_harassment")
    del data["target_until"]
    data["stages"][1]["due"], data["stages"][2]["due"] = "P4W", "P6W"
    [warning] = target_warnings(validate_policy(data))
    assert "allow 133 days (received 7, informal_resolution 28, investigation 42" in warning.message


def test_ercase_policy_validate_prints_the_warning_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = shipped_data("grievance")
    data["stages"][4]["due"] = {"working_days": 20}
    path = tmp_path / "grievance.yaml"
    path.write_text(yaml.safe_dump(data))
    assert validate_policy_file(path) == 0
    captured = capsys.readouterr()
    assert "valid (Grievance, 5 stages)" in captured.out
    assert f"{path}: warning: target: the stages on the longest route" in captured.err


def test_the_disciplinary_investigation_runs_on_the_investigation_case_types_clock() -> None:
    disciplinary, investigation = POLICIES["disciplinary"], POLICIES["investigation"]
    # The disciplinary agrees the terms of reference at the assessment and opens the
    # investigation case at its interviews, so the two clocks are the same: P21D against
    # interviews P2W (14 days) + report P1W (7 days).
    assert disciplinary.stage("investigation").due == "P21D"
    assert (investigation.stage("interviews").due, investigation.stage("report").due) == (
        "P2W",
        "P1W",
    )
    opening = disciplinary.stage("assessment").action("open_investigation_case")
    assert opening is not None and (opening.opens, opening.opens_at) == (
        "investigation",
        "interviews",
    )
    assert {"terms_of_reference", "investigating_officer"} <= set(opening.requires)


def test_a_target_span_ends_when_the_case_enters_its_stage() -> None:
    policy = POLICIES["disciplinary"]
    opened = datetime(2026, 3, 2, 9, tzinfo=UTC)  # Monday
    # P32D from 2 March 2026: 3 April 2026, end of the day (BST).
    target = datetime(2026, 4, 3, 23, 59, 59, tzinfo=BST)
    state = CaseState(opened, "investigation", opened, "alice")
    assert case_due(state, policy, opened) == target
    assert "target:breach" in {item.key for item in clock_items(state, policy, opened)}
    reported = datetime(2026, 3, 20, 15, tzinfo=UTC)
    met = replace(state, stage_key="hearing_arrangement", stage_started_at=reported)
    met.target_met_at = reported
    later = datetime(2026, 4, 20, tzinfo=UTC)
    # The span is over: no breach or escalation of the target, which stays as it stood.
    keys = {item.key for item in clock_items(met, policy, later)}
    assert not any(key.startswith("target:") for key in keys)
    assert case_due(met, policy, later) == target


def test_target_until_must_name_a_later_stage_and_needs_a_target() -> None:
    data = shipped_data("disciplinary")
    data["target_until"] = "hearings"
    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(data)
    assert [error.path for error in invalid.value.errors] == ["target_until"]
    del data["target"]
    data["target_escalations"] = []
    data["target_until"] = "hearing"
    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(data)
    assert invalid.value.errors[0].message == "this ends the target's span; give a target"


# ---- 3: flexible working ----------------------------------------------------------------------


# "Two months beginning with" a day (ERA 1996 s.80G(1B)(a)): the period ends on the day before
# the same-numbered day two months on; when that month has no such day, on its last day
# (the corresponding-date rule, Dodds v Walker [1981] 1 WLR 1441).
@pytest.mark.parametrize(
    ("received", "last_day"),
    [
        # 1 February + 2 months = 1 April; the day before: 31 March.
        (date(2026, 2, 1), date(2026, 3, 31)),
        # 15 June -> 15 August; the day before: 14 August.
        (date(2026, 6, 15), date(2026, 8, 14)),
        # 28 December 2025 -> 28 February 2026 exists; the day before: 27 February.
        (date(2025, 12, 28), date(2026, 2, 27)),
        # 31 December 2025 -> 31 February 2026 does not exist, so the period ends on the last
        # day of February: 28 February 2026 (not 27 February, which "two months less a day
        # from 28 February" would give).
        (date(2025, 12, 31), date(2026, 2, 28)),
        # 29 December 2025 -> no 29 February 2026: the last day of February, the 28th.
        (date(2025, 12, 29), date(2026, 2, 28)),
        # 31 December 2027 -> no 31 February 2028: the last day of February 2028, the 29th.
        (date(2027, 12, 31), date(2028, 2, 29)),
        # 29 December 2027 -> 29 February 2028 exists; the day before: 28 February 2028.
        (date(2027, 12, 29), date(2028, 2, 28)),
        # 31 July -> no 31 September: the last day of September.
        (date(2026, 7, 31), date(2026, 9, 30)),
    ],
)
def test_two_months_beginning_with_the_day_of_receipt(received: date, last_day: date) -> None:
    assert period_ends(received, 2) == last_day


# "Any period of 12 months" (ERA 1996 s.80F(4)) ending with the day of a new request begins
# the day after the same-numbered day 12 months before it.
@pytest.mark.parametrize(
    ("request_day", "counts_from_day"),
    [
        # 31 January 2026: the 12 months 1 February 2025 - 31 January 2026. 364 days back
        # (the old P52W) would have begun on 2 February 2025, letting a third request in.
        (date(2026, 1, 31), date(2025, 2, 1)),
        # 29 February 2028: no 29 February 2027, so from the day after 28 February 2027.
        (date(2028, 2, 29), date(2027, 3, 1)),
        # 1 March 2027: from 2 March 2026.
        (date(2027, 3, 1), date(2026, 3, 2)),
    ],
)
def test_any_12_months_counted_by_calendar_date(request_day: date, counts_from_day: date) -> None:
    assert period_begins(request_day, 12) == counts_from_day
    # Midnight London of that day; February and March 2025-2028 are GMT (BST starts late March).
    at = datetime.combine(request_day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15)
    assert counts_from("P12M", at) == datetime.combine(
        counts_from_day, datetime.min.time(), tzinfo=UTC
    )


FLEXIBLE = POLICIES["flexible_working"]
# Received on Wednesday 31 December 2025 (GMT): the decision period ends 28 February 2026.
RECEIVED = datetime(2025, 12, 31, 10, tzinfo=UTC)
STATUTORY = datetime(2026, 2, 28, 23, 59, 59, tzinfo=GMT)


def flexible(**changes: Any) -> CaseState:
    return replace(CaseState(RECEIVED, "received", RECEIVED, advisor="alice"), **changes)


def test_the_statutory_decision_date_is_not_moved_by_a_pause() -> None:
    state = flexible()
    assert decision_due(state, FLEXIBLE) == STATUTORY
    paused = flexible(
        pauses=[(datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 19, tzinfo=UTC))]
    )
    # The pause of 14 days moves the internal target (P8W: 25 February 2026 + 14 days)...
    now = datetime(2026, 1, 20, tzinfo=UTC)
    assert case_due(paused, FLEXIBLE, now) == datetime(2026, 3, 11, 23, 59, 59, tzinfo=GMT)
    # ...never the statutory date.
    assert decision_due(paused, FLEXIBLE) == STATUTORY


def test_an_appeal_gets_what_is_left_of_the_decision_period() -> None:
    # Appeal lodged Tuesday 24 February 2026: P2W would be 10 March; the period ends first.
    lodged = datetime(2026, 2, 24, 11, tzinfo=UTC)
    state = flexible(stage_key="appeal", stage_started_at=lodged)
    assert stage_due(state, FLEXIBLE, lodged) == STATUTORY
    # An appeal lodged 2 February 2026 keeps its own P2W: 16 February, inside the period.
    early = datetime(2026, 2, 2, 11, tzinfo=UTC)
    state = flexible(stage_key="appeal", stage_started_at=early)
    assert stage_due(state, FLEXIBLE, early) == datetime(2026, 2, 16, 23, 59, 59, tzinfo=GMT)


def test_only_an_extension_the_employee_agrees_to_moves_the_decision_date() -> None:
    lodged = datetime(2026, 2, 24, 11, tzinfo=UTC)
    state = flexible(stage_key="appeal", stage_started_at=lodged)
    data = {"extended_to": "2026-03-13", "extension_agreed": "Email of 24 February"}
    check_action(state, FLEXIBLE, "agree_extension", data, lodged, runnable=())
    detail = extend_decision_period(state, FLEXIBLE, "extended_to", data)
    extended = datetime(2026, 3, 13, 23, 59, 59, tzinfo=GMT)
    assert detail == {"from": STATUTORY.isoformat(), "to": extended.isoformat()}
    assert decision_due(state, FLEXIBLE) == extended
    # The appeal's P2W (10 March) now comes first.
    assert stage_due(state, FLEXIBLE, lodged) == datetime(2026, 3, 10, 23, 59, 59, tzinfo=GMT)
    shorter = {"extended_to": "2026-03-01", "extension_agreed": "Phone"}
    with pytest.raises(Refusal) as refused:
        check_action(state, FLEXIBLE, "agree_extension", shorter, lodged, runnable=())
    assert refused.value.message == (
        "An extension must end after the decision period does now (2026-03-13)."
    )


def test_flexible_working_ends_with_the_written_statement_of_the_changed_terms() -> None:
    for stage_key in ("received", "consultation"):
        approve = FLEXIBLE.stage(stage_key).action("approve")
        assert approve is not None and approve.to == "changed_terms"
    granted = FLEXIBLE.stage("appeal").action("grant_on_appeal")
    assert granted is not None and granted.to == "changed_terms"
    [statement] = FLEXIBLE.stage("changed_terms").actions
    assert statement.to == "closed" and "statement_sent_on" in statement.requires
    limit = FLEXIBLE.opening_limit
    assert limit is not None and (limit.count, limit.within, limit.one_at_a_time) == (
        2,
        "P12M",
        True,
    )


# ---- 8: hearings ------------------------------------------------------------------------------


DISCIPLINARY = POLICIES["disciplinary"]


def test_one_companion_postponement_per_hearing() -> None:
    scheduled = datetime(2026, 3, 2, 9, tzinfo=UTC)
    state = CaseState(scheduled, "hearing", scheduled, "alice", data={"hearing_date": "2026-03-10"})
    postpone = {"hearing_date": "2026-03-17", "postponement_reason": "Companion on leave"}
    action = check_action(state, DISCIPLINARY, "postpone_hearing", postpone, scheduled, ())
    assert action.keeps_clock and action.at_most == 1
    state.stay("postpone_hearing")
    with pytest.raises(Refusal) as refused:
        check_action(state, DISCIPLINARY, "postpone_hearing", postpone, scheduled, ())
    assert "only once" in refused.value.message
    # A new hearing (the stage entered again) gets its own postponement.
    state.enter_stage("hearing", scheduled + timedelta(days=30))
    check_action(state, DISCIPLINARY, "postpone_hearing", postpone, scheduled, ())


def test_the_sanction_is_a_choice_and_the_substitution_test_reads_as_the_guide() -> None:
    sanction = DISCIPLINARY.fields["sanction"]
    assert sanction.choices == [
        "No action",
        "First written warning",
        "Final written warning",
        "Dismissal",
        "Action short of dismissal",
    ]
    decision = DISCIPLINARY.stage("hearing").action("record_decision")
    assert decision is not None and "sanction" in decision.requires
    # NHS Improvement, A just culture guide (2018), the substitution test: "Yes" means others
    # would have behaved the same way, pointing to the system, not to the individual.
    assert DISCIPLINARY.fields["jc_substitution"].label == (
        "Are there indications that other individuals from the same peer group, with "
        "comparable experience and qualifications, would behave in the same way in similar "
        "circumstances?"
    )
