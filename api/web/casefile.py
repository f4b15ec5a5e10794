"""What the case page shows beyond the row: the forms for the steps the policy allows now (its
stage visits and history in words are services/case_chronology.py, which the bundle shares)."""

from dataclasses import dataclass, field

from policies.durations import describe
from policies.schema import PolicyDefinition, duration
from records.models import Case


@dataclass
class ActionField:
    name: str
    label: str
    kind: str  # text | long_text | date | choice, as the policy declares it
    hint: str = ""
    choices: list[str] = field(default_factory=list)
    # A date's direction, as the policy declares it: done (not after today), planned (not
    # before today), or None.
    when: str | None = None


@dataclass
class ActionForm:
    key: str
    label: str
    fields: list[ActionField]
    closes: bool


# What each date field's hint says about which days it takes.
WHEN_HINTS = {
    "done": "The day it was done: today or earlier.",
    "planned": "A day ahead: today or later.",
}


def _field(policy: PolicyDefinition, name: str, notice_at_least: str | None) -> ActionField:
    declared = policy.fields.get(name)
    if declared is not None:
        kind, label = declared.type, declared.label
        hint, choices = declared.help, list(declared.choices)
    else:
        # A definition that declares no fields: the key names the data; dates by their suffix.
        dated = notice_at_least is not None or name.endswith(("_date", "_on"))
        kind, label, hint, choices = ("date" if dated else "long_text"), humanise(name), "", []
    if notice_at_least is not None and not hint:
        hint = f"{hint} At least {notice_at_least}' notice from today.".strip()
    when = declared.when if declared is not None else None
    if when is not None:
        hint = f"{hint} {WHEN_HINTS[when]}".strip()
    return ActionField(name, label, kind, hint, choices, when)


def humanise(key: str) -> str:
    return key.replace("_", " ").capitalize()


def action_forms(case: Case, policy: PolicyDefinition) -> list[ActionForm]:
    """A form per step allowed now, asking for exactly the data the policy requires."""
    if case.status != "open" or not policy.has_stage(case.stage_key):
        return []
    stage = policy.stage(case.stage_key)
    forms = []
    for key in case.actions:
        action = stage.action(key)
        if action is None:
            continue
        notice = action.notice
        fields = [
            _field(
                policy,
                name,
                describe(duration(notice.at_least))
                if notice is not None and notice.field == name
                else None,
            )
            for name in action.requires
        ]
        forms.append(ActionForm(key, action.label, fields, action.to == "closed"))
    return forms


def field_errors(
    message: str, names: list[str], labels: dict[str, str] | None = None
) -> dict[str, str]:
    """Put a rule's refusal beside the fields it names (by key or by label), or under '' for
    the whole form."""
    labels = labels or {}
    named = [
        name
        for name in names
        if name in message or (name in labels and message.startswith(labels[name]))
    ]
    return {name: message for name in named} if named else {"": message}
