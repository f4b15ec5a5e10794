"""The shape of a case-type definition, and the checks that name the exact field that is wrong."""

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from policies.durations import Duration, parse_duration

CLOSED = "closed"
"""The stage key an action leads to when it ends the case."""

Role = Literal["advisor", "manager", "hr_director", "line_manager"]


def _check_duration(value: str | dict[str, Any]) -> str | dict[str, Any]:
    parse_duration(value)
    return value


DurationSpec = Annotated[str | dict[str, Any], AfterValidator(_check_duration)]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Escalation(_Strict):
    after: DurationSpec
    notify: list[Role] = Field(min_length=1)


class Notice(_Strict):
    """A date in the action's data that must lie at least this far ahead (e.g. hearing notice)."""

    field: Key
    at_least: DurationSpec


class Action(_Strict):
    key: Key
    name: str | None = None
    to: Key
    requires: list[Key] = []
    notice: Notice | None = None

    @property
    def label(self) -> str:
        return self.name or self.key.replace("_", " ").capitalize()


class Stage(_Strict):
    key: Key
    name: str = Field(min_length=1)
    due: DurationSpec | None = None
    reminders: list[DurationSpec] = []
    escalations: list[Escalation] = []
    actions: list[Action] = Field(min_length=1)

    def action(self, key: str) -> Action | None:
        return next((action for action in self.actions if action.key == key), None)


class PolicyDefinition(_Strict):
    case_type: Key
    name: str = Field(min_length=1)
    reference_prefix: str = Field(pattern=r"^[A-Z]{2,5}$")
    description: str = ""
    target: DurationSpec | None = None
    target_escalations: list[Escalation] = []
    stages: list[Stage] = Field(min_length=1)

    def stage(self, key: str) -> Stage:
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise KeyError(key)

    def has_stage(self, key: str) -> bool:
        return any(stage.key == key for stage in self.stages)


def duration(spec: str | dict[str, Any]) -> Duration:
    """The parsed form of a duration that the schema has already checked."""
    return parse_duration(spec)


@dataclass(frozen=True)
class PolicyError:
    path: str
    message: str


class PolicyInvalid(ValueError):
    def __init__(self, errors: list[PolicyError]):
        self.errors = errors
        super().__init__("; ".join(f"{error.path}: {error.message}" for error in errors))


def _path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("str", "dict[str,any]", "function-after[_check_duration(), union[str,dict[str,any]]]"):
            continue  # pydantic's names for union members, not fields a person wrote
        else:
            text += f".{part}" if text else str(part)
    return text or "(top)"


def _structure_errors(policy: PolicyDefinition) -> list[PolicyError]:
    """Checks across fields: keys unique, actions lead somewhere that exists."""
    errors: list[PolicyError] = []
    stage_keys = [stage.key for stage in policy.stages]
    for index, stage in enumerate(policy.stages):
        if stage.key == CLOSED:
            errors.append(PolicyError(f"stages[{index}].key", "'closed' is reserved for the end"))
        if stage_keys.index(stage.key) != index:
            errors.append(PolicyError(f"stages[{index}].key", f"duplicate stage key '{stage.key}'"))
        action_keys = [action.key for action in stage.actions]
        for action_index, action in enumerate(stage.actions):
            path = f"stages[{index}].actions[{action_index}]"
            if action_keys.index(action.key) != action_index:
                errors.append(PolicyError(f"{path}.key", f"duplicate action key '{action.key}'"))
            if action.to != CLOSED and action.to not in stage_keys:
                errors.append(
                    PolicyError(f"{path}.to", f"leads to unknown stage '{action.to}'")
                )
            if action.notice and action.notice.field not in action.requires:
                errors.append(
                    PolicyError(
                        f"{path}.notice.field",
                        f"'{action.notice.field}' must also be listed in requires",
                    )
                )
    return errors


def validate_policy(data: object) -> PolicyDefinition:
    """Check a parsed definition; raise PolicyInvalid listing every problem with its path."""
    if not isinstance(data, dict):
        raise PolicyInvalid([PolicyError("(top)", "a definition is a mapping of fields")])
    try:
        policy = PolicyDefinition.model_validate(data)
    except ValidationError as invalid:
        raise PolicyInvalid(
            [PolicyError(_path(error["loc"]), error["msg"]) for error in invalid.errors()]
        ) from None
    errors = _structure_errors(policy)
    if errors:
        raise PolicyInvalid(errors)
    return policy
