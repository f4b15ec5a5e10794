"""The stage and clock machinery every case process composes.

A case walks the stages of the policy snapshot it started with. Steps are Temporal
Updates: the validator refuses what the policy does not allow now (nothing enters
history), the handler changes the state and records it through an activity before it
returns. The main loop sleeps until the nearest reminder, deadline or escalation,
and recomputes whenever something changes.

The rules and the clock are pure (policies.case_state, policies.case_rules,
policies.case_clock): every clock is a function of the input and the history, so replay is
deterministic. This module keeps the handlers, the loop, recording and delivery.
"""

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar, cast

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.case_activities import (
    LinkedCaseHandle,
    case_snapshot,
    linked_case_outcome,
    mark_undelivered,
    open_linked_case,
    record_event,
    send_notification,
)

with workflow.unsafe.imports_passed_through():
    from activities.types import CaseNotification, CaseSnapshot
    from policies import case_clock, case_rules
    from policies.case_clock import Notice
    from policies.case_rules import Refusal
    from policies.schema import CLOSED, PolicyDefinition, Stage
    from workflows import WORKFLOW_FOR_CASE_TYPE
    from workflows.types import (
        ActionRequest,
        AssignRequest,
        CaseInput,
        ChangePolicyRequest,
        PauseRequest,
        ResumeRequest,
        SuspensionRequest,
    )

# workflow.patched ids: these paths add commands that older histories do not have.
PATCH_MAIL_ON_ASSIGN = "mail-on-assign"
PATCH_MAIL_UNDELIVERED = "mail-undelivered"
PATCH_CLOCK_BEFORE_STEP = "clock-before-step"


class _Request(Protocol):
    request_id: str | None


Request = TypeVar("Request", bound=_Request)
Check = TypeVar("Check", bound=Callable[..., None])


def _rule(check: Check) -> Check:
    """A step's rule as its update validator: a repeated request passes (the handler gives
    it the first answer), and a refusal becomes the ApplicationError the API maps."""

    @functools.wraps(check)
    def validate(process: "CaseProcess", request: _Request) -> None:
        if request.request_id not in process._replies:
            try:
                check(process, request)
            except Refusal as refusal:
                error = ApplicationError(refusal.message, type=refusal.kind, non_retryable=True)
                raise error from None

    return cast(Check, validate)


class CaseProcess:
    """State, clocks and steps shared by every case workflow.

    workflows/cases.py makes one workflow class per case type from this (adding
    @workflow.init calling this __init__, and @workflow.run calling run_case).
    """

    def __init__(self, case: CaseInput) -> None:
        # Set up from the input before any handler runs: an update can arrive in the very
        # first workflow task, before the run method has started.
        self._case = case
        self._policy: PolicyDefinition = case.policy
        self._policy_version = case.policy_version
        self._state = case_clock.starting_state(
            self._policy,
            opened_at=case.opened_at,
            stage_key=case.start_stage,
            stage_started_at=case.stage_started_at,
            advisor=case.advisor,
            holiday_region=case.holiday_region,
        )
        self._watchers: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._changed = False
        self._seq = 0
        self._replies: dict[str, CaseSnapshot] = {}
        self._deliveries: list[asyncio.Task[None]] = []

    # ---- the main loop -------------------------------------------------------------

    async def run_case(self) -> CaseSnapshot:
        async with self._lock:
            await self._record(
                "opened", self._case.advisor, {"policy_version": self._case.policy_version}
            )

        while self._state.status != "closed":
            async with self._lock:
                await self._fire_due_items()
            if self._state.status == "closed":
                # A step closed the case while this loop waited for the lock; nothing will wake it.
                break
            next_at = case_clock.next_instant(self._state, self._policy, workflow.now())
            self._changed = False
            if next_at is None:
                await workflow.wait_condition(lambda: self._changed)
                continue
            delay = next_at - workflow.now()
            if delay <= timedelta(0):
                continue
            with contextlib.suppress(TimeoutError):  # the timeout is the clock ticking
                await workflow.wait_condition(lambda: self._changed, timeout=delay)

        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._watchers:
            await asyncio.gather(*self._watchers)
        if self._deliveries:
            await asyncio.gather(*self._deliveries)
        return self._snapshot()

    # ---- queries and steps ---------------------------------------------------------

    @workflow.query
    def state(self) -> CaseSnapshot:
        return self._snapshot()

    @workflow.update
    async def act(self, request: ActionRequest) -> CaseSnapshot:
        async def take() -> None:
            action = self._stage().action(request.action)
            assert action is not None, "checked by the rule"
            detail: dict[str, Any] = {"action": request.action, "data": request.data}
            self._state.data.update(request.data)
            if action.records is not None:
                # The rule has checked the item exists and the day it was done.
                now, data = workflow.now(), request.data
                detail.update(
                    case_rules.record_recurring(
                        self._state, self._policy, action.records, data, now
                    )
                )
                await self._record("recurring_recorded", request.actor, detail)
                return
            if action.extends_decision_period is not None:
                field, data = action.extends_decision_period, request.data
                detail.update(
                    case_rules.extend_decision_period(self._state, self._policy, field, data)
                )
                await self._record("decision_period_extended", request.actor, detail)
                return
            if action.keeps_clock:
                # The same stage visit: its clock, reminders and escalations run on.
                self._state.stay(request.action)
                detail["stage"] = self._state.stage_key
                await self._record("step_taken", request.actor, detail)
                return
            if action.opens:
                detail["opened"] = await self._open_linked_case(
                    action.opens, action.opens_at, request.actor
                )
            if "outcome" in request.data:
                self._state.outcome = str(request.data["outcome"])
            if action.to == CLOSED:
                self._state.close(workflow.now())
                detail["to"] = CLOSED
                await self._record("closed", request.actor, detail)
            else:
                detail["from"] = self._state.stage_key
                self._enter_stage(action.to)
                detail["to"] = action.to
                await self._record("advanced", request.actor, detail)

        return await self._step(request, self._may_act, take, catch_up=True)

    @act.validator
    @_rule
    def _may_act(self, request: ActionRequest) -> None:
        now, runnable = workflow.now(), WORKFLOW_FOR_CASE_TYPE
        case_rules.check_action(
            self._state, self._policy, request.action, request.data, now, runnable
        )

    @workflow.update
    async def pause(self, request: PauseRequest) -> CaseSnapshot:
        async def take() -> None:
            self._state.pause(request.reason, workflow.now())
            await self._record("paused", request.actor, {"reason": self._state.pause_reason})

        return await self._step(request, self._may_pause, take, catch_up=True)

    @pause.validator
    @_rule
    def _may_pause(self, request: PauseRequest) -> None:
        case_rules.check_pause(self._state, request.reason)

    @workflow.update
    async def resume(self, request: ResumeRequest) -> CaseSnapshot:
        async def take() -> None:
            paused_seconds = self._state.resume(workflow.now())
            await self._record("resumed", request.actor, {"paused_seconds": paused_seconds})

        return await self._step(request, self._may_resume, take)

    @resume.validator
    @_rule
    def _may_resume(self, request: ResumeRequest) -> None:
        case_rules.check_resume(self._state)

    @workflow.update
    async def assign(self, request: AssignRequest) -> CaseSnapshot:
        async def take() -> None:
            previous, self._state.advisor = self._state.advisor, request.advisor
            await self._record("assigned", request.actor, {"from": previous, "to": request.advisor})
            told = request.advisor not in (previous, request.actor)  # nobody is told what they did
            if told and workflow.patched(PATCH_MAIL_ON_ASSIGN):
                # The seq of the "assigned" event makes the mail's key unique.
                now, key = workflow.now(), f"assigned:{self._seq}"
                self._send(case_clock.assigned_notice(self._state, self._policy, now, key))

        return await self._step(request, self._may_assign, take)

    @assign.validator
    @_rule
    def _may_assign(self, request: AssignRequest) -> None:
        case_rules.check_open(self._state)

    @workflow.update
    async def suspension(self, request: SuspensionRequest) -> CaseSnapshot:
        """Suspend the employee from work, record a review of the suspension, or lift it."""

        async def take() -> None:
            now, note, actor = workflow.now(), request.note.strip(), request.actor
            if request.step == "suspend":
                self._state.suspend(now)
                await self._record("suspended", actor, {"reason": note})
            elif request.step == "review":
                self._state.review_suspension(now)
                await self._record("suspension_reviewed", actor, {"note": note})
            else:
                days = self._state.lift_suspension(now)
                await self._record("suspension_lifted", actor, {"note": note, "days": days})

        return await self._step(request, self._may_suspend, take)

    @suspension.validator
    @_rule
    def _may_suspend(self, request: SuspensionRequest) -> None:
        case_rules.check_suspension(self._state, self._policy, request.step, request.note)

    @workflow.update
    async def change_policy(self, request: ChangePolicyRequest) -> CaseSnapshot:
        """Move the case to a newer version of its policy: explicit, recorded, never silent."""

        async def take() -> None:
            previous = self._policy_version
            self._policy, self._policy_version = request.policy, request.policy_version
            detail = {"from_version": previous, "to_version": request.policy_version}
            await self._record("policy_changed", request.actor, detail)

        return await self._step(request, self._may_change_policy, take)

    @change_policy.validator
    @_rule
    def _may_change_policy(self, request: ChangePolicyRequest) -> None:
        version, new = self._policy_version, request.policy_version
        case_rules.check_policy_change(self._state, self._policy, version, request.policy, new)

    async def _step(
        self,
        request: Request,
        rule: Callable[[Request], None],
        take: Callable[[], Awaitable[None]],
        *,
        catch_up: bool = False,
    ) -> CaseSnapshot:
        """One step at a time, under the lock: a repeated request gets its first answer; the
        rule is checked again (the state may have moved while the step waited), then taken."""
        async with self._lock:
            if request.request_id in self._replies:
                return self._replies[request.request_id]
            if catch_up:
                await self._catch_up_clock()
            rule(request)
            await take()
            return self._reply(request.request_id)

    # ---- stages, linked cases and the clock ------------------------------------------

    def _stage(self) -> Stage:
        return self._policy.stage(self._state.stage_key)

    def _enter_stage(self, key: str) -> None:
        now = workflow.now()
        self._state.enter_stage(key, now)
        if key == self._policy.target_until and self._state.target_met_at is None:
            self._state.target_met_at = now  # the target's span ends here

    async def _open_linked_case(self, case_type: str, stage: str | None, actor: str) -> str:
        """Open the linked case's row (at `stage`, or its first), start its workflow, and
        watch for it to close."""
        # The sequence number of the event about to record this step: unique per case.
        origin = f"{self._case.case_id}:{self._seq + 1}"
        case_id, child = await open_linked_case(self._case, case_type, origin, actor, stage)
        self._state.children[case_id] = case_type
        self._watchers.append(asyncio.create_task(self._watch_linked_case(case_id, child)))
        return case_id

    async def _watch_linked_case(self, case_id: str, child: LinkedCaseHandle) -> None:
        outcome = await linked_case_outcome(child)
        async with self._lock:
            del self._state.children[case_id]
            await self._record("linked_case_closed", None, {"case": case_id, "outcome": outcome})

    async def _catch_up_clock(self) -> None:
        """Fire what fell due before this step, so a step never silently swallows a reminder
        or an escalation. A worker catching up (after a crash, or under load) can run a step
        before the clock's own turn; without this, the step moved the stage on and the items
        of the stage it left were never sent. Loops because firing takes activities, during
        which more items can fall due; the step then records in the same instant as the check.
        """
        if workflow.patched(PATCH_CLOCK_BEFORE_STEP):
            while await self._fire_due_items():
                pass

    async def _fire_due_items(self) -> bool:
        """Fire every clock item due now; whether there were any."""
        now = workflow.now()
        due = case_clock.due_items(self._state, self._policy, now)
        for item in due:
            self._state.done.add(item.key)
            announced = case_clock.announcement(item, self._state, self._policy, now)
            if announced is None:
                continue
            await self._record(announced.event, None, announced.detail)
            if announced.notice is not None:
                self._send(announced.notice)
        return bool(due)

    # ---- mail ----------------------------------------------------------------------

    def _send(self, notice: Notice) -> None:
        """Mail the notice in its own task: mail does not hold the lock, so an SMTP outage
        never blocks an advisor's step. The advisor is the one at the time of the event."""
        notification = CaseNotification(
            case_id=self._case.case_id,
            event_key=notice.event_key,
            kind=notice.kind,
            roles=notice.roles,
            subject_stage=notice.subject_stage,
            due_at=notice.due_at,
            level=notice.level,
            advisor=self._state.advisor,
            stage_key=notice.stage_key,
        )
        self._deliveries.append(asyncio.create_task(self._deliver(notification)))

    async def _deliver(self, notification: CaseNotification) -> None:
        try:
            outcome = await send_notification(notification)
        except ActivityError:
            if not workflow.patched(PATCH_MAIL_UNDELIVERED):
                raise
            await self._undelivered(notification)
            return
        if outcome.undelivered and workflow.patched(PATCH_MAIL_UNDELIVERED):
            await self._undelivered(notification)

    async def _undelivered(self, notification: CaseNotification) -> None:
        """Mail that did not reach everyone goes on the case's timeline, so a person acts."""
        count = await mark_undelivered(notification)
        async with self._lock:
            await self._record(
                "mail_undelivered",
                None,
                {"key": notification.event_key, "mail": notification.kind, "undelivered": count},
            )

    # ---- recording -----------------------------------------------------------------

    def _snapshot(self) -> CaseSnapshot:
        return case_snapshot(self._state, self._policy, self._policy_version, workflow.now())

    async def _record(self, kind: str, actor: str | None, detail: dict[str, Any]) -> None:
        """Write the change to the read model before anyone is told it happened."""
        self._seq += 1
        self._changed = True
        at_stage, snapshot = self._state.stage_key, self._snapshot()
        await record_event(self._case.case_id, self._seq, kind, actor, at_stage, snapshot, detail)

    def _reply(self, request_id: str | None) -> CaseSnapshot:
        snapshot = self._snapshot()
        if request_id:
            self._replies[request_id] = snapshot
        return snapshot
