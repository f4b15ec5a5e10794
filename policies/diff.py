"""What changed between two versions of a definition, stage by stage, in a policy owner's words."""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from policies.durations import describe_spec
from policies.opening_limits import describe_window
from policies.schema import (
    Action,
    AppealRight,
    AttendanceEventKind,
    BradfordTrigger,
    CountTrigger,
    DataField,
    DecisionPeriod,
    Escalation,
    Letters,
    LongTermTrigger,
    OpeningLimit,
    PolicyDefinition,
    Recurring,
    Stage,
    Suspension,
    Triggers,
)

Item = TypeVar("Item")


def _keyed_changes(
    old: Mapping[str, Item],
    new: Mapping[str, Item],
    added: Callable[[str, Item], str],
    changed: Callable[[str, Item, Item], str],
    removed: Callable[[str, Item], str],
) -> list[str]:
    """Sentences for the items (fields, letters, steps) added, changed and removed, by key."""
    changes = []
    for key, item in new.items():
        if key not in old:
            changes.append(added(key, item))
        elif old[key] != item:
            changes.append(changed(key, old[key], item))
    changes += [removed(key, old[key]) for key in old.keys() - new.keys()]
    return changes


def _duration(spec: str | dict[str, Any] | None) -> str:
    return "none" if spec is None else describe_spec(spec)


def _list(items: list[str]) -> str:
    return ", ".join(items) if items else "none"


def _escalations(escalations: list[Escalation]) -> str:
    return _list([f"after {_duration(e.after)} tell {' and '.join(e.notify)}" for e in escalations])


def _action(action: Action) -> str:
    text = f"'{action.key}' leading to {action.to}"
    if action.requires:
        text += f", requiring {_list(action.requires)}"
    if action.notice:
        text += f", with at least {_duration(action.notice.at_least)} notice of"
        text += f" {action.notice.field}"
    return text


def _recurring(items: list[Recurring]) -> str:
    return _list([f"{item.name} every {_duration(item.every)}" for item in items])


def _moves_on(moves: Mapping[AttendanceEventKind, str]) -> str:
    return _list([f"on {event} to {stage}" for event, stage in sorted(moves.items())])


def _trigger(trigger: CountTrigger | BradfordTrigger | LongTermTrigger | None) -> str:
    match trigger:
        case None:
            return "none"
        case CountTrigger(count=count, within=within, opens_at=stage):
            return f"{count} or more within {_duration(within)}, opening at {stage}"
        case BradfordTrigger(score=score, within=within, opens_at=stage):
            return f"a score of {score} or more within {_duration(within)}, opening at {stage}"
        case LongTermTrigger(from_day=day, opens_at=stage):
            return f"from day {day} of one spell, opening at {stage}"
    raise TypeError(trigger)


def _target_until(stage: str | None) -> str:
    return "closure" if stage is None else f"the case reaches '{stage}'"


def _decision_period(period: DecisionPeriod | None) -> str:
    if period is None:
        return "none"
    return f"{period.months} month{'s' if period.months != 1 else ''} from receipt"


def _opening_limit(limit: OpeningLimit | None) -> str:
    if limit is None:
        return "none"
    text = f"at most {limit.count} in any {describe_window(limit.within)}"
    return text + (", one at a time" if limit.one_at_a_time else "")


def _suspension(suspension: Suspension | None) -> str:
    if suspension is None:
        return "none"
    text = f"reviewed every {_duration(suspension.review_every)}"
    if suspension.escalations:
        text += f", escalations {_escalations(suspension.escalations)}"
    return text


def _appeal(appeal: AppealRight | None) -> str:
    if appeal is None:
        return "none"
    return f"as a '{appeal.case_type}' case within {_duration(appeal.within)} of closure"


def _field(field: DataField) -> str:
    text = f"'{field.label}' ({field.type}"
    if field.choices:
        text += f": {_list(field.choices)}"
    if field.when:
        text += f", {field.when}"
    return text + ")"


def _field_changes(old: dict[str, DataField], new: dict[str, DataField]) -> list[str]:
    return _keyed_changes(
        old,
        new,
        lambda key, field: f"New field '{key}': {_field(field)}.",
        lambda key, before, after: f"Field '{key}': {_field(after)} (was {_field(before)}).",
        lambda key, _: f"Field '{key}' removed.",
    )


def _letter_changes(old: Letters, new: Letters) -> list[str]:
    changes = _keyed_changes(
        {template.key: template for template in old.templates},
        {template.key: template for template in new.templates},
        lambda _, template: f"New letter '{template.name}' ({template.file}).",
        lambda _, before, after: f"Letter '{after.name}': its template or where it is offered.",
        lambda _, template: f"Letter '{template.name}' removed.",
    )
    rest = set(Letters.model_fields) - {"templates"}
    if old.model_dump(include=rest) != new.model_dump(include=rest):
        changes.append("The dates letters give (appeal window, decision period, warnings).")
    return changes


def _trigger_changes(old: Triggers | None, new: Triggers | None) -> list[str]:
    changes = []
    for name in Triggers.model_fields:
        before = getattr(old, name) if old else None
        after = getattr(new, name) if new else None
        if before != after:
            changes.append(
                f"Attendance trigger '{name}': {_trigger(after)} (was {_trigger(before)})."
            )
    return changes


def _stage_changes(old: Stage, new: Stage) -> list[str]:
    where = f"Stage '{new.key}'"
    changes = []
    if old.name != new.name:
        changes.append(f"{where}: renamed from '{old.name}' to '{new.name}'.")
    if old.due != new.due:
        changes.append(f"{where}: due after {_duration(new.due)} instead of {_duration(old.due)}.")
    if old.reminders != new.reminders:
        before = _list([_duration(r) for r in old.reminders])
        after = _list([_duration(r) for r in new.reminders])
        changes.append(f"{where}: reminders before the deadline {after} (were {before}).")
    if old.escalations != new.escalations:
        changes.append(
            f"{where}: escalations {_escalations(new.escalations)} "
            f"(were {_escalations(old.escalations)})."
        )
    if old.recurring != new.recurring:
        changes.append(
            f"{where}: recurring {_recurring(new.recurring)} (were {_recurring(old.recurring)})."
        )
    if old.waits_for_children != new.waits_for_children:
        waits = "waits" if new.waits_for_children else "no longer waits"
        changes.append(f"{where}: {waits} for the cases it opened to close.")
    if old.within_decision_period != new.within_decision_period:
        within = "within" if new.within_decision_period else "no longer held within"
        changes.append(f"{where}: deadline {within} the statutory decision period.")
    if old.moves_on != new.moves_on:
        changes.append(
            f"{where}: attendance moves the case {_moves_on(new.moves_on)} "
            f"(was {_moves_on(old.moves_on)})."
        )
    changes += _keyed_changes(
        {action.key: action for action in old.actions},
        {action.key: action for action in new.actions},
        lambda _, action: f"{where}: new step {_action(action)}.",
        lambda _, before, after: f"{where}: step {_action(after)} (was {_action(before)}).",
        lambda key, _: f"{where}: step '{key}' removed.",
    )
    return changes


def describe_changes(old: PolicyDefinition, new: PolicyDefinition) -> list[str]:
    """One sentence per change; an empty list when the two versions run cases alike."""
    changes = []
    if old.name != new.name:
        changes.append(f"Renamed from '{old.name}' to '{new.name}'.")
    if old.reference_prefix != new.reference_prefix:
        changes.append(
            f"New cases get references starting {new.reference_prefix} "
            f"instead of {old.reference_prefix}."
        )
    if old.target != new.target:
        changes.append(
            f"Whole-case target {_duration(new.target)} instead of {_duration(old.target)}."
        )
    if old.target_until != new.target_until:
        changes.append(
            f"The whole-case target runs until {_target_until(new.target_until)} "
            f"(was until {_target_until(old.target_until)})."
        )
    if old.decision_period != new.decision_period:
        changes.append(
            f"Statutory decision period {_decision_period(new.decision_period)} "
            f"(was {_decision_period(old.decision_period)})."
        )
    if old.opening_limit != new.opening_limit:
        changes.append(
            f"Opening limit {_opening_limit(new.opening_limit)} "
            f"(was {_opening_limit(old.opening_limit)})."
        )
    if old.suspension != new.suspension:
        changes.append(
            f"Suspension {_suspension(new.suspension)} (was {_suspension(old.suspension)})."
        )
    if old.appeal != new.appeal:
        changes.append(f"Appeals {_appeal(new.appeal)} (were {_appeal(old.appeal)}).")
    changes += _field_changes(old.fields, new.fields)
    changes += _letter_changes(old.letters, new.letters)
    if old.retention != new.retention:
        changes.append(
            f"Records kept {new.retention or 'without limit'} after closure "
            f"(were {old.retention or 'without limit'})."
        )
    if old.target_escalations != new.target_escalations:
        changes.append(
            f"Whole-case escalations {_escalations(new.target_escalations)} "
            f"(were {_escalations(old.target_escalations)})."
        )
    changes += _trigger_changes(old.triggers, new.triggers)
    old_stages = {stage.key: stage for stage in old.stages}
    new_stages = {stage.key: stage for stage in new.stages}
    for stage in new.stages:
        if stage.key not in old_stages:
            changes.append(
                f"New stage '{stage.key}' ({stage.name}), due after {_duration(stage.due)}."
            )
        else:
            changes += _stage_changes(old_stages[stage.key], stage)
    for stage in old.stages:
        if stage.key not in new_stages:
            changes.append(f"Stage '{stage.key}' ({stage.name}) removed.")
    common_old = [key for key in old_stages if key in new_stages]
    common_new = [key for key in new_stages if key in old_stages]
    if common_old != common_new:
        changes.append(f"Stages reordered: {' → '.join(common_new)}.")
    if old.description != new.description:
        changes.append("Description changed.")
    return changes
