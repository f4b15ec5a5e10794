"""What changed between two versions of a definition, stage by stage, in a policy owner's words."""

from collections.abc import Mapping
from typing import Any

from policies.durations import describe
from policies.schema import (
    Action,
    AttendanceEventKind,
    BradfordTrigger,
    CountTrigger,
    Escalation,
    LongTermTrigger,
    PolicyDefinition,
    Recurring,
    Stage,
    Triggers,
    duration,
)


def _duration(spec: str | dict[str, Any] | None) -> str:
    return "none" if spec is None else describe(duration(spec))


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
    if old.moves_on != new.moves_on:
        changes.append(
            f"{where}: attendance moves the case {_moves_on(new.moves_on)} "
            f"(was {_moves_on(old.moves_on)})."
        )
    old_actions = {action.key: action for action in old.actions}
    new_actions = {action.key: action for action in new.actions}
    for key, action in new_actions.items():
        if key not in old_actions:
            changes.append(f"{where}: new step {_action(action)}.")
        elif old_actions[key] != action:
            changes.append(f"{where}: step {_action(action)} (was {_action(old_actions[key])}).")
    for key in old_actions.keys() - new_actions.keys():
        changes.append(f"{where}: step '{key}' removed.")
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
