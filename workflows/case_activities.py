"""The activities and child workflows a case process calls, with their timeouts and retries,
and the snapshot of the case they record and its steps answer with.

Called from workflow code only (workflows/case_process.py): each helper is one command in
the case's history, so changing what one sends is a change running cases replay.
"""

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.types import (
        MARK_MAIL_UNDELIVERED,
        OPEN_LINKED_CASE,
        RECORD_CASE_EVENT,
        SEND_CASE_NOTIFICATION,
        CaseEventRecord,
        CaseNotification,
        CaseSnapshot,
        LinkedCase,
        LinkedCaseRequest,
        NotificationOutcome,
        UndeliveredMail,
    )
    from policies import case_clock
    from policies.case_state import CaseState
    from policies.schema import CLOSED, PolicyDefinition
    from workflows import WORKFLOW_FOR_CASE_TYPE, workflow_id
    from workflows.types import CaseInput

RECORD_TIMEOUT = timedelta(seconds=30)
# The projection must catch up eventually, so recording retries without limit.
RECORD_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
MAIL_TIMEOUT = timedelta(seconds=60)
# The mail activity heartbeats every 2 s; a worker that dies mid-send is noticed this soon.
MAIL_HEARTBEAT = timedelta(seconds=10)
MAIL_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))
# While SMTP is down, mail is retried with backoff for a day; then a person must act.
MAIL_GIVE_UP = timedelta(hours=24)

LinkedCaseHandle = ChildWorkflowHandle[Any, CaseSnapshot]


def case_snapshot(
    state: CaseState, policy: PolicyDefinition, policy_version: int, now: datetime
) -> CaseSnapshot:
    """The case as the read model records it and a step or query answers."""
    stage_open = state.status != "closed"
    stage = policy.stage(state.stage_key)
    return CaseSnapshot(
        status=state.status,
        stage_key=state.stage_key if stage_open else CLOSED,
        stage_name=stage.name if stage_open else "Closed",
        stage_started_at=state.stage_started_at if stage_open else state.closed_at or now,
        stage_due_at=case_clock.stage_due(state, policy, now) if stage_open else None,
        due_at=case_clock.case_due(state, policy, now),
        breached=case_clock.breached(state, policy, now),
        advisor=state.advisor,
        policy_version=policy_version,
        suspended_since=state.suspended_since,
        suspension_review_due=case_clock.suspension_review_due(state, policy),
        decision_due_at=case_clock.decision_due(state, policy),
        actions=[a.key for a in stage.actions] if state.status == "open" else [],
        outcome=state.outcome,
        closed_at=state.closed_at,
        paused_reason=state.pause_reason,
    )


async def record_event(
    case_id: str,
    seq: int,
    kind: str,
    actor: str | None,
    stage_key: str,
    snapshot: CaseSnapshot,
    detail: dict[str, Any],
) -> None:
    """Write one event of the case's timeline (and its new state) to the read model."""
    record = CaseEventRecord(
        case_id=case_id,
        seq=seq,
        kind=kind,
        at=workflow.now(),
        actor=actor,
        stage_key=stage_key,
        snapshot=snapshot,
        detail=detail,
    )
    await workflow.execute_activity(
        RECORD_CASE_EVENT,
        record,
        start_to_close_timeout=RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


async def send_notification(notification: CaseNotification) -> NotificationOutcome:
    """Mail it, retrying with backoff for MAIL_GIVE_UP; an ActivityError after that."""
    return await workflow.execute_activity(
        SEND_CASE_NOTIFICATION,
        notification,
        start_to_close_timeout=MAIL_TIMEOUT,
        heartbeat_timeout=MAIL_HEARTBEAT,
        schedule_to_close_timeout=MAIL_GIVE_UP,
        retry_policy=MAIL_RETRY,
        result_type=NotificationOutcome,
    )


async def mark_undelivered(notification: CaseNotification) -> int:
    """Mark the mail's outbox rows undelivered; how many recipients it did not reach."""
    return await workflow.execute_activity(
        MARK_MAIL_UNDELIVERED,
        UndeliveredMail(notification.case_id, notification.event_key),
        start_to_close_timeout=RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
        result_type=int,
    )


async def open_linked_case(
    case: CaseInput, case_type: str, origin: str, actor: str, stage: str | None = None
) -> tuple[str, LinkedCaseHandle]:
    """Open the linked case's row (at `stage` of its policy, or its first) and start its
    workflow; its reference and handle.

    `origin` is unique per step of the parent, so a retried activity opens one case."""
    linked = await workflow.execute_activity(
        OPEN_LINKED_CASE,
        LinkedCaseRequest(
            parent_id=case.case_id,
            case_type=case_type,
            origin=origin,
            actor=actor,
            opened_at=workflow.now(),
            stage=stage,
        ),
        result_type=LinkedCase,
        start_to_close_timeout=RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )
    child = await workflow.start_child_workflow(
        WORKFLOW_FOR_CASE_TYPE[case_type],
        CaseInput(
            case_id=linked.case_id,
            organisation_id=case.organisation_id,
            policy=PolicyDefinition.model_validate(linked.policy),
            policy_version=linked.policy_version,
            opened_at=linked.opened_at,
            advisor=linked.advisor,
            risk=linked.risk,
            holiday_region=linked.holiday_region,
            # Older results carry no stage: the linked case starts at its first.
            start_stage=linked.stage,
            stage_started_at=linked.opened_at if linked.stage else None,
        ),
        id=workflow_id(linked.case_id),
        result_type=CaseSnapshot,
        # The linked case has its own life: it must not end if this one ever does.
        parent_close_policy=ParentClosePolicy.ABANDON,
    )
    return linked.case_id, child


async def linked_case_outcome(child: LinkedCaseHandle) -> str | None:
    """Wait for the linked case to end; its outcome (None if it ended without closing)."""
    try:
        return (await child).outcome
    except ChildWorkflowError:
        return None  # ended without closing (e.g. terminated by an administrator)
