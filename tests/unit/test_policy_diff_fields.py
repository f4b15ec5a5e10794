"""Every part of a policy a policy owner can change is named in the diff, in words."""

from typing import Any

import pytest

from policies.diff import describe_changes
from policies.durations import describe_spec
from policies.loader import shipped_policies
from policies.schema import PolicyDefinition


def changed(case_type: str, **fields: Any) -> list[str]:
    old = shipped_policies()[case_type]
    new = PolicyDefinition.model_validate({**old.model_dump(exclude_none=True), **fields})
    return describe_changes(old, new)


def test_the_flexible_working_limits_and_decision_period_are_described() -> None:
    assert changed(
        "flexible_working",
        decision_period={"months": 3},
        opening_limit={"count": 3, "within": "P12M"},
    ) == [
        "Statutory decision period 3 months from receipt (was 2 months from receipt).",
        "Opening limit at most 3 in any 12 months (was at most 2 in any 12 months, one at a time).",
    ]


def test_a_new_field_and_the_target_span_are_described() -> None:
    policy = shipped_policies()["grievance"]
    fields = {**policy.model_dump()["fields"], "room": {"label": "Room"}}
    changes = changed("grievance", fields=fields, target_until=policy.stages[-1].key)
    assert "New field 'room': 'Room' (text)." in changes
    assert any(change.startswith("The whole-case target runs until") for change in changes)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("P32D", "32 days"),
        ("P6W", "42 days"),
        ("P1D", "1 day"),
        ({"working_days": 5}, "5 working days"),
        ("PT5M", "5 minutes"),
        ("P1DT2H", "1 day 2 hours"),
        ("PT0S", "0 seconds"),
    ],
)
def test_durations_read_as_people_write_them(spec: object, words: str) -> None:
    assert describe_spec(spec) == words
