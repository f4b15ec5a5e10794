"""A case's chronology: each stage visit with its deadline as set and as moved by pauses, and
every event in words. The case page and the case bundle both show it."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from policies.calendar import due_instant, paused_between
from policies.schema import PolicyDefinition, duration
from records.models import Case, CaseEvent, Document, Note

NOTE_KINDS = {"note": "Note", "call": "Phone call", "email": "Email", "meeting": "Meeting"}


@dataclass
class StageVisit:
    key: str
    name: str
    started_at: datetime
    ended_at: datetime | None  # None while the case is in this stage
    planned_due: datetime | None  # as the policy set it when the stage began
    due: datetime | None  # after the clock stopped for pauses
    paused: timedelta
    breached: bool


def _pauses(events: list[CaseEvent]) -> list[tuple[datetime, datetime | None]]:
    pauses: list[tuple[datetime, datetime | None]] = []
    for event in events:
        if event.kind == "paused":
            pauses.append((event.at, None))
        elif event.kind == "resumed" and pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], event.at)
    return pauses


def stage_visits(
    case: Case, policy: PolicyDefinition, events: list[CaseEvent], now: datetime
) -> list[StageVisit]:
    """Each stage the case has been in, with its deadline as planned and as moved by pauses.

    Computed with the same calendar functions as the workflow's clock, from the pinned policy
    and the recorded pauses; the current stage takes its deadline from the case itself.
    """
    starts: list[tuple[str, datetime]] = []
    for event in events:
        if event.kind == "opened" and event.stage_key:
            # From the case's opening date, which an imported case brings from before ercase.
            starts.append((event.stage_key, case.opened_at))
        elif event.kind == "advanced":
            starts.append((str(event.detail.get("to")), event.at))
    if not starts:
        return []
    if len(starts) == 1:
        # Still in its first stage: the case row knows exactly when it began (imports included).
        starts[0] = (starts[0][0], case.stage_started_at)
    closed_at = case.closed_at if case.status == "closed" else None
    pauses = _pauses(events)
    breaches = [e.at for e in events if e.kind == "stage_breach"]
    visits = []
    for index, (key, started) in enumerate(starts):
        ended = starts[index + 1][1] if index + 1 < len(starts) else closed_at
        stage = policy.stage(key) if policy.has_stage(key) else None
        planned = (
            due_instant(started, duration(stage.due), case.holiday_region)
            if stage and stage.due
            else None
        )
        paused = paused_between(pauses, started, ended or now)
        due = planned + paused if planned else None
        current = ended is None
        if current and case.stage_due_at is not None:
            due = case.stage_due_at
        breached = any(started <= at <= (ended or now) for at in breaches) or (
            due is not None and (ended or now) > due and not (current and case.status == "paused")
        )
        visits.append(
            StageVisit(
                key=key,
                name=stage.name if stage else key,
                started_at=started,
                ended_at=ended,
                planned_due=planned,
                due=due,
                paused=paused,
                breached=breached,
            )
        )
    return visits


@dataclass
class HistoryItem:
    at: datetime
    actor: str | None
    title: str
    details: list[tuple[str, str]] = field(default_factory=list)


def _action_label(policy: PolicyDefinition, key: str) -> str:
    for stage in policy.stages:
        action = stage.action(key)
        if action:
            return action.label
    return key.replace("_", " ").capitalize()


def _stage_name(policy: PolicyDefinition, key: object) -> str:
    if isinstance(key, str) and policy.has_stage(key):
        return policy.stage(key).name
    return "Closed" if key == "closed" else str(key)


def describe_event(event: CaseEvent, policy: PolicyDefinition) -> HistoryItem:
    """One event in words; the data a step carried is listed under it."""
    detail = event.detail
    data = detail.get("data") if isinstance(detail.get("data"), dict) else {}
    details = [(k.replace("_", " ").capitalize(), str(v)) for k, v in (data or {}).items()]
    kind = event.kind
    if kind == "opened":
        title = f"Case opened (policy version {detail.get('policy_version', '?')})"
    elif kind == "advanced":
        action = _action_label(policy, str(detail.get("action")))
        title = f"{action}: moved from {_stage_name(policy, detail.get('from'))} "
        title += f"to {_stage_name(policy, detail.get('to'))}"
    elif kind == "closed":
        title = f"{_action_label(policy, str(detail.get('action')))}: case closed"
    elif kind == "paused":
        title = "Clock paused"
        details = [("Reason", str(detail.get("reason", "")))]
    elif kind == "resumed":
        seconds = int(detail.get("paused_seconds", 0))
        days, hours = seconds // 86400, seconds % 86400 // 3600
        title = f"Clock resumed after {days} day(s) {hours} hour(s); deadlines moved by that"
    elif kind == "assigned":
        title = f"Reassigned from {detail.get('from')} to {detail.get('to')}"
    elif kind == "stage_breach":
        title = "Stage deadline passed"
    elif kind == "target_breach":
        title = "Whole-case target passed"
    elif kind == "reminder":
        title = "Reminder sent before the deadline"
    elif kind == "escalation":
        roles = detail.get("roles") or []
        title = "Escalated to " + ", ".join(str(r).replace("_", " ") for r in roles)
    elif kind == "recurring_recorded":
        title = f"{detail.get('name')} recorded, done on {detail.get('done_on')}; "
        title += f"the next is due by {str(detail.get('next_due', ''))[:10]}"
    elif kind == "recurring_due":
        title = f"{detail.get('name')} due: reminder sent"
    elif kind == "recurring_escalated":
        roles = detail.get("roles") or []
        title = f"{detail.get('name')} not recorded since it fell due: escalated to "
        title += ", ".join(str(r).replace("_", " ") for r in roles)
    else:
        title = kind.replace("_", " ").capitalize()
    return HistoryItem(event.at, event.actor, title, details)


def history(
    events: list[CaseEvent],
    notes: list[Note],
    policy: PolicyDefinition,
    documents: Sequence[Document] = (),
) -> list[HistoryItem]:
    """Every event, note and document added (an upload or a letter saved), newest first."""
    items = [describe_event(event, policy) for event in events]
    items += [
        HistoryItem(
            document.uploaded_at, document.uploaded_by, f"Document added: {document.filename}"
        )
        for document in documents
    ]
    items += [
        HistoryItem(
            note.created_at, note.author, f"{note.kind.capitalize()} logged", [("", note.body)]
        )
        for note in notes
    ]
    return sorted(items, key=lambda item: item.at, reverse=True)
