"""What workflows hand to activities: plain typed values, no I/O, safe to import in the sandbox."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RECORD_CASE_EVENT = "record_case_event"
SEND_CASE_NOTIFICATION = "send_case_notification"


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
    kind: str  # reminder | breach | escalation
    roles: list[str]
    subject_stage: str  # the stage name, or "whole case" for the target
    due_at: datetime
    level: int = 0  # 0 for reminders and the first escalation, then 1, 2, …


@dataclass
class NotificationOutcome:
    recipients: list[str]
    sent: int
    already_sent: int
