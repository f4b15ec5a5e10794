"""Whether a policy's whole-case target can be met when every stage is on time.

A target shorter than the stage allowances on the way to the end of its span is a clock no
case can meet even when every stage is on time: a policy owner is warned, with the numbers,
and may still publish (a warning, not a refusal: the owner may mean a stretch target).

The route is the longest that goes forward through the stages in the order they are written,
from the first stage to the end of the target's span (the start of `target_until`, or
closure, whichever comes first); a step
back to an earlier stage (more interviews, a further concern) is a loop and left out. Each
stage on it counts its `due`:

- calendar days as written (P21D: 21 days), a time part exactly (PT12H: half a day);
- working days at the longest they take in a week without bank holidays: N working days
  span at most N + 2 x ceil(N / 5) days (5 working days from a Friday end on the next
  Friday: 7 days; 1 from a Friday ends on the Monday: 3). Bank holidays lengthen them
  further, so a target needs a few days to spare.
"""

import math

from policies.durations import CalendarDays, Duration, Exact, WorkingDays
from policies.schema import CLOSED, PolicyDefinition, PolicyError, duration


def longest_days(span: Duration) -> float:
    """The longest a stage's allowance can take, in days (see the module doc)."""
    match span:
        case CalendarDays(days):
            return days
        case Exact(delta):
            return delta.total_seconds() / 86400
        case WorkingDays(days):
            return days + 2 * math.ceil(days / 5)
    raise TypeError(span)


def longest_route(policy: PolicyDefinition) -> list[tuple[str, float]]:
    """The stages (key, allowance in days) of the longest forward route from the first stage
    to the end of the target's span; [] when the end cannot be reached going forward."""
    order = {stage.key: index for index, stage in enumerate(policy.stages)}
    # best[key]: the longest route from stage `key` to the end, as (days, stages on it).
    best: dict[str, tuple[float, list[tuple[str, float]]] | None] = {CLOSED: (0, [])}
    for stage in reversed(policy.stages):
        if stage.key == policy.target_until:
            best[stage.key] = (0, [])
            continue
        allowance = longest_days(duration(stage.due)) if stage.due is not None else 0
        onward = [
            best.get(action.to)
            for action in stage.actions
            if action.to == CLOSED or order.get(action.to, -1) > order[stage.key]
        ]
        reachable = [route for route in onward if route is not None]
        if not reachable:
            best[stage.key] = None
            continue
        days, stages = max(reachable, key=lambda route: route[0])
        best[stage.key] = (allowance + days, [(stage.key, allowance), *stages])
    first = best.get(policy.stages[0].key)
    return first[1] if first else []


def target_warnings(policy: PolicyDefinition) -> list[PolicyError]:
    """A warning, at `target`, when the stage allowances on the longest route exceed it."""
    if policy.target is None:
        return []
    target = longest_days(duration(policy.target))
    route = longest_route(policy)
    total = sum(days for _, days in route)
    if total <= target:
        return []
    end = f"the start of stage '{policy.target_until}'" if policy.target_until else "closure"
    stages = ", ".join(f"{key} {_days(days)}" for key, days in route)
    return [
        PolicyError(
            "target",
            f"the stages on the longest route to {end} allow {_days(total)} days ({stages}), "
            f"more than the target of {_days(target)} days: a case on time at every stage "
            "would still miss it. Shorten the stages, lengthen the target, or end its span "
            "earlier (target_until)",
        )
    ]


def _days(days: float) -> str:
    return str(int(days)) if days == int(days) else f"{days:.1f}"
