"""Inputs of the case workflows and their updates; the API imports these names and types."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from policies.schema import PolicyDefinition

# ApplicationError types a validator or handler refuses with; the API maps them to statuses.
NOT_ALLOWED = "NotAllowed"  # 409: not possible in the case's current state
INVALID_DATA = "InvalidData"  # 422: required data missing or wrong


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
