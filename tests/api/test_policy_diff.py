"""The diff a policy owner reads before publishing: every change named, in words."""

from typing import Any

from policies.diff import describe_changes
from policies.loader import shipped_policies
from policies.schema import PolicyDefinition, validate_policy
from tests.support.stack import ApiStack

SHIPPED = shipped_policies()["disciplinary"]


def changed(edit: dict[str, Any]) -> PolicyDefinition:
    """The shipped definition with values replaced at dotted paths such as stages.0.due."""
    data = SHIPPED.model_dump(mode="json")
    for path, value in edit.items():
        target: Any = data
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value
    return validate_policy(data)


def test_identical_versions_have_no_changes() -> None:
    assert describe_changes(SHIPPED, changed({})) == []


def test_each_kind_of_change_is_named_in_words() -> None:
    new = changed(
        {
            "target": "P40D",
            "stages.0.due": {"working_days": 7},
            "stages.0.reminders": ["P3D"],
            "stages.1.name": "Formal investigation",
            "stages.1.actions.0.requires": ["report_summary"],
        }
    )
    assert describe_changes(SHIPPED, new) == [
        "Whole-case target 40 days instead of 32 days.",
        "Stage 'assessment': due after 7 working days instead of 5 working days.",
        "Stage 'assessment': reminders before the deadline 3 days (were 2 days, 1 day).",
        "Stage 'investigation': renamed from 'Investigation' to 'Formal investigation'.",
        "Stage 'investigation': step 'submit_report' leading to hearing_arrangement, requiring "
        "report_summary (was 'submit_report' leading to hearing_arrangement, requiring "
        "report_summary, recommendation).",
    ]


def test_added_and_removed_stages_and_steps() -> None:
    data = SHIPPED.model_dump(mode="json")
    # The hearing stage goes: the hearing is arranged and decided in one stage.
    hearing = data["stages"].pop(3)
    arrange = data["stages"][2]
    arrange["actions"] = [hearing["actions"][0] | {"key": "record_decision"}]
    # A mediation stage comes in, reached from the assessment.
    data["stages"].insert(
        1,
        {
            "key": "mediation",
            "name": "Mediation",
            "due": "P4W",
            "actions": [{"key": "settled", "to": "closed"}],
        },
    )
    data["stages"][0]["actions"].append({"key": "mediate", "to": "mediation"})
    # The hearing's letter is offered where the hearing is now arranged and decided.
    data["letters"]["templates"][1]["stages"] = ["hearing_arrangement"]
    changes = describe_changes(SHIPPED, validate_policy(data))
    assert "New stage 'mediation' (Mediation), due after 28 days." in changes
    assert "Stage 'hearing' (Hearing) removed." in changes
    assert "Stage 'hearing_arrangement': step 'schedule_hearing' removed." in changes
    assert (
        "Stage 'hearing_arrangement': new step 'record_decision' leading to outcome_letter, "
        "requiring sanction, outcome, accompanied." in changes
    )
    assert "Stage 'assessment': new step 'mediate' leading to mediation." in changes


async def test_diff_and_history_through_the_api(api_stack: ApiStack) -> None:
    polly = await api_stack.token("polly")
    proposed = changed({"target": "P40D"}).model_dump(mode="json")
    published = await api_stack.http.post(
        "/api/policies/disciplinary/versions",
        json=proposed,
        params={"change_note": "Longer target"},
        headers=polly,
    )
    assert published.status_code == 201, published.text
    diff = await api_stack.http.get(
        "/api/policies/disciplinary/diff", params={"from": 1, "to": 2}, headers=polly
    )
    assert diff.status_code == 200, diff.text
    assert diff.json()["changes"] == ["Whole-case target 40 days instead of 32 days."]
    history = await api_stack.http.get("/api/policies/disciplinary/versions", headers=polly)
    assert [(v["version"], v["change_note"]) for v in history.json()] == [
        (1, "Shipped definition"),
        (2, "Longer target"),
    ]
    missing = await api_stack.http.get(
        "/api/policies/disciplinary/diff", params={"from": 1, "to": 9}, headers=polly
    )
    assert missing.status_code == 404 and "version 9" in missing.json()["detail"]
    unknown = await api_stack.http.get("/api/policies/nonsense/versions", headers=polly)
    assert unknown.status_code == 404


async def test_publishing_a_target_the_stages_cannot_meet_warns_with_the_numbers(
    api_stack: ApiStack,
) -> None:
    polly = await api_stack.token("polly")
    # The 32 days counted to closure again: assessment 5 working days (7 days) +
    # investigation 21 + hearing arrangement 7 + hearing 21 + outcome letter 7 = 63 days.
    proposed = SHIPPED.model_dump(mode="json")
    proposed["target_until"] = None
    published = await api_stack.http.post(
        "/api/policies/disciplinary/versions", json=proposed, headers=polly
    )
    assert published.status_code == 201, published.text
    [warning] = published.json()["warnings"]
    assert warning["path"] == "target"
    assert warning["message"].startswith(
        "the stages on the longest route to closure allow 63 days (assessment 7, "
        "investigation 21, hearing_arrangement 7, hearing 21, outcome_letter 7), more than "
        "the target of 32 days"
    )
    fitting = await api_stack.http.post(
        "/api/policies/disciplinary/versions", json=SHIPPED.model_dump(mode="json"), headers=polly
    )
    assert fitting.status_code == 201 and fitting.json()["warnings"] == []
