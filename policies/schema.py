"""The shape of a case-type definition, and the checks that name the exact field that is wrong."""

import difflib
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import ErrorDetails

from policies.durations import Duration, as_timedelta, parse_duration
from policies.months import parse_months
from policies.retention import parse_retention

CLOSED = "closed"
"""The stage key an action leads to when it ends the case."""

Role = Literal["advisor", "manager", "hr_director", "line_manager"]


def _check_duration(value: object) -> str | dict[str, Any]:
    parse_duration(value)  # raises ValueError with a sentence for the policy owner
    assert isinstance(value, str | dict)
    return value


# One validator for the whole value (not a union of str and dict), so a wrong value gives one
# error, at the field's own path, in words about durations.
DurationSpec = Annotated[
    str | dict[str, Any],
    PlainValidator(_check_duration),
    WithJsonSchema(
        {
            "description": "ISO 8601 (P32D, P6W, PT30S) or {working_days: N}",
            "anyOf": [
                {"type": "string", "pattern": r"^P(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$"},
                {
                    "type": "object",
                    "properties": {"working_days": {"type": "integer", "minimum": 0}},
                    "required": ["working_days"],
                    "additionalProperties": False,
                },
            ],
        }
    ),
]


def _check_window(value: object) -> str | dict[str, Any]:
    """A rolling period: a duration, or whole calendar months or years (P12M, P1Y)."""
    if isinstance(value, str) and parse_months(value) is not None:
        return value
    try:
        parse_duration(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a rolling period; write calendar months or years (P12M, P1Y), "
            "or a duration (P365D, {working_days: N})"
        ) from None
    assert isinstance(value, str | dict)
    return value


# An opening limit's period: "any 12 months" is counted by calendar date (ERA 1996 s.80F(4)),
# so months and years are allowed here, unlike in clocks.
WindowSpec = Annotated[
    str | dict[str, Any],
    PlainValidator(_check_window),
    WithJsonSchema(
        {
            "description": "calendar months or years (P12M, P1Y), or a duration (P365D)",
            "anyOf": [
                {"type": "string", "pattern": r"^P(\d+Y)?(\d+M)?$"},
                {"type": "string", "pattern": r"^P(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$"},
                {
                    "type": "object",
                    "properties": {"working_days": {"type": "integer", "minimum": 0}},
                    "required": ["working_days"],
                    "additionalProperties": False,
                },
            ],
        }
    ),
]


def _check_retention(value: object) -> str:
    parse_retention(value)  # raises ValueError with a sentence for the policy owner
    assert isinstance(value, str)
    return value


RetentionSpec = Annotated[
    str,
    PlainValidator(_check_retention),
    WithJsonSchema(
        {
            "description": "ISO 8601 period after closure (P6Y, P7Y6M, P90D)",
            "type": "string",
            "pattern": r"^P(\d+Y)?(\d+M)?(\d+D)?$",
        }
    ),
]


def _check_period(value: object) -> str:
    try:
        parse_retention(value)
    except ValueError:
        raise ValueError(
            "this is an ISO 8601 period in years, months and days, e.g. P12M or P2M"
        ) from None
    assert isinstance(value, str)
    return value


# A calendar period (years, months, days), as retention is written: a warning's life, the
# statutory decision period. Clocks refuse months; dates in letters are written in them.
PeriodSpec = Annotated[
    str,
    PlainValidator(_check_period),
    WithJsonSchema(
        {
            "description": "ISO 8601 period in years, months and days (P12M, P2M, P1Y6M)",
            "type": "string",
            "pattern": r"^P(\d+Y)?(\d+M)?(\d+D)?$",
        }
    ),
]
KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
Key = Annotated[str, Field(pattern=KEY_PATTERN, max_length=60)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Escalation(_Strict):
    after: DurationSpec
    notify: list[Role] = Field(min_length=1)


class Notice(_Strict):
    """A date in the action's data that must lie at least this far ahead (e.g. hearing notice)."""

    field: Key
    at_least: DurationSpec


class DateLimit(_Strict):
    """A date in the step's data may lie at most `by` after a date an earlier step recorded.

    For example a hearing postponed because the companion cannot attend: no more than five
    working days after the date first set.
    """

    field: Key
    after: Key
    by: DurationSpec


class Action(_Strict):
    key: Key
    name: str | None = None
    to: Key
    requires: list[Key] = []
    notice: Notice | None = None
    latest: DateLimit | None = None
    # Taking this step also opens a linked case of this type (e.g. a separate investigation).
    opens: Key | None = None
    # ...at this stage of its policy (its first when not given): an investigation opened from a
    # step that already agreed the terms of reference starts at its interviews.
    opens_at: Key | None = None
    # The step keeps the case in its stage (`to` names the stage itself) with the stage's
    # clock running on from when the stage began: a postponed hearing is still the same hearing.
    keeps_clock: bool = False
    # How many times the step may be taken while the case is in the stage (one statutory
    # companion postponement per hearing, ERA 1999 s.10).
    at_most: int | None = Field(default=None, ge=1, le=100)
    # Taking this step records the employee's agreement to extend the decision period to the
    # date in this field (ERA 1996 s.80G(1B)(b)); the case stays in its stage.
    extends_decision_period: Key | None = None
    # Taking this step records that the stage's recurring item of this key was done (a welfare
    # contact made): its clock restarts from the day done, and the case stays in its stage
    # (`to` names the stage itself).
    records: Key | None = None

    @property
    def label(self) -> str:
        return self.name or self.key.replace("_", " ").capitalize()


class Recurring(_Strict):
    """Something due again and again while a case is in a stage (welfare contact every 2 weeks).

    The k-th falls due k times `every` after the case entered the stage, or after the day it
    was last recorded as done (by an action that `records` it; `done_on` names the date field of
    that action's data saying when); `notify` are told then. Each escalation goes once per
    occurrence left unrecorded `after` it fell due.
    """

    key: Key
    name: str = Field(min_length=1)
    every: DurationSpec
    notify: list[Role] = Field(min_length=1)
    done_on: Key | None = None
    escalations: list[Escalation] = []


AttendanceEventKind = Literal["trigger", "long_term", "returned"]


class Stage(_Strict):
    key: Key
    name: str = Field(min_length=1)
    due: DurationSpec | None = None
    reminders: list[DurationSpec] = []
    escalations: list[Escalation] = []
    # While a linked case this case opened is still open, no step of this stage can be taken.
    waits_for_children: bool = False
    recurring: list[Recurring] = []
    # Where the case moves when attendance monitoring reports an event while it is here.
    moves_on: dict[AttendanceEventKind, Key] = {}
    # The stage's deadline is no later than the end of the decision period (an appeal gets
    # what is left of the two months, ERA 1996 s.80G(1B)).
    within_decision_period: bool = False
    actions: list[Action] = Field(min_length=1)

    def action(self, key: str) -> Action | None:
        return next((action for action in self.actions if action.key == key), None)


FieldType = Literal["text", "long_text", "date", "choice"]


# A date either records something done (today at the latest) or plans something ahead (today
# at the earliest): a letter "sent" next June, or a hearing set for last week, is refused.
DateWhen = Literal["done", "planned"]


class DataField(_Strict):
    """A piece of data a step asks for: how forms label it and how the workflow checks it."""

    label: str = Field(min_length=1)
    type: FieldType = "text"
    choices: list[str] = []
    help: str = ""
    when: DateWhen | None = None

    @model_validator(mode="after")
    def _when_is_for_dates(self) -> "DataField":
        if self.when is not None and self.type != "date":
            raise ValueError("'when' (done or planned) is only for fields of type date")
        return self


class Suspension(_Strict):
    """Suspension (exclusion) from work while the case runs: reviewed on a clock of its own."""

    review_every: DurationSpec
    escalations: list[Escalation] = []


class AppealRight(_Strict):
    """A closed case may be appealed, as a linked case of `case_type`, within this time."""

    case_type: Key
    within: DurationSpec


class OpeningLimit(_Strict):
    """At most `count` cases of this type per employee within a rolling period; with
    `one_at_a_time`, none while an earlier one is still open (being dealt with)."""

    count: int = Field(ge=1)
    within: WindowSpec
    one_at_a_time: bool = False


class DecisionPeriod(_Strict):
    """A statutory period for the decision, in calendar months beginning with the day the case
    opened (the day the request was received); moved only by an extension the employee agrees
    to, never by a pause (ERA 1996 s.80G(1B))."""

    months: int = Field(ge=1, le=24)


class CountTrigger(_Strict):
    """At least `count` spells (or working days lost) within the rolling period `within`."""

    count: int = Field(ge=1, le=3660)
    within: DurationSpec
    opens_at: Key


class BradfordTrigger(_Strict):
    """A Bradford factor (spells squared times working days lost) of `score` or more."""

    score: int = Field(ge=1, le=10_000_000)
    within: DurationSpec
    opens_at: Key


class LongTermTrigger(_Strict):
    """One spell of absence reaching its `from_day`th calendar day."""

    from_day: int = Field(ge=1, le=3660)
    opens_at: Key


class Triggers(_Strict):
    """When attendance monitoring opens a case of this type (the sickness absence policy)."""

    episodes: CountTrigger | None = None
    days_lost: CountTrigger | None = None
    bradford: BradfordTrigger | None = None
    long_term: LongTermTrigger | None = None


TEMPLATE_FILE_PATTERN = r"^[a-z0-9_]+(/[a-z0-9_]+)*\.docx$"


class LetterTemplate(_Strict):
    """A letter the advisor may generate from the case: a DOCX template with placeholders.

    Offered while the case is in one of `stages`, or once the latest step taken was one of the
    actions in `after` (a letter that follows the step recording what it says, the case having
    moved on or closed).
    """

    key: Key
    name: str = Field(min_length=1)
    file: str = Field(pattern=TEMPLATE_FILE_PATTERN, max_length=200)
    stages: list[Key] = []
    after: list[Key] = []


class WarningPeriods(_Strict):
    """How long each warning stays live, by the choice of the field that records the sanction."""

    field: Key
    expire_after: dict[str, PeriodSpec] = Field(min_length=1)


class Letters(_Strict):
    """The letters of the case type and what ercase computes for them."""

    templates: list[LetterTemplate] = []
    # The stage whose clock is the employee's time to appeal (for a policy whose appeal is a
    # stage of the case rather than a linked case, `appeal`).
    appeal_window: Key | None = None
    # The statutory decision period, beginning with the day the case was opened (the request
    # received): the two months of a flexible working request.
    decision_period: PeriodSpec | None = None
    warnings: WarningPeriods | None = None

    def template(self, key: str) -> LetterTemplate | None:
        return next((template for template in self.templates if template.key == key), None)


class PolicyDefinition(_Strict):
    case_type: Key
    name: str = Field(min_length=1)
    reference_prefix: str = Field(pattern=r"^[A-Z]{2,5}$")
    description: str = ""
    target: DurationSpec | None = None
    # The stage whose start ends the target's span (from opening until the case first enters
    # it, e.g. the hearing arrangement: the investigation report is in); without it, closure.
    target_until: Key | None = None
    target_escalations: list[Escalation] = []
    decision_period: DecisionPeriod | None = None
    fields: dict[Key, DataField] = {}
    opening_limit: OpeningLimit | None = None
    suspension: Suspension | None = None
    appeal: AppealRight | None = None
    # How long after closure the case's personal data is kept before the purge destroys it.
    retention: RetentionSpec | None = None
    triggers: Triggers | None = None
    letters: Letters = Letters()
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


_NESTED: dict[str, type[BaseModel]] = {
    "stages": Stage,
    "actions": Action,
    "escalations": Escalation,
    "target_escalations": Escalation,
    "notice": Notice,
    "latest": DateLimit,
    "fields": DataField,
    "opening_limit": OpeningLimit,
    "decision_period": DecisionPeriod,
    "suspension": Suspension,
    "appeal": AppealRight,
    "recurring": Recurring,
    "triggers": Triggers,
    "episodes": CountTrigger,
    "days_lost": CountTrigger,
    "bradford": BradfordTrigger,
    "long_term": LongTermTrigger,
    "letters": Letters,
    "templates": LetterTemplate,
    "warnings": WarningPeriods,
}
"""The fields whose values (or list items) are themselves blocks of fields."""

_BLOCK_NAMES: dict[type[BaseModel], str] = {
    PolicyDefinition: "a definition",
    Stage: "a stage",
    Action: "an action",
    Escalation: "an escalation",
    Notice: "a notice",
    Letters: "the letters block",
    LetterTemplate: "a letter template",
}


def _model_at(location: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The block of fields that `location` points into, or None inside a plain value."""
    model: type[BaseModel] | None = PolicyDefinition
    for part in location:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _NESTED.get(part)
    return model


def _path(location: tuple[int | str, ...]) -> str:
    """A pydantic error location as the policy owner would point at it: `stages[2].due`.

    Inside a block of fields every name is kept (a field, or an unknown name the owner wrote);
    inside a plain value, names are pydantic's labels for union members (`str`,
    `function-after[...]`), not anything a person wrote, and are left out.
    """
    text = ""
    model: type[BaseModel] | None = PolicyDefinition
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        if model is None:
            continue
        text += f".{part}" if text else str(part)
        model = _NESTED.get(part) if part in model.model_fields else None
    return text or "(top)"


def _message(error: ErrorDetails) -> str:
    """pydantic's message for one error, in words for a policy owner."""
    kind = error["type"]
    context = error.get("ctx") or {}
    value = error.get("input")
    location = error["loc"]
    if kind == "value_error" and "error" in context:
        return str(context["error"])
    if kind == "missing":
        return "this field is required"
    if kind == "extra_forbidden":
        name = str(location[-1]) if location else ""
        model = _model_at(location[:-1])
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        known = f" (the fields here are: {', '.join(allowed)})" if allowed else ""
        what = _BLOCK_NAMES.get(model, "this block") if model else "this block"
        return f"'{name}' is not a field {what} can have{hint}{known}"
    if kind == "literal_error":
        if location and location[-1] == "[key]":
            events = ", ".join(get_args(AttendanceEventKind))
            return f"'{value}' is not an attendance event; use one of: {events}"
        return f"'{value}' is not a known role; use one of: {', '.join(get_args(Role))}"
    if kind == "string_pattern_mismatch":
        if context.get("pattern") == KEY_PATTERN:
            return (
                f"'{value}' is not a valid key: use lower-case letters, digits and "
                "underscores, starting with a letter (e.g. hearing_date)"
            )
        if context.get("pattern") == TEMPLATE_FILE_PATTERN:
            return (
                f"'{value}' is not a template file name: lower-case folders and a name ending "
                "in .docx (e.g. disciplinary/hearing_invitation.docx)"
            )
        return f"'{value}' is not valid here: use 2 to 5 capital letters (e.g. DIS)"
    if kind == "string_too_long":
        return f"this must be at most {context.get('max_length')} characters long"
    if kind == "string_too_short":
        return "this must not be empty"
    if kind == "too_short":
        return "this list must have at least one entry"
    if kind == "string_type":
        return "this must be text"
    if kind == "list_type":
        return "this must be a list: [a, b], or one '- item' line per entry"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "this must be a block of fields (key: value lines), not a single value"
    return error["msg"]


def _blocks(value: object) -> list[tuple[int, dict[str, Any]]]:
    """The entries of a list that are blocks of fields, with their positions (others skipped)."""
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, dict)]


def _text(block: dict[str, Any], field: str) -> str | None:
    value = block.get(field)
    return value if isinstance(value, str) else None


def _can_close(stages: list[tuple[int, dict[str, Any]]]) -> set[str]:
    """The keys of the stages from which some chain of actions may reach `closed`."""
    leads_to = {
        key: {_text(action, "to") for _, action in _blocks(stage.get("actions"))}
        for _, stage in stages
        if (key := _text(stage, "key")) is not None
    }
    closing = {CLOSED}
    changed = True
    while changed:
        changed = False
        for key, targets in leads_to.items():
            # A malformed or unknown target is reported on its own; don't pile on here.
            if key not in closing and any(t in closing or t not in leads_to for t in targets):
                closing.add(key)
                changed = True
    return closing


def _length_in_days(spec: object) -> float | None:
    """A duration's length in days, for comparing offsets; None when it cannot be read."""
    try:
        return as_timedelta(parse_duration(spec)).total_seconds() / 86400
    except ValueError:
        return None


def _reminders_before_start(stage: dict[str, Any], index: int) -> list[PolicyError]:
    """A reminder as long before the deadline as the stage is long would come before it starts."""
    due = _length_in_days(stage.get("due")) if stage.get("due") is not None else None
    reminders = stage.get("reminders")
    if due is None or not isinstance(reminders, list):
        return []
    return [
        PolicyError(
            f"stages[{index}].reminders[{reminder_index}]",
            "this reminder would fall before the stage starts; make it shorter than the "
            "stage's due",
        )
        for reminder_index, reminder in enumerate(reminders)
        if (before := _length_in_days(reminder)) is not None and before >= due
    ]


def _structure_errors(data: dict[str, Any]) -> list[PolicyError]:
    """Checks across fields: keys unique, actions lead somewhere that exists, cases can end.

    They read the raw definition, skipping whatever is malformed (the field checks report
    that), so a policy owner sees these problems together with any field problems.
    """
    errors: list[PolicyError] = []
    if data.get("target_escalations") and data.get("target") is None:
        errors.append(
            PolicyError(
                "target_escalations",
                "these escalations count from when the case target falls due; give a target",
            )
        )
    stages = _blocks(data.get("stages"))
    written = [key for _, stage in stages if (key := _text(stage, "key")) is not None]
    stage_keys = [key for key in dict.fromkeys(written) if key != CLOSED]
    closing = _can_close(stages)
    # A stage's own actions that stay in it (recording a welfare contact) do not reach it.
    reached = {
        to
        for _, stage in stages
        for _, action in _blocks(stage.get("actions"))
        if (to := _text(action, "to")) is not None and to != _text(stage, "key")
    }
    fields = data.get("fields")
    declared = set(fields) if isinstance(fields, dict) else set()
    for name, field in fields.items() if isinstance(fields, dict) else ():
        if isinstance(field, dict) and field.get("type") == "choice" and not field.get("choices"):
            errors.append(
                PolicyError(f"fields.{name}.choices", "a choice field needs its list of choices")
            )
    first_stage: dict[str, int] = {}
    for index, stage in stages:
        key = _text(stage, "key")
        if key == CLOSED:
            errors.append(
                PolicyError(
                    f"stages[{index}].key",
                    "'closed' is reserved for the end of a case; give this stage another key",
                )
            )
        elif key is not None and key in first_stage:
            errors.append(
                PolicyError(
                    f"stages[{index}].key",
                    f"duplicate stage key '{key}' (already used by stages[{first_stage[key]}])",
                )
            )
        elif key is not None:
            first_stage[key] = index
        if stage.get("due") is None:
            for field in ("reminders", "escalations"):
                if stage.get(field):
                    errors.append(
                        PolicyError(
                            f"stages[{index}].{field}",
                            f"{field} count from when the stage falls due; give the stage a due",
                        )
                    )
        first_action: dict[str, int] = {}
        for action_index, action in _blocks(stage.get("actions")):
            path = f"stages[{index}].actions[{action_index}]"
            action_key = _text(action, "key")
            if action_key is not None and action_key in first_action:
                errors.append(
                    PolicyError(
                        f"{path}.key",
                        f"duplicate action key '{action_key}' in this stage "
                        f"(already used by actions[{first_action[action_key]}])",
                    )
                )
            elif action_key is not None:
                first_action[action_key] = action_index
            to = _text(action, "to")
            if to is not None and to != CLOSED and to not in stage_keys:
                errors.append(
                    PolicyError(
                        f"{path}.to",
                        f"leads to unknown stage '{to}'; use one of the stage keys "
                        f"({', '.join(stage_keys)}) or '{CLOSED}'",
                    )
                )
            latest = action.get("latest")
            limited = _text(latest, "field") if isinstance(latest, dict) else None
            if limited is not None and limited not in (action.get("requires") or []):
                errors.append(
                    PolicyError(
                        f"{path}.latest.field",
                        f"'{limited}' must also be listed in requires, so the date is always given",
                    )
                )
            notice = action.get("notice")
            requires = action.get("requires")
            for require_index, required in enumerate(requires or []):
                if isinstance(required, str) and required not in declared:
                    errors.append(
                        PolicyError(
                            f"{path}.requires[{require_index}]",
                            f"'{required}' is not declared under fields; declare it there "
                            "with a label so forms can ask for it",
                        )
                    )
            dated = _text(notice, "field") if isinstance(notice, dict) else None
            if dated is not None and (not isinstance(requires, list) or dated not in requires):
                errors.append(
                    PolicyError(
                        f"{path}.notice.field",
                        f"'{dated}' must also be listed in requires, so the date is always given",
                    )
                )
        if key is not None and index > 0 and first_stage.get(key) == index and key not in reached:
            errors.append(
                PolicyError(
                    f"stages[{index}].key",
                    f"no action leads to stage '{key}', so no case could ever reach it",
                )
            )
        errors += _reminders_before_start(stage, index)
        errors += _unknown_stages(
            f"stages[{index}].moves_on", stage.get("moves_on"), stage_keys, "moves the case to"
        )
        for recurring_index, recurring in _blocks(stage.get("recurring")):
            if _length_in_days(recurring.get("every")) == 0:
                errors.append(
                    PolicyError(
                        f"stages[{index}].recurring[{recurring_index}].every",
                        "this must be longer than nothing",
                    )
                )
        errors += _recording_errors(stage, index, key)
        if key is not None and key != CLOSED and key not in closing:
            errors.append(
                PolicyError(
                    f"stages[{index}].actions",
                    f"a case in stage '{key}' could never be closed: no action leads, "
                    f"directly or through other stages, to '{CLOSED}'",
                )
            )
    errors += _trigger_errors(data.get("triggers"), stage_keys)
    errors += _span_errors(data, stages, stage_keys)
    errors += _letter_errors(data, stages, stage_keys)
    return errors


def _span_errors(
    data: dict[str, Any], stages: list[tuple[int, dict[str, Any]]], stage_keys: list[str]
) -> list[PolicyError]:
    """The target's span, the decision period and the steps that stay in their stage name
    what they need: a target, a stage, a date field, a decision period."""
    errors: list[PolicyError] = []
    until = _text(data, "target_until")
    if until is not None and data.get("target") is None:
        errors.append(PolicyError("target_until", "this ends the target's span; give a target"))
    elif until is not None and until not in stage_keys[1:]:
        errors.append(
            PolicyError(
                "target_until",
                f"'{until}' is not a later stage of this definition; name the stage whose start "
                f"ends the target's span (one of: {', '.join(stage_keys[1:]) or 'none'})",
            )
        )
    fields = data.get("fields") if isinstance(data.get("fields"), dict) else {}
    assert isinstance(fields, dict)
    has_period = data.get("decision_period") is not None
    for index, stage in stages:
        key = _text(stage, "key")
        if stage.get("within_decision_period") and not has_period:
            errors.append(
                PolicyError(
                    f"stages[{index}].within_decision_period",
                    "this ends the stage by the decision period; give a decision_period",
                )
            )
        for action_index, action in _blocks(stage.get("actions")):
            path = f"stages[{index}].actions[{action_index}]"
            stays = action.get("keeps_clock") or action.get("extends_decision_period")
            if stays and _text(action, "to") != key:
                errors.append(
                    PolicyError(f"{path}.to", f"this step stays in its stage: write to: {key}")
                )
            if action.get("opens_at") is not None and action.get("opens") is None:
                errors.append(
                    PolicyError(
                        f"{path}.opens_at", "the stage of the case this step opens; give opens"
                    )
                )
            extends = _text(action, "extends_decision_period")
            if extends is None:
                continue
            declared = fields.get(extends)
            if not has_period:
                errors.append(
                    PolicyError(
                        f"{path}.extends_decision_period",
                        "this extends the decision period; give a decision_period",
                    )
                )
            elif extends not in (action.get("requires") or []) or not (
                isinstance(declared, dict) and declared.get("type") == "date"
            ):
                errors.append(
                    PolicyError(
                        f"{path}.extends_decision_period",
                        f"'{extends}' must be a date field, listed in requires: the new end "
                        "of the decision period the employee agreed to",
                    )
                )
    return errors


def _letter_errors(
    data: dict[str, Any], stages: list[tuple[int, dict[str, Any]]], stage_keys: list[str]
) -> list[PolicyError]:
    """Letters are offered at stages and after actions that exist, each key once; the appeal
    window is a stage with a clock; warnings are the choices of a declared choice field."""
    letters = data.get("letters")
    if not isinstance(letters, dict):
        return []
    errors: list[PolicyError] = []
    action_keys = {
        key
        for _, stage in stages
        for _, action in _blocks(stage.get("actions"))
        if (key := _text(action, "key")) is not None
    }
    seen: dict[str, int] = {}
    for index, template in _blocks(letters.get("templates")):
        path = f"letters.templates[{index}]"
        key = _text(template, "key")
        if key is not None and key in seen:
            errors.append(
                PolicyError(
                    f"{path}.key",
                    f"duplicate letter key '{key}' (already used by templates[{seen[key]}])",
                )
            )
        elif key is not None:
            seen[key] = index
        for stage_index, stage in enumerate(template.get("stages") or []):
            if isinstance(stage, str) and stage not in stage_keys:
                errors.append(
                    PolicyError(
                        f"{path}.stages[{stage_index}]",
                        f"unknown stage '{stage}'; use one of the stage keys "
                        f"({', '.join(stage_keys)})",
                    )
                )
        for action_index, action in enumerate(template.get("after") or []):
            if isinstance(action, str) and action not in action_keys:
                errors.append(
                    PolicyError(
                        f"{path}.after[{action_index}]",
                        f"'{action}' is not the key of any action of this definition",
                    )
                )
        if not template.get("stages") and not template.get("after"):
            errors.append(
                PolicyError(
                    path, "a letter is offered at some stages or after some actions; name them"
                )
            )
    window = _text(letters, "appeal_window")
    if window is not None:
        stage = next((s for _, s in stages if _text(s, "key") == window), None)
        if stage is None:
            errors.append(
                PolicyError(
                    "letters.appeal_window",
                    f"unknown stage '{window}'; use one of the stage keys "
                    f"({', '.join(stage_keys)})",
                )
            )
        elif stage.get("due") is None:
            errors.append(
                PolicyError(
                    "letters.appeal_window",
                    f"stage '{window}' has no due, so it gives no time to appeal",
                )
            )
    errors += _warning_errors(data.get("fields"), letters.get("warnings"))
    return errors


def _warning_errors(fields: object, warnings: object) -> list[PolicyError]:
    if not isinstance(warnings, dict) or not isinstance(fields, dict):
        return []
    name = _text(warnings, "field")
    field = fields.get(name) if name is not None else None
    if name is not None and (not isinstance(field, dict) or field.get("type") != "choice"):
        return [
            PolicyError(
                "letters.warnings.field",
                f"'{name}' is not a choice field declared under fields",
            )
        ]
    choices = field.get("choices") if isinstance(field, dict) else None
    periods = warnings.get("expire_after")
    if not isinstance(choices, list) or not isinstance(periods, dict):
        return []
    return [
        PolicyError(
            f"letters.warnings.expire_after.{choice}",
            f"'{choice}' is not one of the choices of '{name}' ({', '.join(map(str, choices))})",
        )
        for choice in periods
        if choice not in choices
    ]


def _recording_errors(stage: dict[str, Any], index: int, key: str | None) -> list[PolicyError]:
    """An action that records a recurring item names one of its stage's items, stays in the
    stage, and asks for the date that restarts the item's clock."""
    items = {_text(recurring, "key"): recurring for _, recurring in _blocks(stage.get("recurring"))}
    errors: list[PolicyError] = []
    for action_index, action in _blocks(stage.get("actions")):
        recorded = _text(action, "records")
        if recorded is None:
            continue
        path = f"stages[{index}].actions[{action_index}]"
        if recorded not in items:
            known = ", ".join(str(item) for item in items if item) or "none"
            errors.append(
                PolicyError(
                    f"{path}.records",
                    f"'{recorded}' is not a recurring item of this stage (its items: {known})",
                )
            )
            continue
        if _text(action, "to") != key:
            errors.append(
                PolicyError(
                    f"{path}.to", f"an action that records '{recorded}' stays in stage '{key}'"
                )
            )
        done_on = _text(items[recorded], "done_on")
        requires = action.get("requires")
        if done_on is not None and (not isinstance(requires, list) or done_on not in requires):
            errors.append(
                PolicyError(
                    f"{path}.requires",
                    f"must list '{done_on}', the date that restarts the '{recorded}' clock",
                )
            )
    return errors


def _unknown_stages(
    path: str, targets: object, stage_keys: list[str], verb: str
) -> list[PolicyError]:
    """Each value of a {name: stage key} block must name a stage of the definition."""
    if not isinstance(targets, dict):
        return []
    return [
        PolicyError(
            f"{path}.{name}",
            f"{verb} unknown stage '{target}'; use one of the stage keys ({', '.join(stage_keys)})",
        )
        for name, target in targets.items()
        if isinstance(target, str) and target not in stage_keys
    ]


def _trigger_errors(triggers: object, stage_keys: list[str]) -> list[PolicyError]:
    """Each trigger opens a case at a stage that exists, over a window longer than nothing."""
    if not isinstance(triggers, dict):
        return []
    errors: list[PolicyError] = []
    for name, trigger in triggers.items():
        if not isinstance(trigger, dict):
            continue
        errors += _unknown_stages(
            f"triggers.{name}", {"opens_at": trigger.get("opens_at")}, stage_keys, "opens at"
        )
        if "within" in trigger and _length_in_days(trigger["within"]) == 0:
            errors.append(
                PolicyError(
                    f"triggers.{name}.within", "a rolling period must be longer than nothing"
                )
            )
    return errors


def validate_policy(data: object) -> PolicyDefinition:
    """Check a parsed definition; raise PolicyInvalid listing every problem with its path."""
    if not isinstance(data, dict):
        raise PolicyInvalid(
            [PolicyError("(top)", "a definition is a block of fields (case_type:, name:, ...)")]
        )
    errors: list[PolicyError] = []
    policy: PolicyDefinition | None = None
    try:
        policy = PolicyDefinition.model_validate(data)
    except ValidationError as invalid:
        errors = [PolicyError(_path(error["loc"]), _message(error)) for error in invalid.errors()]
    reported = {error.path for error in errors}
    errors += [error for error in _structure_errors(data) if error.path not in reported]
    if errors or policy is None:
        raise PolicyInvalid(errors)
    return policy


def policy_json_schema() -> dict[str, Any]:
    """The definition format as JSON Schema, so an editor can check a file as it is typed.

    Durations show as text or {working_days: N}; the checks across fields (stages that
    exist, cases that can close) only `ercase policy validate` makes.
    """
    schema = PolicyDefinition.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ercase case-type definition"
    return schema
