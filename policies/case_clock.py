"""The case clock: what falls due when, and what is owed when it does.

Pure functions of the case state, its policy and an instant, so the workflow replays them
deterministically and tests check them against dates worked out by hand. The rules:

- A stage with `due` falls due that long after the stage started, plus the time the case
  was paused since; the whole case's `target` the same from the day it opened, until its
  span ends (the case enters `target_until`, or closes).
- A statutory decision period (`decision_period`) ends on a date no pause moves, only an
  extension the employee agreed to; a stage `within_decision_period` falls due by then.
- A stage's reminders come that long before its deadline, if that is after the stage began;
  a reminder for a deadline already passed is not sent. The deadline itself is a breach,
  and each escalation comes its `after` past the deadline.
- While a case is paused or closed its stage and target clocks stand still; a suspension's
  review clock runs whenever the employee is suspended and the case is not closed.
- A recurring item (welfare contact) falls due every `every` from the stage's start, or
  from the day it was last recorded; its escalations come `after` each occurrence.
- Every item has a key and fires once: `state.done` holds the keys that have fired.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal

from policies.calendar import LONDON, due_instant, paused_between
from policies.case_state import CaseState
from policies.durations import CalendarDays, Duration, Exact, WorkingDays, as_timedelta
from policies.months import period_ends
from policies.schema import Escalation, PolicyDefinition, Stage, duration

ClockKind = Literal[
    "reminder",
    "stage_breach",
    "target_breach",
    "escalation",
    "recurring",
    "recurring_escalation",
    "suspension_review",
    "suspension_escalation",
]


@dataclass(frozen=True)
class ClockItem:
    """Something the clock will do at an instant: remind, mark a breach, or escalate."""

    key: str
    at: datetime
    kind: ClockKind
    roles: tuple[str, ...] = ()
    level: int = 0
    about_target: bool = False
    label: str = ""  # a recurring item's name, e.g. "Welfare contact"
    due_at: datetime | None = None  # a recurring item's escalation: when the item fell due


@dataclass(frozen=True)
class Notice:
    """Mail a fired item owes: to whom, about what, and with which deadline."""

    event_key: str
    kind: str  # the mail's template: reminder | breach | escalation | suspension_review | ...
    roles: list[str]
    subject_stage: str
    due_at: datetime | None
    level: int = 0
    stage_key: str | None = None


@dataclass(frozen=True)
class Announcement:
    """What firing an item puts on the case's timeline, and the mail it owes (if any)."""

    event: str
    detail: dict[str, Any]
    notice: Notice | None = None


def midday(day: date) -> datetime:
    """A day as an instant inside it (London), for clocks counted in days from that day."""
    return datetime.combine(day, time(12), tzinfo=LONDON)


def stage_due(state: CaseState, policy: PolicyDefinition, now: datetime) -> datetime | None:
    """The stage's deadline, moved by pauses; a stage `within_decision_period` falls due by
    the end of the decision period at the latest (an appeal gets what is left of it)."""
    stage = policy.stage(state.stage_key)
    if stage.due is None:
        return None
    base = due_instant(state.stage_started_at, duration(stage.due), state.holiday_region)
    due = base + paused_between(state.pauses, state.stage_started_at, now)
    decision = decision_due(state, policy)
    if stage.within_decision_period and decision is not None:
        return min(due, decision)
    return due


def case_due(state: CaseState, policy: PolicyDefinition, now: datetime) -> datetime | None:
    """The whole case's target, moved by pauses until its span ended (`target_until`)."""
    if policy.target is None:
        return None
    base = due_instant(state.opened_at, duration(policy.target), state.holiday_region)
    until = now if state.target_met_at is None else min(now, state.target_met_at)
    return base + paused_between(state.pauses, state.opened_at, until)


def starting_state(
    policy: PolicyDefinition,
    *,
    opened_at: datetime,
    stage_key: str | None,
    stage_started_at: datetime | None,
    advisor: str,
    holiday_region: str,
) -> CaseState:
    """The state a case starts from (its workflow's, and the import preview's): at its first
    stage, or at the stage it was brought in at, with its real start dates."""
    state = CaseState(
        opened_at=opened_at,
        stage_key=stage_key or policy.stages[0].key,
        stage_started_at=stage_started_at or opened_at,
        advisor=advisor,
        holiday_region=holiday_region,
    )
    if past_target_span(state, policy):
        # Brought in beyond the end of its target's span: the span ended by the time it
        # reached its stage.
        state.target_met_at = state.stage_started_at
    return state


def past_target_span(state: CaseState, policy: PolicyDefinition) -> bool:
    """Whether the case's stage is the one that ends the target's span, or one after it in
    the order the policy writes them (for a case that starts there, brought in under way)."""
    if policy.target_until is None:
        return False
    keys = [stage.key for stage in policy.stages]
    return keys.index(state.stage_key) >= keys.index(policy.target_until)


def decision_due(state: CaseState, policy: PolicyDefinition) -> datetime | None:
    """The end (23:59:59 London) of the statutory decision period: `months` beginning with
    the day the case opened (the day the request was received), or the later day the
    employee agreed to. Pauses do not move it (ERA 1996 s.80G(1B))."""
    if policy.decision_period is None:
        return None
    received = state.opened_at.astimezone(LONDON).date()
    last = state.decision_extended_to or period_ends(received, policy.decision_period.months)
    return due_instant(midday(last), CalendarDays(0))


def suspension_review_due(state: CaseState, policy: PolicyDefinition) -> datetime | None:
    if state.suspended_since is None or policy.suspension is None:
        return None
    since = state.last_review or state.suspended_since
    return due_instant(since, duration(policy.suspension.review_every), state.holiday_region)


def breached(state: CaseState, policy: PolicyDefinition, now: datetime) -> bool:
    """Whether a deadline has passed: the stage's or the whole case's, as they stand now."""
    if state.status == "closed":
        return any(key.endswith("breach") for key in state.done)
    # The clock is stopped: a breach stands only if it happened before the pause.
    by = state.pauses[-1][0] if state.status == "paused" else now
    stage_deadline, target = stage_due(state, policy, now), case_due(state, policy, now)
    # A target whose span has ended was met or missed when it ended.
    target_by = by if state.target_met_at is None else min(by, state.target_met_at)
    return (stage_deadline is not None and stage_deadline < by) or (
        target is not None and target < target_by
    )


def clock_items(state: CaseState, policy: PolicyDefinition, now: datetime) -> list[ClockItem]:
    """Everything the clock will do from the current state; stage clocks stop when paused."""
    items = _suspension_items(state, policy)
    if state.status != "open":
        return [item for item in items if item.key not in state.done]
    stage = policy.stage(state.stage_key)
    due = stage_due(state, policy, now)
    prefix = f"stage{state.stage_visit}:{stage.key}"
    if due is not None:
        for index, spec in enumerate(stage.reminders):
            at = due - as_timedelta(duration(spec))
            if at > state.stage_started_at:
                items.append(ClockItem(f"{prefix}:reminder:{index}", at, "reminder", ("advisor",)))
        items.append(ClockItem(f"{prefix}:breach", due, "stage_breach"))
        items += _escalations(prefix, due, stage.escalations, about_target=False)
    items += _recurring_items(state, stage, prefix)
    target = case_due(state, policy, now)
    if target is not None and state.target_met_at is None:
        items.append(ClockItem("target:breach", target, "target_breach"))
        items += _escalations("target", target, policy.target_escalations, about_target=True)
    return [item for item in items if item.key not in state.done]


def next_instant(state: CaseState, policy: PolicyDefinition, now: datetime) -> datetime | None:
    """When the clock next has something to do; None when nothing is pending."""
    return min((item.at for item in clock_items(state, policy, now)), default=None)


def due_items(state: CaseState, policy: PolicyDefinition, now: datetime) -> list[ClockItem]:
    """The items due by `now`, earliest first."""
    due = (item for item in clock_items(state, policy, now) if item.at <= now)
    return sorted(due, key=lambda item: item.at)


def announcement(
    item: ClockItem, state: CaseState, policy: PolicyDefinition, now: datetime
) -> Announcement | None:
    """What firing `item` at `now` records and mails; None when it is owed nobody."""
    return _ANNOUNCERS[item.kind](item, state, policy, now)


def assigned_notice(
    state: CaseState, policy: PolicyDefinition, now: datetime, event_key: str
) -> Notice:
    """The mail telling a newly assigned advisor of the case and its nearest deadline."""
    stage_deadline = stage_due(state, policy, now)
    return Notice(
        event_key=event_key,
        kind="assigned",
        roles=["advisor"],
        subject_stage=policy.stage(state.stage_key).name if stage_deadline else "whole case",
        due_at=stage_deadline or case_due(state, policy, now),
        stage_key=state.stage_key,
    )


def _deadline(
    item: ClockItem, state: CaseState, policy: PolicyDefinition, now: datetime
) -> Announcement | None:
    """A stage's or the whole case's reminder or escalation (level 0 mails as the breach)."""
    stage_deadline = stage_due(state, policy, now)
    if item.kind == "reminder" and stage_deadline is not None and stage_deadline <= now:
        return None  # a reminder for a deadline already passed helps nobody
    deadline = case_due(state, policy, now) if item.about_target else stage_deadline
    assert deadline is not None, "the item was made from this deadline"
    mail = "breach" if item.kind == "escalation" and item.level == 0 else item.kind
    about = "whole case" if item.about_target else policy.stage(state.stage_key).name
    return Announcement(
        item.kind,
        {"key": item.key, "roles": list(item.roles), "due_at": deadline.isoformat()},
        Notice(
            item.key,
            mail,
            list(item.roles),
            about,
            deadline,
            item.level,
            None if item.about_target else state.stage_key,
        ),
    )


def _breach(
    item: ClockItem, state: CaseState, policy: PolicyDefinition, now: datetime
) -> Announcement:
    """A deadline passed: on the timeline only (its escalations do the telling)."""
    return Announcement(item.kind, {"due_at": item.at.isoformat()})


def _suspension(
    item: ClockItem, state: CaseState, policy: PolicyDefinition, now: datetime
) -> Announcement:
    """The review fell due (mail the advisor), or was missed by so long (escalate)."""
    review_due = suspension_review_due(state, policy)
    assert review_due is not None, "the item was made from this review"
    missed = item.kind == "suspension_escalation"
    return Announcement(
        "suspension_escalated" if missed else "suspension_review_due",
        {"key": item.key, "roles": list(item.roles), "due_at": review_due.isoformat()},
        Notice(
            item.key,
            "escalation" if missed else "suspension_review",
            list(item.roles),
            "suspension review",
            review_due,
            item.level + 1 if missed else 0,
        ),
    )


def _recurring(
    item: ClockItem, state: CaseState, policy: PolicyDefinition, now: datetime
) -> Announcement:
    """A recurring item fell due (the policy's roles are told), or was not recorded this long
    after it fell due: escalate, as the stage deadlines do (level 1 and up: the item falling
    due was its own reminder)."""
    missed = item.kind == "recurring_escalation"
    due_at = item.due_at if missed else item.at
    assert due_at is not None, "a recurring escalation carries when its item fell due"
    detail = {
        "key": item.key,
        "name": item.label,
        "roles": list(item.roles),
        "due_at": due_at.isoformat(),
    }
    return Announcement(
        "recurring_escalated" if missed else "recurring_due",
        detail,
        Notice(
            item.key,
            "escalation" if missed else "reminder",
            list(item.roles),
            item.label,
            due_at,
            item.level + 1 if missed else 0,
        ),
    )


_ANNOUNCERS: dict[
    ClockKind,
    Callable[[ClockItem, CaseState, PolicyDefinition, datetime], Announcement | None],
] = {
    "reminder": _deadline,
    "escalation": _deadline,
    "stage_breach": _breach,
    "target_breach": _breach,
    "recurring": _recurring,
    "recurring_escalation": _recurring,
    "suspension_review": _suspension,
    "suspension_escalation": _suspension,
}


def _suspension_items(state: CaseState, policy: PolicyDefinition) -> list[ClockItem]:
    """A suspension's review clock runs while the employee is out, paused case or not."""
    review_due = suspension_review_due(state, policy)
    if review_due is None or state.status == "closed":
        return []
    assert policy.suspension is not None, "suspension_review_due says there is one"
    prefix = f"suspension{state.suspensions}:review{state.reviews}"
    items = [ClockItem(f"{prefix}:due", review_due, "suspension_review", ("advisor",))]
    for level, escalation in enumerate(policy.suspension.escalations):
        items.append(
            ClockItem(
                f"{prefix}:escalation:{level}",
                review_due + as_timedelta(duration(escalation.after)),
                "suspension_escalation",
                tuple(escalation.notify),
                level,
            )
        )
    return items


def _recurring_items(state: CaseState, stage: Stage, prefix: str) -> list[ClockItem]:
    """The next of each thing the stage wants done again and again (welfare contact), and
    the next escalation of one left unrecorded.

    Policies without `recurring` get nothing here, so their histories replay unchanged.
    Recording an item (an action that `records` it) starts a new series of keys counted
    from the day it was done, so the old series' pending reminder and escalations are
    gone. No workflow.patched is needed: only a policy with `records` or a recurring
    item's `escalations` changes what happens here, and no policy snapshot in a running
    case's history can have them (the schema before them refused unknown fields).
    """
    items = []
    for spec in stage.recurring:
        times, day = state.recurring_done.get(spec.key, (0, None))
        series = f"{prefix}:{spec.key}" + (f":done{times}" if times else "")
        start = state.stage_started_at if day is None else midday(day)
        every = duration(spec.every)

        def falls_due(number: int, start: datetime = start, every: Duration = every) -> datetime:
            return due_instant(start, _times(every, number), state.holiday_region)

        number = _first_not_done(state.done, f"{series}:{{}}")
        items.append(
            ClockItem(
                f"{series}:{number}",
                falls_due(number),
                "recurring",
                tuple(spec.notify),
                label=spec.name,
            )
        )
        for level, escalation in enumerate(spec.escalations):
            number = _first_not_done(state.done, f"{series}:{{}}:escalation:{level}")
            due = falls_due(number)
            items.append(
                ClockItem(
                    f"{series}:{number}:escalation:{level}",
                    due + as_timedelta(duration(escalation.after)),
                    "recurring_escalation",
                    tuple(escalation.notify),
                    level,
                    label=spec.name,
                    due_at=due,
                )
            )
    return items


def _escalations(
    prefix: str, due: datetime, escalations: list[Escalation], *, about_target: bool
) -> list[ClockItem]:
    return [
        ClockItem(
            f"{prefix}:escalation:{level}",
            due + as_timedelta(duration(escalation.after)),
            "escalation",
            tuple(escalation.notify),
            level,
            about_target,
        )
        for level, escalation in enumerate(escalations)
    ]


def _times(every: Duration, number: int) -> Duration:
    """`every` taken `number` times: the number-th occurrence of a recurring item."""
    match every:
        case Exact(delta):
            return Exact(delta * number)
        case CalendarDays(days):
            return CalendarDays(days * number)
        case WorkingDays(days):
            return WorkingDays(days * number)
    raise TypeError(every)


def _first_not_done(done: set[str], pattern: str) -> int:
    """The first occurrence number whose key (`pattern` with the number) has not fired."""
    number = 1
    while pattern.format(number) in done:
        number += 1
    return number
