"""What a running case knows, and the changes a step makes to it.

Pure data with no clock of its own: every change that needs the time is given `now`, so the
case workflow passes `workflow.now()` and tests pass any instant they like. The policy the
case follows is kept apart (a policy move replaces it), so every rule takes it as an argument.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from policies.calendar import DEFAULT_REGION

Status = Literal["open", "paused", "closed"]
SuspensionStep = Literal["suspend", "review", "lift"]
SUSPENSION_STEPS: tuple[SuspensionStep, ...] = ("suspend", "review", "lift")


@dataclass
class CaseState:
    opened_at: datetime
    stage_key: str
    stage_started_at: datetime
    advisor: str
    # Whose bank holidays the case's working days skip: its organisation's region when it
    # opened, kept for its whole life (a later change of region moves no running clock).
    holiday_region: str = DEFAULT_REGION
    status: Status = "open"
    outcome: str | None = None
    closed_at: datetime | None = None
    pause_reason: str | None = None
    # Every pause of the clock: when it began and (once resumed) when it ended.
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    # How many stages the case has entered since it opened; numbers the stage's clock keys.
    stage_visit: int = 0
    # Keys of the clock items that have fired (each fires once).
    done: set[str] = field(default_factory=set)
    # The data steps have given so far (the latest value of each), for rules across steps.
    data: dict[str, Any] = field(default_factory=dict)
    # Recurring items of this stage visit recorded as done: key → (times recorded, last day).
    recurring_done: dict[str, tuple[int, date]] = field(default_factory=dict)
    # Suspension from work: since when, and how many suspensions and reviews so far (for keys).
    suspended_since: datetime | None = None
    last_review: datetime | None = None
    suspensions: int = 0
    reviews: int = 0
    # Linked cases this case opened that are still open: reference → case type.
    children: dict[str, str] = field(default_factory=dict)
    # When the case first entered the stage that ends its target's span (`target_until`).
    target_met_at: datetime | None = None
    # How often each step that stays in the stage was taken in this stage visit (`at_most`).
    taken_in_stage: dict[str, int] = field(default_factory=dict)
    # The end of the decision period as the employee agreed to extend it (ERA 1996 s.80G(1B)).
    decision_extended_to: date | None = None

    def enter_stage(self, key: str, now: datetime) -> None:
        """A new stage's clocks start now; the last stage's recurring items are left behind."""
        self.stage_key = key
        self.stage_started_at = now
        self.stage_visit += 1
        self.recurring_done = {}
        self.taken_in_stage = {}

    def stay(self, action: str) -> None:
        """A step that keeps the case in its stage, its clock running on, was taken."""
        self.taken_in_stage[action] = self.taken_in_stage.get(action, 0) + 1

    def close(self, now: datetime) -> None:
        self.status = "closed"
        self.closed_at = now

    def pause(self, reason: str, now: datetime) -> None:
        self.pauses.append((now, None))
        self.pause_reason = reason.strip()
        self.status = "paused"

    def resume(self, now: datetime) -> int:
        """Start the clock again; how many whole seconds it was stopped."""
        began, _ = self.pauses[-1]
        self.pauses[-1] = (began, now)
        self.status = "open"
        self.pause_reason = None
        return int((now - began).total_seconds())

    def suspend(self, now: datetime) -> None:
        self.suspended_since, self.last_review = now, None
        self.suspensions += 1
        self.reviews = 0

    def review_suspension(self, now: datetime) -> None:
        self.last_review = now
        self.reviews += 1

    def lift_suspension(self, now: datetime) -> int:
        """End the suspension; how many whole days it lasted."""
        since = self.suspended_since
        assert since is not None, "checked by policies.case_rules.check_suspension"
        self.suspended_since = None
        return (now - since).days
