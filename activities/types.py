"""What workflows hand to activities: plain typed values, no I/O, safe to import in the sandbox."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from policies.calendar import DEFAULT_REGION

RECORD_CASE_EVENT = "record_case_event"
OPEN_LINKED_CASE = "open_linked_case"
SEND_CASE_NOTIFICATION = "send_case_notification"
MARK_MAIL_UNDELIVERED = "mark_mail_undelivered"
LIST_DIGEST_RECIPIENTS = "list_digest_recipients"
SEND_DIGEST = "send_digest"
LIST_REPORT_ORGANISATIONS = "list_report_organisations"
SEND_WEEKLY_REPORT = "send_weekly_report"
OPEN_ATTENDANCE_CASE = "open_attendance_case"
FIND_OPEN_SICKNESS_CASE = "find_open_sickness_case"


@dataclass
class CaseSnapshot:
    """The projection of a case's process state, written to the cases row."""

    status: str
    stage_key: str
    stage_name: str
    stage_started_at: datetime
    stage_due_at: datetime | None
    due_at: datetime | None
    breached: bool
    advisor: str
    actions: list[str]
    outcome: str | None = None
    closed_at: datetime | None = None
    paused_reason: str | None = None
    # Histories recorded before cases could change version carry none; today's code always does.
    policy_version: int | None = None
    suspended_since: datetime | None = None
    suspension_review_due: datetime | None = None
    # The end of a statutory decision period (flexible working): no pause moves it.
    decision_due_at: datetime | None = None


@dataclass
class CaseEventRecord:
    """One change to a case; (case_id, seq) makes writing it twice a no-op."""

    case_id: str
    seq: int
    kind: str
    at: datetime
    actor: str | None
    stage_key: str | None
    snapshot: CaseSnapshot
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class CaseNotification:
    """Mail about a case to the people in some roles; event_key is unique per case."""

    case_id: str
    event_key: str
    # assigned | reminder | breach | escalation | outcome_letter_due | suspension_review
    kind: str
    roles: list[str]
    subject_stage: str  # the stage name, or "whole case" for the target
    due_at: datetime | None  # None: a stage without a deadline (only for "assigned")
    level: int = 0  # 0 for reminders and the first escalation, then 1, 2, …
    # The advisor when the event happened (the case row may have moved on by a retry);
    # histories from before this field fall back to the case row's advisor.
    advisor: str | None = None
    stage_key: str | None = None


@dataclass
class NotificationOutcome:
    recipients: list[str]
    sent: int
    already_sent: int
    folded: int = 0  # reminders held for the recipients' daily digest
    undelivered: int = 0  # refused for good by the mail server (e.g. no such mailbox)


@dataclass
class UndeliveredMail:
    """Mail given up on: its outbox rows become "undelivered" so a person acts."""

    case_id: str
    event_key: str


@dataclass
class DigestRecipient:
    organisation_id: int
    username: str


@dataclass
class DigestRequest:
    organisation_id: int
    username: str
    as_of: datetime  # the schedule's instant: the same digest however often it is retried


@dataclass
class ReportRequest:
    organisation_id: int
    as_of: datetime


@dataclass
class DigestOutcome:
    sent: int  # messages sent now (0 when nothing was due, or it went already)
    cases: int  # cases the digest or report listed


@dataclass
class LinkedCaseRequest:
    """Open a case of `case_type` linked to `parent_id`; `origin` makes a retry find it again."""

    parent_id: str
    case_type: str
    origin: str
    actor: str
    opened_at: datetime  # the parent's workflow time, so clocks agree in time-skipping tests
    stage: str | None = None  # the stage it opens at (the step's opens_at); None: its first


@dataclass
class LinkedCase:
    """What the parent needs to start the linked case's workflow."""

    case_id: str
    case_type: str
    policy: dict[str, Any]
    policy_version: int
    opened_at: datetime
    advisor: str
    risk: str
    # Absent from results recorded before regions: those cases ran on England & Wales'.
    holiday_region: str = DEFAULT_REGION
    stage: str | None = None  # the stage it opened at, when not its policy's first


@dataclass
class AttendanceCaseRequest:
    """Triggers fired for an employee: record them, and open a sickness case unless one is open.

    `origin` (the monitor's id and firing number) makes a retry find the same case again.
    """

    organisation_id: int
    employee_id: str
    origin: str
    stage_key: str  # where a new case starts
    opened_at: datetime
    # Each: trigger, day and the figures behind it, JSON-ready (dates as ISO text).
    firings: list[dict[str, Any]]


OPENED, ATTACHED, NOT_OPENED = "opened", "attached", "not_opened"
"""What became of triggers that fired: a case opened for them; they went to the employee's
sickness case already open; or no case could open (`reason` says why)."""


@dataclass
class AttendanceCase:
    """The case the triggers went to; `opened`: new (start its workflow) or already open.

    `case_id` is None when no case could open (`outcome` NOT_OPENED, with its `reason`).
    """

    case_id: str | None
    opened: bool
    policy: dict[str, Any]
    policy_version: int
    opened_at: datetime
    advisor: str
    risk: str
    stage_key: str
    outcome: str = OPENED
    reason: str | None = None
    holiday_region: str = DEFAULT_REGION  # as LinkedCase's


@dataclass
class EmployeeRef:
    organisation_id: int
    employee_id: str


@dataclass
class FoundCase:
    case_id: str | None
