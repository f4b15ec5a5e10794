"""Case-type definitions: the shipped disciplinary procedure, and what invalid ones report."""

import json
from datetime import timedelta
from typing import Any

import pytest
import yaml

from policies.durations import CalendarDays, Exact, WorkingDays, parse_duration
from policies.loader import DEFINITIONS_DIR, load_policy_file, parse_policy_text, shipped_policies
from policies.schema import CLOSED, PolicyDefinition, PolicyInvalid, duration, validate_policy

# ---- the shipped disciplinary definition -------------------------------------------------


@pytest.fixture(scope="module")
def disciplinary() -> PolicyDefinition:
    return load_policy_file(DEFINITIONS_DIR / "disciplinary.yaml")


def test_shipped_definitions_load() -> None:
    policies = shipped_policies()
    assert "disciplinary" in policies
    assert policies["disciplinary"].reference_prefix == "DIS"


def test_whole_case_target_is_32_days(disciplinary: PolicyDefinition) -> None:
    assert disciplinary.target == "P32D"
    assert disciplinary.target is not None
    assert duration(disciplinary.target) == CalendarDays(32)


def test_stages_in_nhs_order(disciplinary: PolicyDefinition) -> None:
    assert [stage.key for stage in disciplinary.stages] == [
        "assessment",
        "investigation",
        "hearing_arrangement",
        "hearing",
        "outcome_letter",
    ]
    assert disciplinary.stages[0].name == "Pre-formal assessment"


def test_assessment_comes_first_and_can_refer_or_resolve(disciplinary: PolicyDefinition) -> None:
    assessment = disciplinary.stages[0]
    assert assessment.due == {"working_days": 5}
    refer = assessment.action("refer_to_investigation")
    assert refer is not None
    assert refer.to == "investigation"
    assert "terms_of_reference" in refer.requires
    informal = assessment.action("informal_resolution")
    assert informal is not None
    assert informal.to == CLOSED


def test_investigation_leads_to_hearing_arrangement(disciplinary: PolicyDefinition) -> None:
    investigation = disciplinary.stage("investigation")
    assert {action.to for action in investigation.actions} == {"hearing_arrangement", CLOSED}


def test_hearing_needs_at_least_five_working_days_notice(disciplinary: PolicyDefinition) -> None:
    schedule = disciplinary.stage("hearing_arrangement").action("schedule_hearing")
    assert schedule is not None
    assert schedule.to == "hearing"
    assert schedule.notice is not None
    assert schedule.notice.field == "hearing_date"
    assert schedule.notice.field in schedule.requires
    assert duration(schedule.notice.at_least) == WorkingDays(5)


def test_outcome_letter_within_five_working_days(disciplinary: PolicyDefinition) -> None:
    outcome_letter = disciplinary.stage("outcome_letter")
    assert outcome_letter.due is not None
    assert duration(outcome_letter.due) == WorkingDays(5)
    assert [action.to for action in outcome_letter.actions] == [CLOSED]


def test_an_appeal_is_its_own_case_within_ten_working_days(
    disciplinary: PolicyDefinition,
) -> None:
    assert disciplinary.appeal is not None
    assert disciplinary.appeal.case_type == "appeal"
    assert duration(disciplinary.appeal.within) == WorkingDays(10)


def test_every_stage_has_a_path_to_closed(disciplinary: PolicyDefinition) -> None:
    for stage in disciplinary.stages:
        seen = {stage.key}
        frontier = [stage.key]
        while frontier:
            current = disciplinary.stage(frontier.pop())
            for action in current.actions:
                if action.to not in seen:
                    seen.add(action.to)
                    if action.to != CLOSED:
                        frontier.append(action.to)
        assert CLOSED in seen, f"no way to close from {stage.key}"


def test_every_action_leads_to_a_known_stage(disciplinary: PolicyDefinition) -> None:
    for stage in disciplinary.stages:
        for action in stage.actions:
            assert action.to == CLOSED or disciplinary.has_stage(action.to)


def test_every_duration_in_the_shipped_definition_parses(disciplinary: PolicyDefinition) -> None:
    for stage in disciplinary.stages:
        assert stage.due is not None, stage.key
        duration(stage.due)
        for reminder in stage.reminders:
            assert isinstance(duration(reminder), CalendarDays)
        assert stage.escalations, stage.key
        assert duration(stage.escalations[0].after) == Exact(timedelta(0))


# ---- durations as a policy owner writes them ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P32D", CalendarDays(32)),
        ("P6W", CalendarDays(42)),
        ("P1W2D", CalendarDays(9)),
        ("p2d", CalendarDays(2)),
        ("PT30S", Exact(timedelta(seconds=30))),
        ("PT0S", Exact(timedelta(0))),
        ("PT90M", Exact(timedelta(minutes=90))),
        ("P1DT2H", Exact(timedelta(days=1, hours=2))),
        ({"working_days": 5}, WorkingDays(5)),
        ({"working_days": 0}, WorkingDays(0)),
    ],
)
def test_parse_duration(text: object, expected: object) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "P1M",
        "P1Y",
        "5 days",
        "P",
        "PT",
        "P1DT",
        "-P1D",
        "P1.5D",
        "P99999D",
        5,
        None,
        {"weeks": 2},
        {"working_days": -1},
        {"working_days": 1.5},
        {"working_days": "5"},
        {"working_days": True},
        {"working_days": 5, "weeks": 1},
        {"working_days": 10**12},
    ],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


# ---- invalid definitions: exact paths, every problem at once -----------------------------

VALID = """\
case_type: grievance
name: Grievance
reference_prefix: GRV
target: P6W
fields:
  meeting_date: {label: Meeting date, type: date}
  outcome: {label: Outcome, type: long_text}
stages:
  - key: meeting
    name: Grievance meeting
    due: {working_days: 5}
    reminders: [P1D]
    escalations:
      - {after: PT0S, notify: [advisor, manager]}
    actions:
      - key: arrange_meeting
        to: decision
        requires: [meeting_date]
        notice: {field: meeting_date, at_least: {working_days: 5}}
      - key: withdraw
        to: closed
  - key: decision
    name: Decision
    due: P14D
    actions:
      - key: decide
        to: closed
        requires: [outcome]
"""


def valid() -> dict[str, Any]:
    data = yaml.safe_load(VALID)
    assert isinstance(data, dict)
    return data


def problems(data: object) -> dict[str, str]:
    """Path -> message for every problem validate_policy reports (paths must not repeat)."""
    with pytest.raises(PolicyInvalid) as raised:
        validate_policy(data)
    paths = [error.path for error in raised.value.errors]
    assert len(paths) == len(set(paths)), paths
    return {error.path: error.message for error in raised.value.errors}


def test_the_valid_example_is_valid() -> None:
    policy = parse_policy_text(VALID)
    assert policy.case_type == "grievance"
    assert [stage.key for stage in policy.stages] == ["meeting", "decision"]


def test_unparseable_durations_all_reported_with_paths() -> None:
    data = valid()
    data["target"] = "P1M"
    data["stages"][0]["due"] = "5 days"
    data["stages"][1]["due"] = {"working_days": -1}
    data["stages"][0]["escalations"][0]["after"] = {"weeks": 2}
    data["stages"][0]["reminders"] = ["P1D", "P1Y"]
    found = problems(data)
    assert set(found) == {
        "target",
        "stages[0].due",
        "stages[1].due",
        "stages[0].escalations[0].after",
        "stages[0].reminders[1]",
    }
    assert "months are not allowed" in found["target"]
    assert "'5 days' is not an ISO 8601 duration" in found["stages[0].due"]
    assert "0 or more" in found["stages[1].due"]
    assert "working_days" in found["stages[0].escalations[0].after"]
    assert "'P1Y'" in found["stages[0].reminders[1]"]


def test_a_duration_of_the_wrong_type_is_one_problem_at_a_clean_path() -> None:
    data = valid()
    data["stages"][1]["due"] = 5
    data["stages"][0]["actions"][0]["notice"]["at_least"] = ["P1D"]
    found = problems(data)
    assert set(found) == {"stages[1].due", "stages[0].actions[0].notice.at_least"}
    assert "ISO 8601" in found["stages[1].due"]
    for path in found:
        assert "str" not in path.split(".")
        assert "function-after" not in path
        assert "dict[" not in path


def test_messages_do_not_carry_pydantic_prefixes() -> None:
    data = valid()
    data["stages"][0]["due"] = "P1M"
    message = problems(data)["stages[0].due"]
    assert not message.startswith("Value error")
    assert message.startswith("'P1M' is not an ISO 8601 duration")


def test_action_to_an_unknown_stage() -> None:
    data = valid()
    data["stages"][0]["actions"][1]["to"] = "apeal"
    found = problems(data)
    assert set(found) == {"stages[0].actions[1].to"}
    assert "unknown stage 'apeal'" in found["stages[0].actions[1].to"]
    assert "meeting, decision" in found["stages[0].actions[1].to"]


def test_duplicate_stage_keys() -> None:
    data = valid()
    data["stages"][1]["key"] = "meeting"
    found = problems(data)
    # 'decision' is gone, so the action that led there now leads nowhere
    assert set(found) == {"stages[1].key", "stages[0].actions[0].to"}
    assert "duplicate stage key 'meeting'" in found["stages[1].key"]
    assert "stages[0]" in found["stages[1].key"]
    assert "unknown stage 'decision'" in found["stages[0].actions[0].to"]
    assert "(meeting) or 'closed'" in found["stages[0].actions[0].to"]


def test_duplicate_action_keys() -> None:
    data = valid()
    data["stages"][0]["actions"][1]["key"] = "arrange_meeting"
    found = problems(data)
    assert set(found) == {"stages[0].actions[1].key"}
    assert "duplicate action key 'arrange_meeting'" in found["stages[0].actions[1].key"]


def test_a_stage_named_closed() -> None:
    data = valid()
    data["stages"][1]["key"] = "closed"
    found = problems(data)
    assert set(found) == {"stages[1].key", "stages[0].actions[0].to"}
    assert "'closed' is reserved" in found["stages[1].key"]


def test_unknown_role_in_notify() -> None:
    data = valid()
    data["stages"][0]["escalations"][0]["notify"] = ["advisor", "ceo"]
    found = problems(data)
    assert set(found) == {"stages[0].escalations[0].notify[1]"}
    message = found["stages[0].escalations[0].notify[1]"]
    assert "'ceo' is not a known role" in message
    assert "advisor, manager, hr_director, line_manager" in message


def test_unknown_top_level_field_suggests_the_spelling() -> None:
    data = valid()
    data["nmae"] = data.pop("name")
    found = problems(data)
    assert set(found) == {"name", "nmae"}
    assert found["name"] == "this field is required"
    assert "'nmae' is not a field a definition can have; did you mean 'name'?" in found["nmae"]


def test_unknown_field_in_a_stage() -> None:
    data = valid()
    data["stages"][1]["deu"] = "P7D"
    found = problems(data)
    assert set(found) == {"stages[1].deu"}
    assert "did you mean 'due'?" in found["stages[1].deu"]


def test_notice_field_must_be_required() -> None:
    data = valid()
    data["stages"][0]["actions"][0]["requires"] = ["outcome"]
    found = problems(data)
    assert set(found) == {"stages[0].actions[0].notice.field"}
    assert (
        "'meeting_date' must also be listed in requires"
        in found["stages[0].actions[0].notice.field"]
    )


def test_a_stage_that_can_never_close() -> None:
    data = valid()
    data["stages"][1]["actions"][0]["to"] = "meeting"
    data["stages"][0]["actions"].pop()  # drop withdraw: meeting <-> decision, no way out
    found = problems(data)
    assert set(found) == {"stages[0].actions", "stages[1].actions"}
    assert "could never be closed" in found["stages[0].actions"]


def test_reminders_without_a_due() -> None:
    data = valid()
    del data["stages"][0]["due"]
    found = problems(data)
    assert set(found) == {"stages[0].reminders", "stages[0].escalations"}
    assert "give the stage a due" in found["stages[0].reminders"]


def test_bad_keys_and_missing_fields() -> None:
    data = valid()
    data["case_type"] = "Grievance Case"
    data["reference_prefix"] = "grv"
    del data["stages"][1]["name"]
    data["stages"][1]["actions"] = []
    found = problems(data)
    assert set(found) == {
        "case_type",
        "reference_prefix",
        "stages[1].name",
        "stages[1].actions",
    }
    assert "lower-case letters" in found["case_type"]
    assert "capital letters" in found["reference_prefix"]
    assert found["stages[1].name"] == "this field is required"
    assert "at least one" in found["stages[1].actions"]


def test_every_problem_at_once() -> None:
    data = valid()
    data["stages"][0]["due"] = "P1M"  # field problem
    data["stages"][0]["actions"][1]["to"] = "nowhere"  # cross-field problem
    data["stages"][1]["key"] = "meeting"  # duplicate stage
    data["stages"][0]["escalations"][0]["notify"] = ["ceo"]
    data["descripton"] = "typo"
    with pytest.raises(PolicyInvalid) as raised:
        validate_policy(data)
    assert {error.path for error in raised.value.errors} == {
        "stages[0].due",
        "stages[0].actions[0].to",  # 'decision' was renamed away
        "stages[0].actions[1].to",
        "stages[1].key",
        "stages[0].escalations[0].notify[0]",
        "descripton",
    }
    # the exception's text names every path too, for logs and plain error pages
    assert "stages[0].actions[1].to: leads to unknown stage 'nowhere'" in str(raised.value)
    assert isinstance(raised.value, ValueError)


# ---- YAML text ---------------------------------------------------------------------------


def test_bad_yaml_reports_the_line() -> None:
    text = "case_type: grievance\nname: Grievance\nstages: [\n  - key: a\n"
    with pytest.raises(PolicyInvalid) as raised:
        parse_policy_text(text)
    [error] = raised.value.errors
    assert error.path == "line 4"
    assert error.message.startswith("this is not valid YAML:")
    assert "line 4" in error.message


def test_yaml_mapping_value_error_line() -> None:
    text = "case_type: grievance\nname: Grievance: formal\n"
    with pytest.raises(PolicyInvalid) as raised:
        parse_policy_text(text)
    assert [error.path for error in raised.value.errors] == ["line 2"]


def test_a_name_written_twice_in_yaml_is_refused() -> None:
    text = VALID.replace("    due: P14D\n", "    due: P14D\n    due: P7D\n")
    with pytest.raises(PolicyInvalid) as raised:
        parse_policy_text(text)
    [error] = raised.value.errors
    assert error.path == "line 25"
    assert "'due' is written twice" in error.message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just words\n", "", "42\n"])
def test_a_document_that_is_not_a_mapping(text: str) -> None:
    with pytest.raises(PolicyInvalid) as raised:
        parse_policy_text(text)
    [error] = raised.value.errors
    assert error.path == "(top)"
    assert "block of fields" in error.message


def test_validate_policy_refuses_a_non_mapping() -> None:
    found = problems(["case_type", "grievance"])
    assert set(found) == {"(top)"}


def test_yaml_and_json_give_the_same_definition() -> None:
    from_yaml = parse_policy_text(VALID)
    from_json = parse_policy_text(json.dumps(valid()))
    assert from_yaml == from_json


def test_unreadable_values_and_deep_nesting_are_reported_not_raised() -> None:
    with pytest.raises(PolicyInvalid) as bad_date:
        parse_policy_text("case_type: disciplinary\nwhen: 2026-13-45\n")
    assert bad_date.value.errors[0].path == "(top)"
    assert "cannot be read" in bad_date.value.errors[0].message
    with pytest.raises(PolicyInvalid) as deep:
        parse_policy_text("a: " + "[" * 5000 + "]" * 5000)
    assert "nested too deeply" in deep.value.errors[0].message


def _problems(data: dict[str, object]) -> dict[str, str]:
    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(data)
    return {error.path: error.message for error in invalid.value.errors}


def _two_stage_policy(**first_stage: object) -> dict[str, object]:
    return {
        "case_type": "grievance",
        "name": "Grievance",
        "reference_prefix": "GRV",
        "fields": {"outcome": {"label": "Outcome"}},
        "stages": [
            {
                "key": "meeting",
                "name": "Meeting",
                "actions": [{"key": "decide", "to": "closed", "requires": ["outcome"]}],
                **first_stage,
            },
            {"key": "orphan", "name": "Orphan", "actions": [{"key": "end", "to": "closed"}]},
        ],
    }


def test_a_stage_no_action_reaches_is_named() -> None:
    problems = _problems(_two_stage_policy())
    assert problems == {
        "stages[1].key": "no action leads to stage 'orphan', so no case could ever reach it"
    }


def test_requires_keys_must_be_declared() -> None:
    data = _two_stage_policy()
    data["stages"][0]["actions"][0]["requires"] = ["outcome", "letter"]  # type: ignore[index]
    data["stages"][0]["actions"].append({"key": "next", "to": "orphan"})  # type: ignore[index]
    assert _problems(data) == {
        "stages[0].actions[0].requires[1]": "'letter' is not declared under fields; declare it "
        "there with a label so forms can ask for it"
    }


def test_a_reminder_before_the_stage_starts_and_a_choice_without_choices() -> None:
    data = _two_stage_policy(due={"working_days": 5}, reminders=["P2D", "P5D"])
    data["stages"][0]["actions"].append({"key": "next", "to": "orphan"})  # type: ignore[index]
    data["fields"] = {"outcome": {"label": "Outcome", "type": "choice"}}
    problems = _problems(data)
    assert set(problems) == {"stages[0].reminders[1]", "fields.outcome.choices"}
    assert "before the stage starts" in problems["stages[0].reminders[1]"]


def test_a_latest_date_rule_needs_its_field_required() -> None:
    data = _two_stage_policy()
    data["stages"][0]["actions"].append(  # type: ignore[index]
        {
            "key": "postpone",
            "to": "orphan",
            "latest": {"field": "outcome", "after": "outcome", "by": {"working_days": 5}},
        }
    )
    assert _problems(data) == {
        "stages[0].actions[1].latest.field": "'outcome' must also be listed in requires, so "
        "the date is always given"
    }
