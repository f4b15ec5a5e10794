"""Inputs of the case workflows and their updates; the API imports these names and types."""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# ApplicationError types a validator or handler refuses with (policies.case_rules decides).
from policies.calendar import DEFAULT_REGION
from policies.case_rules import INVALID_DATA as INVALID_DATA
from policies.case_rules import NOT_ALLOWED as NOT_ALLOWED
from policies.schema import PolicyDefinition, Triggers


@dataclass
class CaseInput:
    case_id: str
    organisation_id: int
    policy: PolicyDefinition
    policy_version: int
    opened_at: datetime
    advisor: str
    risk: str
    # A case brought in already under way starts at this stage, with its real start date.
    start_stage: str | None = None
    stage_started_at: datetime | None = None
    # Whose bank holidays its working days skip: its organisation's region when it opened.
    # Inputs recorded before regions have none, and ran on England & Wales' calendar.
    holiday_region: str = DEFAULT_REGION


@dataclass
class ActionRequest:
    action: str
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None


@dataclass
class PauseRequest:
    reason: str
    actor: str
    request_id: str | None = None


@dataclass
class ResumeRequest:
    actor: str
    request_id: str | None = None


@dataclass
class AssignRequest:
    advisor: str
    actor: str
    request_id: str | None = None


@dataclass
class ChangePolicyRequest:
    policy: PolicyDefinition
    policy_version: int
    actor: str
    request_id: str | None = None


@dataclass
class SuspensionRequest:
    """Suspend (with the reason), record a review (with its note), or lift the suspension."""

    step: str  # suspend | review | lift
    note: str
    actor: str
    request_id: str | None = None


@dataclass
class AttendanceEvent:
    """What attendance monitoring tells an open sickness case; its stage's moves_on decides.

    kind: trigger (a further short-term trigger), long_term (a spell reached the long-term
    day) or returned (the employee is back at work); detail: the figures, for the timeline.
    """

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class AttendanceEpisode:
    first_day: date
    last_day: date | None = None  # None: still off


@dataclass
class AbsenceFeed:
    """The employee's episodes as the records now hold them (all of them within the look-back
    period, so a correction or a back-dated episode replaces what the monitor knew), and the
    triggers of the organisation's current sickness policy."""

    episodes: list[AttendanceEpisode]
    triggers: Triggers
    # The sickness policy's stage keys in order: when triggers fire together, the later wins.
    stages: list[str] = field(default_factory=list)
    # The organisation's bank-holiday region: working days lost count its working days
    # (absent from feeds recorded before regions: England & Wales).
    holiday_region: str = DEFAULT_REGION


@dataclass
class AttendanceInput:
    """One employee's attendance monitor; a continued run carries only what it still needs."""

    organisation_id: int
    employee_id: str
    triggers: Triggers | None = None
    episodes: list[AttendanceEpisode] = field(default_factory=list)
    # The day the last short-term trigger fired: spells begun by then do not count again.
    counted_after: date | None = None
    # First days of the spells whose long-term trigger has fired.
    long_term_done: list[date] = field(default_factory=list)
    # First days of the spells open when the monitor last looked (to notice a return).
    open_spells: list[date] = field(default_factory=list)
    firings: int = 0  # how many times triggers have fired, numbering each case opening
    stages: list[str] = field(default_factory=list)  # the policy's stage order (AbsenceFeed)
    # Each turn adds a timer or a signal and a few activities: a bound well inside Temporal's
    # history limits over years of wake-ups (tests set a small one to see it continue).
    turns_before_continuing: int = 100
    holiday_region: str = DEFAULT_REGION  # the last feed's (AbsenceFeed)


@dataclass
class AttendanceState:
    """What the monitor knows now (a query, for tests and operators)."""

    episodes: int
    counted_after: date | None
    long_term_done: list[date]
    open_spells: list[date]
    firings: int
    next_wake: datetime | None
