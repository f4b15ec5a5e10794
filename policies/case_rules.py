"""What a step, a pause, a resume, a suspension step or a policy move may do now.

Each check raises `Refusal` (with the message the advisor sees) or returns. Pure functions
of the case state, its policy, the request's values and `now`: the workflow runs them in its
update validators (a refusal enters no history) and again in the handlers (the state may
have moved while the step waited), turning a Refusal into an ApplicationError.
"""

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from policies.calendar import LONDON, add_working_days, due_instant
from policies.case_clock import decision_due, midday
from policies.case_state import SUSPENSION_STEPS, CaseState
from policies.durations import Duration, WorkingDays, as_timedelta, describe
from policies.schema import CLOSED, Action, DateLimit, PolicyDefinition, Recurring, Stage, duration

# The kinds of refusal; the API maps them to statuses.
NOT_ALLOWED = "NotAllowed"  # 409: not possible in the case's current state
INVALID_DATA = "InvalidData"  # 422: required data missing or wrong


class Refusal(Exception):
    """The step is refused: `message` says why, `kind` is NOT_ALLOWED or INVALID_DATA."""

    def __init__(self, message: str, kind: str = NOT_ALLOWED) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def check_open(state: CaseState) -> None:
    if state.status == "closed":
        raise Refusal("The case is closed; nothing more can be done in it.")


def check_action(
    state: CaseState,
    policy: PolicyDefinition,
    key: str,
    data: dict[str, Any],
    now: datetime,
    runnable: Collection[str],
) -> Action:
    """The stage's action `key` with `data` may be taken now; `runnable`: the case types a
    step may open. Returns the action."""
    check_open(state)
    if state.status == "paused":
        raise Refusal("The case is paused; resume it before taking the next step.")
    stage = policy.stage(state.stage_key)
    action = stage.action(key)
    if action is None:
        allowed = ", ".join(a.key for a in stage.actions)
        raise Refusal(f"'{key}' is not a step of the stage '{stage.name}'. Allowed now: {allowed}.")
    _check_children(state, stage, action, runnable)
    missing = [name for name in action.requires if _blank(data.get(name))]
    if missing:
        raise Refusal(f"'{action.label}' needs: {', '.join(missing)}.", INVALID_DATA)
    _check_declared_types(policy, data)
    if action.records is not None:
        _check_recording(state, stage, action.records, data, now)
    _check_when(policy, data, now.astimezone(LONDON).date())
    if action.notice:
        _check_notice(
            data[action.notice.field],
            action.notice.field,
            duration(action.notice.at_least),
            now,
            state.holiday_region,
        )
    if action.latest:
        _check_latest(state, data[action.latest.field], action.latest)
    if action.at_most is not None and state.taken_in_stage.get(key, 0) >= action.at_most:
        times = "once" if action.at_most == 1 else f"{action.at_most} times"
        raise Refusal(f"'{action.label}' may be taken only {times} in this stage.")
    if action.extends_decision_period is not None:
        _check_extension(state, policy, data[action.extends_decision_period], now)
    return action


def check_pause(state: CaseState, reason: str) -> None:
    check_open(state)
    if state.status == "paused":
        raise Refusal("The case is already paused.")
    if not reason.strip():
        raise Refusal("Give a reason for pausing the clock.", INVALID_DATA)


def check_resume(state: CaseState) -> None:
    check_open(state)
    if state.status != "paused":
        raise Refusal("The case is not paused.")


def check_suspension(state: CaseState, policy: PolicyDefinition, step: str, note: str) -> None:
    check_open(state)
    if policy.suspension is None:
        raise Refusal(f"The {policy.name} policy has no suspension from work.")
    if step not in SUSPENSION_STEPS:
        raise Refusal(f"'{step}' is not a suspension step.", INVALID_DATA)
    if step == "suspend" and state.suspended_since is not None:
        raise Refusal("The employee is already suspended.")
    if step != "suspend" and state.suspended_since is None:
        raise Refusal("The employee is not suspended.")
    if step != "lift" and not note.strip():
        wanted = "the reason for the suspension" if step == "suspend" else "a note"
        raise Refusal(f"Give {wanted}.", INVALID_DATA)


def check_policy_change(
    state: CaseState,
    policy: PolicyDefinition,
    version: int,
    new_policy: PolicyDefinition,
    new_version: int,
) -> None:
    check_open(state)
    if new_policy.case_type != policy.case_type:
        raise Refusal(f"Version {new_version} is for another case type.")
    if new_version <= version:
        raise Refusal(f"The case already follows version {version}.")
    if not new_policy.has_stage(state.stage_key):
        raise Refusal(
            f"The case is in stage '{state.stage_key}', which version "
            f"{new_version} does not have; finish or move the stage first."
        )


def extend_decision_period(
    state: CaseState, policy: PolicyDefinition, field: str, data: dict[str, Any]
) -> dict[str, Any]:
    """The employee agreed to extend the decision period to the day in `field` (checked by
    check_action). Returns the detail the timeline records."""
    until = _iso_date(data[field])
    assert until is not None, "checked by check_action"
    before = decision_due(state, policy)
    state.decision_extended_to = until
    after = decision_due(state, policy)
    assert before is not None and after is not None
    return {"from": before.isoformat(), "to": after.isoformat()}


def record_recurring(
    state: CaseState, policy: PolicyDefinition, key: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The item was done: its clock restarts from that day (the step's day if no date).
    Returns the detail the timeline records."""
    spec = _recurring_spec(policy.stage(state.stage_key), key)
    done_on = _iso_date(data.get(spec.done_on)) if spec.done_on else None
    day = done_on or now.astimezone(LONDON).date()
    times, _ = state.recurring_done.get(key, (0, day))
    state.recurring_done[key] = (times + 1, day)
    next_due = due_instant(midday(day), duration(spec.every), state.holiday_region)
    return {
        "item": key,
        "name": spec.name,
        "done_on": day.isoformat(),
        "next_due": next_due.isoformat(),
    }


def _check_extension(
    state: CaseState, policy: PolicyDefinition, value: object, now: datetime
) -> None:
    """An agreed extension makes the decision period longer, to a day not yet past."""
    until = _iso_date(value)
    if until is None:
        raise Refusal("The agreed end of the decision period must be a date.", INVALID_DATA)
    current = decision_due(state, policy)
    assert current is not None, "the policy's checks require a decision period"
    ends = current.astimezone(LONDON).date()
    if until <= ends:
        raise Refusal(
            f"An extension must end after the decision period does now ({ends.isoformat()}).",
            INVALID_DATA,
        )
    if until < now.astimezone(LONDON).date():
        raise Refusal(f"{until.isoformat()} is already past.", INVALID_DATA)


def _check_children(
    state: CaseState, stage: Stage, action: Action, runnable: Collection[str]
) -> None:
    """A case waits for, and cannot close before, the linked cases it opened."""
    waiting = ", ".join(state.children)
    if state.children and stage.waits_for_children:
        raise Refusal(f"This stage waits for {waiting} to close before the next step.")
    if state.suspended_since is not None and action.to == CLOSED:
        raise Refusal("Lift the suspension before the case closes.")
    if state.children and action.to == CLOSED:
        raise Refusal(f"The case cannot close while {waiting} is still open.")
    if action.opens and action.opens not in runnable:
        raise Refusal(f"This step opens a '{action.opens}' case, which ercase cannot run.")


def _check_declared_types(policy: PolicyDefinition, data: dict[str, Any]) -> None:
    """Dates must be dates and choices one of the policy's choices, as the policy declares."""
    for key, value in data.items():
        declared = policy.fields.get(key)
        if declared is None or _blank(value):
            continue
        if declared.type == "date" and _iso_date(value) is None:
            raise Refusal(f"{key} must be a date such as 2026-12-01.", INVALID_DATA)
        if declared.type == "choice" and value not in declared.choices:
            raise Refusal(f"{key} must be one of: {', '.join(declared.choices)}.", INVALID_DATA)


def _check_when(policy: PolicyDefinition, data: dict[str, Any], today: date) -> None:
    """A date that records something done is not after today; one that plans something is not
    before it (London's today). Only where the policy says which (`when`)."""
    for key, value in data.items():
        declared = policy.fields.get(key)
        day = _iso_date(value)
        if declared is None or declared.when is None or day is None:
            continue
        if declared.when == "done" and day > today:
            raise Refusal(
                f"{declared.label} records something already done, so it cannot be in "
                f"the future: give today ({today.isoformat()}) or an earlier day.",
                INVALID_DATA,
            )
        if declared.when == "planned" and day < today:
            raise Refusal(
                f"{declared.label} plans something ahead, so it cannot be in the past: "
                f"give today ({today.isoformat()}) or a later day.",
                INVALID_DATA,
            )


def _check_recording(
    state: CaseState, stage: Stage, item_key: str, data: dict[str, Any], now: datetime
) -> None:
    """The day a recurring item was done: not ahead, not before the stage or the last one."""
    spec = _recurring_spec(stage, item_key)
    if spec.done_on is None:
        return
    done_on = _iso_date(data.get(spec.done_on))
    if done_on is None:
        raise Refusal(f"{spec.done_on} must be a date such as 2026-12-01.", INVALID_DATA)
    if done_on > now.astimezone(LONDON).date():
        raise Refusal(f"{spec.done_on} {done_on.isoformat()} is in the future.", INVALID_DATA)
    earliest = state.stage_started_at.astimezone(LONDON).date()
    _, last = state.recurring_done.get(item_key, (0, earliest))
    if done_on < max(earliest, last):
        raise Refusal(
            f"{spec.done_on} may not be before {max(earliest, last).isoformat()} (the start "
            f"of this stage or the last {spec.name.lower()} recorded).",
            INVALID_DATA,
        )


def _check_notice(
    value: object, field: str, at_least: Duration, now: datetime, region: str
) -> None:
    # The whole value must be an ISO date or date-time (text): not a number, nor a date
    # with something else after it.
    when = _iso_date(value)
    if when is None:
        raise Refusal(f"{field} must be a date such as 2026-12-01.", INVALID_DATA)
    earliest = _after(now.astimezone(LONDON).date(), at_least, region)
    if when < earliest:
        raise Refusal(
            f"{field} must give at least {describe(at_least)}' notice: "
            f"{earliest.isoformat()} or later.",
            INVALID_DATA,
        )


def _check_latest(state: CaseState, value: object, limit: DateLimit) -> None:
    earlier = _iso_date(state.data.get(limit.after))
    if earlier is None:
        raise Refusal(f"No {limit.after} has been recorded yet, so this step cannot be taken.")
    when = _iso_date(value)
    if when is None:
        raise Refusal(f"{limit.field} must be a date such as 2026-12-01.", INVALID_DATA)
    by = duration(limit.by)
    last = _after(earlier, by, state.holiday_region)
    if when > last:
        raise Refusal(
            f"{limit.field} may be at most {describe(by)} after {earlier.isoformat()}: "
            f"{last.isoformat()} or earlier.",
            INVALID_DATA,
        )


def _after(day: date, span: Duration, region: str) -> date:
    """The day `span` after `day`: working days skip weekends and the region's bank holidays."""
    if isinstance(span, WorkingDays):
        return add_working_days(day, span.days, region)
    return day + as_timedelta(span)


def _recurring_spec(stage: Stage, key: str) -> Recurring:
    spec = next((each for each in stage.recurring if each.key == key), None)
    if spec is None:  # the policy's own checks make this impossible for a published policy
        raise Refusal(f"The stage '{stage.name}' has no recurring item '{key}'.")
    return spec


def _iso_date(value: object) -> date | None:
    """The date an ISO date or date-time text names; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.strip()).date()
    except ValueError:
        return None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
