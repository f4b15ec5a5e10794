"""What the API takes and gives: pydantic models at the boundary."""

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from records.models import Case, CaseEvent, Note
from services import text_limits

# The largest value of an `integer` column on PostgreSQL (ids, policy versions); every integer
# the API takes is bounded by it, so a larger one is a 422 and not a database overflow (500).
DATABASE_INT_MAX = 2**31 - 1


class _Input(BaseModel):
    # Unknown fields are refused, so a misspelt field is an error and not silently ignored.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OpenCaseIn(_Input):
    case_type: str = Field(min_length=1, max_length=60)
    employee_id: str = Field(min_length=1, max_length=40)
    summary: str = Field(min_length=1, max_length=text_limits.SUMMARY)
    risk: Literal["urgent", "routine"] = "routine"
    advisor: str | None = Field(default=None, min_length=1, max_length=80)


# A step's data travels in the workflow's history: bounded, so one request cannot wedge a case.
MAX_DATA_DEPTH = 20
MAX_DATA_CHARS = 100_000


def _nesting(value: object) -> int:
    """How deeply lists and objects nest in value (counted without recursion; stops past max)."""
    deepest, stack = 0, [(value, 0)]
    while stack and deepest <= MAX_DATA_DEPTH:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


class ActionIn(_Input):
    data: dict[str, Any] = {}
    request_id: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("data")
    @classmethod
    def _bounded(cls, data: dict[str, Any]) -> dict[str, Any]:
        if _nesting(data) > MAX_DATA_DEPTH:
            raise ValueError(f"data nests more than {MAX_DATA_DEPTH} levels deep")
        for key, value in data.items():
            if isinstance(value, str) and len(value) > text_limits.STEP_FIELD:
                # The same limit as each field of the web page's form.
                raise ValueError(
                    f"data.{key} is {len(value):,} characters long; it may be at most "
                    f"{text_limits.STEP_FIELD:,} (put the full text in a document)"
                )
        if len(json.dumps(data)) > MAX_DATA_CHARS:
            raise ValueError(
                f"data is too large (at most {MAX_DATA_CHARS} characters as JSON); "
                "put long texts in a document or a note"
            )
        return data


class PauseIn(_Input):
    # A blank reason is refused by the case service (services/case_steps.py), for every caller.
    reason: str = Field(max_length=text_limits.PAUSE_REASON)
    request_id: str | None = Field(default=None, min_length=1, max_length=100)


class ResumeIn(_Input):
    request_id: str | None = Field(default=None, min_length=1, max_length=100)


class AssignIn(_Input):
    advisor: str = Field(min_length=1, max_length=80)
    request_id: str | None = Field(default=None, min_length=1, max_length=100)


class ChangePolicyIn(_Input):
    version: int = Field(ge=1, le=DATABASE_INT_MAX)
    request_id: str | None = Field(default=None, min_length=1, max_length=100)


class StaffIn(_Input):
    id: str = Field(min_length=1, max_length=40)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    division: str | None = Field(default=None, max_length=120)
    department: str | None = Field(default=None, max_length=120)
    line_manager: str | None = Field(default=None, max_length=40)
    band: str | None = Field(default=None, max_length=20)
    ethnic_group: str | None = Field(default=None, max_length=80)
    disability: str | None = Field(default=None, max_length=40)


class StaffImported(BaseModel):
    created: int
    updated: int


class StageOut(BaseModel):
    key: str
    name: str
    started_at: datetime
    due_at: datetime | None


class PolicyRef(BaseModel):
    case_type: str
    version: int


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str | None
    stage: str | None
    detail: dict[str, Any]


class LinkedCaseOut(BaseModel):
    id: str
    case_type: str
    status: str


class CaseOut(BaseModel):
    id: str
    case_type: str
    status: str
    stage: StageOut
    due_at: datetime | None
    opened_at: datetime
    closed_at: datetime | None
    risk: str
    employee_id: str
    summary: str
    advisor: str
    division: str | None
    department: str | None
    policy: PolicyRef
    breached: bool
    outcome: str | None
    paused_reason: str | None
    suspended_since: datetime | None = None
    suspension_review_due: datetime | None = None
    # The statutory decision date (flexible working): only an agreed extension moves it.
    decision_due_at: datetime | None = None
    actions: list[str]
    timeline: list[TimelineEntry] | None = None
    # Messages about this case that were given up on (SMTP down for a day, or refused).
    undelivered: int = 0
    # The case this one is linked to (e.g. the disciplinary an investigation reports to).
    parent: str | None = None
    # The cases this one opened; shown when a single case is read.
    linked_cases: list[LinkedCaseOut] | None = None

    @classmethod
    def of(
        cls,
        case: Case,
        events: list[CaseEvent] | None = None,
        notes: list[Note] | None = None,
        undelivered: int = 0,
        children: list[Case] | None = None,
    ) -> "CaseOut":
        timeline = None
        if events is not None:
            timeline = [
                TimelineEntry(
                    at=event.at,
                    kind=event.kind,
                    actor=event.actor,
                    stage=event.stage_key,
                    detail=event.detail,
                )
                for event in events
            ] + [
                TimelineEntry(
                    at=note.created_at,
                    kind=f"note.{note.kind}",
                    actor=note.author,
                    stage=None,
                    detail={"text": note.body},
                )
                for note in notes or []
            ]
            timeline.sort(key=lambda entry: entry.at)
        return cls(
            id=case.id,
            case_type=case.case_type,
            status=case.status,
            stage=StageOut(
                key=case.stage_key,
                name=case.stage_name,
                started_at=case.stage_started_at,
                due_at=case.stage_due_at,
            ),
            due_at=case.due_at,
            opened_at=case.opened_at,
            closed_at=case.closed_at,
            risk=case.risk,
            employee_id=case.employee_id,
            summary=case.summary,
            advisor=case.advisor,
            division=case.division,
            department=case.department,
            policy=PolicyRef(case_type=case.case_type, version=case.policy_version),
            breached=case.breached,
            outcome=case.outcome,
            paused_reason=case.paused_reason,
            suspended_since=case.suspended_since,
            suspension_review_due=case.suspension_review_due,
            decision_due_at=case.decision_due_at,
            actions=case.actions,
            timeline=timeline,
            undelivered=undelivered,
            parent=case.parent_case_id,
            linked_cases=None
            if children is None
            else [
                LinkedCaseOut(id=child.id, case_type=child.case_type, status=child.status)
                for child in children
            ],
        )


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int
    page: int
    page_size: int


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
