"""The stage and clock machinery every case process composes.

A case walks the stages of the policy snapshot it started with. Steps are Temporal
Updates: the validator refuses what the policy does not allow now (nothing enters
history), the handler changes the state and records it through an activity before it
returns. The main loop sleeps until the nearest reminder, deadline or escalation,
and recomputes whenever something changes. Every clock is a pure function of the
input and the history (policies.calendar), so replay is deterministic.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
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
    from policies.calendar import LONDON, add_working_days, due_instant, paused_between
    from policies.durations import (
        CalendarDays,
        Duration,
        Exact,
        WorkingDays,
        as_timedelta,
        describe,
    )
    from policies.schema import (
        CLOSED,
        Action,
        DateLimit,
        Escalation,
        PolicyDefinition,
        Recurring,
        Stage,
        duration,
    )
    from workflows import WORKFLOW_FOR_CASE_TYPE, workflow_id
    from workflows.types import (
        INVALID_DATA,
        NOT_ALLOWED,
        ActionRequest,
        AssignRequest,
        CaseInput,
        ChangePolicyRequest,
        PauseRequest,
        ResumeRequest,
        SuspensionRequest,
    )

RECORD_TIMEOUT = timedelta(seconds=30)
# The projection must catch up eventually, so recording retries without limit.
RECORD_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
MAIL_TIMEOUT = timedelta(seconds=60)
# The mail activity heartbeats every 2 s; a worker that dies mid-send is noticed this soon.
MAIL_HEARTBEAT = timedelta(seconds=10)
MAIL_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))
# While SMTP is down, mail is retried with backoff for a day; then a person must act.
MAIL_GIVE_UP = timedelta(hours=24)
# workflow.patched ids: these paths add commands that older histories do not have.
PATCH_MAIL_ON_ASSIGN = "mail-on-assign"
PATCH_MAIL_UNDELIVERED = "mail-undelivered"
PATCH_CLOCK_BEFORE_STEP = "clock-before-step"


@dataclass(frozen=True)
class _ClockItem:
    """Something the clock will do at an instant: remind, mark a breach, or escalate."""

    key: str
    at: datetime
    kind: str  # reminder | stage_breach | target_breach | escalation
    roles: tuple[str, ...] = ()
    level: int = 0
    about_target: bool = False
    label: str = ""  # a recurring item's name, e.g. "Welfare contact"
    due_at: datetime | None = None  # a recurring item's escalation: when the item fell due


def _refuse(message: str, kind: str = NOT_ALLOWED) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


class CaseProcess:
    """State, clocks and steps shared by every case workflow.

    A subclass adds @workflow.init (calling this __init__) and @workflow.run (calling run_case).
    """

    def __init__(self, case: CaseInput) -> None:
        # Set up from the input before any handler runs: an update can arrive in the very
        # first workflow task, before the run method has started.
        self._case = case
        self._policy: PolicyDefinition = case.policy
        self._advisor = case.advisor
        self._policy_version = case.policy_version
        # The data steps have given so far (the latest value of each), for rules across steps.
        self._data: dict[str, Any] = {}
        # Suspension from work: since when, how many suspensions and reviews so far (for keys).
        self._suspended_since: datetime | None = None
        self._last_review: datetime | None = None
        self._suspensions = 0
        self._reviews = 0
        # Linked cases this case opened that are still open (reference → type), and watchers.
        self._children: dict[str, str] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._stage_key = case.start_stage or case.policy.stages[0].key
        self._stage_started_at = case.stage_started_at or case.opened_at
        self._lock = asyncio.Lock()
        self._changed = False
        self._seq = 0
        self._pauses: list[tuple[datetime, datetime | None]] = []
        self._done: set[str] = set()
        self._replies: dict[str, CaseSnapshot] = {}
        self._deliveries: list[asyncio.Task[None]] = []
        self._status = "open"
        self._outcome: str | None = None
        self._closed_at: datetime | None = None
        self._pause_reason: str | None = None
        self._stage_visit = 0
        # Recurring items of this stage visit recorded as done: key → (times recorded, last day).
        self._recurring_done: dict[str, tuple[int, date]] = {}

    # ---- the main loop -------------------------------------------------------------

    async def run_case(self) -> CaseSnapshot:
        async with self._lock:
            await self._record(
                "opened", self._case.advisor, {"policy_version": self._case.policy_version}
            )

        while self._status != "closed":
            async with self._lock:
                await self._fire_due_items()
            if self._status == "closed":
                # A step closed the case while this loop waited for the lock; nothing will wake it.
                break
            next_at = self._next_clock_instant()
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
        async with self._lock:
            if request.request_id in self._replies:
                return self._replies[request.request_id]
            await self._catch_up_clock()
            self._check_action(request)  # the state may have moved while we waited
            action = self._stage().action(request.action)
            assert action
            detail: dict[str, Any] = {"action": request.action, "data": request.data}
            self._data.update(request.data)
            if action.records is not None:
                detail.update(self._record_recurring(action.records, request.data))
                await self._record("recurring_recorded", request.actor, detail)
                return self._reply(request.request_id)
            if action.opens:
                detail["opened"] = await self._open_linked_case(action.opens, request.actor)
            if "outcome" in request.data:
                self._outcome = str(request.data["outcome"])
            if action.to == CLOSED:
                self._status = "closed"
                self._closed_at = workflow.now()
                detail["to"] = CLOSED
                await self._record("closed", request.actor, detail)
            else:
                detail["from"] = self._stage_key
                self._enter_stage(action.to)
                detail["to"] = action.to
                await self._record("advanced", request.actor, detail)
            return self._reply(request.request_id)

    @act.validator
    def _validate_act(self, request: ActionRequest) -> None:
        if request.request_id not in self._replies:
            self._check_action(request)

    @workflow.update
    async def pause(self, request: PauseRequest) -> CaseSnapshot:
        async with self._lock:
            if request.request_id in self._replies:
                return self._replies[request.request_id]
            await self._catch_up_clock()
            self._check_pause(request)
            self._pauses.append((workflow.now(), None))
            self._pause_reason = request.reason.strip()
            self._status = "paused"
            await self._record("paused", request.actor, {"reason": self._pause_reason})
            return self._reply(request.request_id)

    @pause.validator
    def _validate_pause(self, request: PauseRequest) -> None:
        if request.request_id not in self._replies:
            self._check_pause(request)

    @workflow.update
    async def resume(self, request: ResumeRequest) -> CaseSnapshot:
        async with self._lock:
            if request.request_id in self._replies:
                return self._replies[request.request_id]
            self._check_resume()
            began, _ = self._pauses[-1]
            self._pauses[-1] = (began, workflow.now())
            self._status = "open"
            self._pause_reason = None
            paused_for = workflow.now() - began
            await self._record(
                "resumed", request.actor, {"paused_seconds": int(paused_for.total_seconds())}
            )
            return self._reply(request.request_id)

    @resume.validator
    def _validate_resume(self, request: ResumeRequest) -> None:
        if request.request_id not in self._replies:
            self._check_resume()

    @workflow.update
    async def assign(self, request: AssignRequest) -> CaseSnapshot:
        async with self._lock:
            if request.request_id in self._replies:
                return self._replies[request.request_id]
            self._check_open()
            previous, self._advisor = self._advisor, request.advisor
            await self._record("assigned", request.actor, {"from": previous, "to": request.advisor})
            told = request.advisor not in (previous, request.actor)  # nobody is told what they did
            if told and workflow.patched(PATCH_MAIL_ON_ASSIGN):
                self._deliveries.append(
                    asyncio.create_task(self._deliver(self._assigned_notification()))
                )
            return self._reply(request.request_id)

    @assign.validator
    def _validate_assign(self, request: AssignRequest) -> None:
        if request.request_id not in self._replies:
            self._check_open()

    @workflow.update
    async def suspension(self, request: SuspensionRequest) -> CaseSnapshot:
        """Suspend the employee from work, record a review of the suspension, or lift it."""
        async with self._lock:
            if request.request_id in self._replies:
                return self._replies[request.request_id]
            self._check_suspension(request)
            now, note = workflow.now(), request.note.strip()
            if request.step == "suspend":
                self._suspended_since, self._last_review = now, None
                self._suspensions += 1
                self._reviews = 0
                await self._record("suspended", request.actor, {"reason": note})
            elif request.step == "review":
                self._last_review = now
                self._reviews += 1
                await self._record("suspension_reviewed", request.actor, {"note": note})
            else:
                since = self._suspended_since
                assert since is not None
                self._suspended_since = None
                days = (now - since).days
                await self._record("suspension_lifted", request.actor, {"note": note, "days": days})
            return self._reply(request.request_id)

    @suspension.validator
    def _validate_suspension(self, request: SuspensionRequest) -> None:
        if request.request_id not in self._replies:
            self._check_suspension(request)

    @workflow.update
    async def change_policy(self, request: ChangePolicyRequest) -> CaseSnapshot:
        """Move the case to a newer version of its policy: explicit, recorded, never silent."""
        async with self._lock:
            if request.request_id in self._replies:
                return self._replies[request.request_id]
            self._check_policy_change(request)
            previous = self._policy_version
            self._policy, self._policy_version = request.policy, request.policy_version
            await self._record(
                "policy_changed",
                request.actor,
                {"from_version": previous, "to_version": request.policy_version},
            )
            return self._reply(request.request_id)

    @change_policy.validator
    def _validate_change_policy(self, request: ChangePolicyRequest) -> None:
        if request.request_id not in self._replies:
            self._check_policy_change(request)

    # ---- rules a step must satisfy ---------------------------------------------------

    def _check_suspension(self, request: SuspensionRequest) -> None:
        self._check_open()
        if self._policy.suspension is None:
            raise _refuse(f"The {self._policy.name} policy has no suspension from work.")
        if request.step not in ("suspend", "review", "lift"):
            raise _refuse(f"'{request.step}' is not a suspension step.", INVALID_DATA)
        if request.step == "suspend" and self._suspended_since is not None:
            raise _refuse("The employee is already suspended.")
        if request.step != "suspend" and self._suspended_since is None:
            raise _refuse("The employee is not suspended.")
        if request.step != "lift" and not request.note.strip():
            wanted = "the reason for the suspension" if request.step == "suspend" else "a note"
            raise _refuse(f"Give {wanted}.", INVALID_DATA)

    def _check_policy_change(self, request: ChangePolicyRequest) -> None:
        self._check_open()
        if request.policy.case_type != self._policy.case_type:
            raise _refuse(f"Version {request.policy_version} is for another case type.")
        if request.policy_version <= self._policy_version:
            raise _refuse(f"The case already follows version {self._policy_version}.")
        if not request.policy.has_stage(self._stage_key):
            raise _refuse(
                f"The case is in stage '{self._stage_key}', which version "
                f"{request.policy_version} does not have; finish or move the stage first."
            )

    def _check_open(self) -> None:
        if self._status == "closed":
            raise _refuse("The case is closed; nothing more can be done in it.")

    def _check_action(self, request: ActionRequest) -> None:
        self._check_open()
        if self._status == "paused":
            raise _refuse("The case is paused; resume it before taking the next step.")
        stage = self._stage()
        action = stage.action(request.action)
        if action is None:
            allowed = ", ".join(a.key for a in stage.actions)
            raise _refuse(
                f"'{request.action}' is not a step of the stage '{stage.name}'. "
                f"Allowed now: {allowed}."
            )
        self._check_children(stage, action)
        missing = [key for key in action.requires if _blank(request.data.get(key))]
        if missing:
            raise _refuse(f"'{action.label}' needs: {', '.join(missing)}.", INVALID_DATA)
        self._check_declared_types(request.data)
        if action.records is not None:
            self._check_recording(stage, action.records, request.data)
        if action.notice:
            self._check_notice(
                request.data[action.notice.field],
                action.notice.field,
                duration(action.notice.at_least),
            )
        if action.latest:
            self._check_latest(request.data[action.latest.field], action.latest)

    def _check_recording(self, stage: Stage, item_key: str, data: dict[str, Any]) -> None:
        """The day a recurring item was done: not ahead, not before the stage or the last one."""
        spec = _recurring_spec(stage, item_key)
        if spec.done_on is None:
            return
        done_on = _iso_date(data.get(spec.done_on))
        if done_on is None:
            raise _refuse(f"{spec.done_on} must be a date such as 2026-12-01.", INVALID_DATA)
        if done_on > workflow.now().astimezone(LONDON).date():
            raise _refuse(f"{spec.done_on} {done_on.isoformat()} is in the future.", INVALID_DATA)
        earliest = self._stage_started_at.astimezone(LONDON).date()
        _, last = self._recurring_done.get(item_key, (0, earliest))
        if done_on < max(earliest, last):
            raise _refuse(
                f"{spec.done_on} may not be before {max(earliest, last).isoformat()} (the start "
                f"of this stage or the last {spec.name.lower()} recorded).",
                INVALID_DATA,
            )

    def _record_recurring(self, item_key: str, data: dict[str, Any]) -> dict[str, Any]:
        """The item was done: its clock restarts from that day (the step's day if no date)."""
        spec = _recurring_spec(self._stage(), item_key)
        done_on = _iso_date(data.get(spec.done_on)) if spec.done_on else None
        day = done_on or workflow.now().astimezone(LONDON).date()
        times, _ = self._recurring_done.get(item_key, (0, day))
        self._recurring_done[item_key] = (times + 1, day)
        next_due = due_instant(_midday(day), duration(spec.every))
        return {
            "item": item_key,
            "name": spec.name,
            "done_on": day.isoformat(),
            "next_due": next_due.isoformat(),
        }

    def _check_latest(self, value: object, limit: DateLimit) -> None:
        earlier = _iso_date(self._data.get(limit.after))
        if earlier is None:
            raise _refuse(f"No {limit.after} has been recorded yet, so this step cannot be taken.")
        when = _iso_date(value)
        if when is None:
            raise _refuse(f"{limit.field} must be a date such as 2026-12-01.", INVALID_DATA)
        by = duration(limit.by)
        if isinstance(by, WorkingDays):
            last = add_working_days(earlier, by.days)
        else:
            last = earlier + as_timedelta(by)
        if when > last:
            raise _refuse(
                f"{limit.field} may be at most {describe(by)} after {earlier.isoformat()}: "
                f"{last.isoformat()} or earlier.",
                INVALID_DATA,
            )

    def _check_children(self, stage: Stage, action: Action) -> None:
        """A case waits for, and cannot close before, the linked cases it opened."""
        waiting = ", ".join(self._children)
        if self._children and stage.waits_for_children:
            raise _refuse(f"This stage waits for {waiting} to close before the next step.")
        if self._suspended_since is not None and action.to == CLOSED:
            raise _refuse("Lift the suspension before the case closes.")
        if self._children and action.to == CLOSED:
            raise _refuse(f"The case cannot close while {waiting} is still open.")
        if action.opens and action.opens not in WORKFLOW_FOR_CASE_TYPE:
            raise _refuse(f"This step opens a '{action.opens}' case, which ercase cannot run.")

    async def _open_linked_case(self, case_type: str, actor: str) -> str:
        """Open the linked case's row, start its workflow, and watch for it to close."""
        linked = await workflow.execute_activity(
            OPEN_LINKED_CASE,
            LinkedCaseRequest(
                parent_id=self._case.case_id,
                case_type=case_type,
                # The sequence number of the event about to record this step: unique per case.
                origin=f"{self._case.case_id}:{self._seq + 1}",
                actor=actor,
                opened_at=workflow.now(),
            ),
            result_type=LinkedCase,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        child = await workflow.start_child_workflow(
            WORKFLOW_FOR_CASE_TYPE[case_type],
            CaseInput(
                case_id=linked.case_id,
                organisation_id=self._case.organisation_id,
                policy=PolicyDefinition.model_validate(linked.policy),
                policy_version=linked.policy_version,
                opened_at=linked.opened_at,
                advisor=linked.advisor,
                risk=linked.risk,
            ),
            id=workflow_id(linked.case_id),
            result_type=CaseSnapshot,
            # The linked case has its own life: it must not end if this one ever does.
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        self._children[linked.case_id] = case_type
        self._watchers.append(asyncio.create_task(self._watch_linked_case(linked.case_id, child)))
        return linked.case_id

    async def _watch_linked_case(
        self, case_id: str, child: ChildWorkflowHandle[Any, CaseSnapshot]
    ) -> None:
        outcome: str | None
        try:
            outcome = (await child).outcome
        except ChildWorkflowError:
            outcome = None  # ended without closing (e.g. terminated by an administrator)
        async with self._lock:
            del self._children[case_id]
            await self._record("linked_case_closed", None, {"case": case_id, "outcome": outcome})

    def _check_declared_types(self, data: dict[str, Any]) -> None:
        """Dates must be dates and choices one of the policy's choices, as the policy declares."""
        for key, value in data.items():
            declared = self._policy.fields.get(key)
            if declared is None or _blank(value):
                continue
            if declared.type == "date" and _iso_date(value) is None:
                raise _refuse(f"{key} must be a date such as 2026-12-01.", INVALID_DATA)
            if declared.type == "choice" and value not in declared.choices:
                raise _refuse(f"{key} must be one of: {', '.join(declared.choices)}.", INVALID_DATA)

    def _check_notice(self, value: object, field: str, at_least: Any) -> None:
        # The whole value must be an ISO date or date-time (text): not a number, nor a date
        # with something else after it.
        when = _iso_date(value)
        if when is None:
            raise _refuse(f"{field} must be a date such as 2026-12-01.", INVALID_DATA)
        today = workflow.now().astimezone(LONDON).date()
        if isinstance(at_least, WorkingDays):
            earliest = add_working_days(today, at_least.days)
        else:
            earliest = today + as_timedelta(at_least)
        if when < earliest:
            raise _refuse(
                f"{field} must give at least {describe(at_least)}' notice: "
                f"{earliest.isoformat()} or later.",
                INVALID_DATA,
            )

    def _check_pause(self, request: PauseRequest) -> None:
        self._check_open()
        if self._status == "paused":
            raise _refuse("The case is already paused.")
        if not request.reason.strip():
            raise _refuse("Give a reason for pausing the clock.", INVALID_DATA)

    def _check_resume(self) -> None:
        self._check_open()
        if self._status != "paused":
            raise _refuse("The case is not paused.")

    # ---- the clock ---------------------------------------------------------------

    def _stage(self) -> Stage:
        return self._policy.stage(self._stage_key)

    def _enter_stage(self, key: str) -> None:
        self._stage_key = key
        self._stage_started_at = workflow.now()
        self._stage_visit += 1
        self._recurring_done = {}

    def _stage_due(self) -> datetime | None:
        stage = self._stage()
        if stage.due is None:
            return None
        base = due_instant(self._stage_started_at, duration(stage.due))
        return base + paused_between(self._pauses, self._stage_started_at, workflow.now())

    def _case_due(self) -> datetime | None:
        if self._policy.target is None:
            return None
        base = due_instant(self._case.opened_at, duration(self._policy.target))
        return base + paused_between(self._pauses, self._case.opened_at, workflow.now())

    def _suspension_review_due(self) -> datetime | None:
        if self._suspended_since is None or self._policy.suspension is None:
            return None
        since = self._last_review or self._suspended_since
        return due_instant(since, duration(self._policy.suspension.review_every))

    def _suspension_items(self) -> list[_ClockItem]:
        """A suspension's review clock runs while the employee is out, paused case or not."""
        review_due = self._suspension_review_due()
        if review_due is None or self._status == "closed":
            return []
        assert self._policy.suspension is not None
        prefix = f"suspension{self._suspensions}:review{self._reviews}"
        items = [_ClockItem(f"{prefix}:due", review_due, "suspension_review", ("advisor",))]
        for level, escalation in enumerate(self._policy.suspension.escalations):
            after = as_timedelta(duration(escalation.after))
            items.append(
                _ClockItem(
                    f"{prefix}:escalation:{level}",
                    review_due + after,
                    "suspension_escalation",
                    tuple(escalation.notify),
                    level,
                )
            )
        return items

    def _clock_items(self) -> list[_ClockItem]:
        """Everything the clock will do from the current state; stage clocks stop when paused."""
        items = self._suspension_items()
        if self._status != "open":
            return [item for item in items if item.key not in self._done]
        stage = self._stage()
        stage_due = self._stage_due()
        prefix = f"stage{self._stage_visit}:{stage.key}"
        if stage_due is not None:
            for index, spec in enumerate(stage.reminders):
                at = stage_due - as_timedelta(duration(spec))
                if at > self._stage_started_at:
                    items.append(
                        _ClockItem(f"{prefix}:reminder:{index}", at, "reminder", ("advisor",))
                    )
            items.append(_ClockItem(f"{prefix}:breach", stage_due, "stage_breach"))
            items += _escalations(prefix, stage_due, stage.escalations, about_target=False)
        items += self._recurring_items(stage, prefix)
        case_due = self._case_due()
        if case_due is not None:
            items.append(_ClockItem("target:breach", case_due, "target_breach"))
            items += _escalations(
                "target", case_due, self._policy.target_escalations, about_target=True
            )
        return [item for item in items if item.key not in self._done]

    def _recurring_items(self, stage: Stage, prefix: str) -> list[_ClockItem]:
        """The next of each thing the stage wants done again and again (welfare contact), and
        the next escalation of one left unrecorded.

        Policies without `recurring` get nothing here, so their histories replay unchanged.
        Recording an item (an action that `records` it) starts a new series of keys counted
        from the day it was done, so the old series' pending reminder and escalations are
        gone. No workflow.patched is needed: only a policy with `records` or a recurring
        item's `escalations` changes what happens here, and no policy snapshot in a running
        case's history can have them (the schema before them refused unknown fields).
        """
        items = []
        for spec in stage.recurring:
            times, day = self._recurring_done.get(spec.key, (0, None))
            series = f"{prefix}:{spec.key}" + (f":done{times}" if times else "")
            start = self._stage_started_at if day is None else _midday(day)
            every = duration(spec.every)

            def falls_due(
                number: int, start: datetime = start, every: Duration = every
            ) -> datetime:
                return due_instant(start, _times(every, number))

            number = _first_not_done(self._done, f"{series}:{{}}")
            items.append(
                _ClockItem(
                    f"{series}:{number}",
                    falls_due(number),
                    "recurring",
                    tuple(spec.notify),
                    label=spec.name,
                )
            )
            for level, escalation in enumerate(spec.escalations):
                number = _first_not_done(self._done, f"{series}:{{}}:escalation:{level}")
                due = falls_due(number)
                items.append(
                    _ClockItem(
                        f"{series}:{number}:escalation:{level}",
                        due + as_timedelta(duration(escalation.after)),
                        "recurring_escalation",
                        tuple(escalation.notify),
                        level,
                        label=spec.name,
                        due_at=due,
                    )
                )
        return items

    def _next_clock_instant(self) -> datetime | None:
        return min((item.at for item in self._clock_items()), default=None)

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
        due = sorted(
            (item for item in self._clock_items() if item.at <= now), key=lambda item: item.at
        )
        stage_due = self._stage_due()
        for item in due:
            self._done.add(item.key)
            if item.kind in ("suspension_review", "suspension_escalation"):
                await self._suspension_review_missed(item)
                continue
            if item.kind == "reminder" and stage_due is not None and stage_due <= now:
                continue  # a reminder for a deadline already passed helps nobody
            if item.kind in ("stage_breach", "target_breach"):
                await self._record(item.kind, None, {"due_at": item.at.isoformat()})
                continue
            if item.kind == "recurring":
                await self._recurring_due(item)
                continue
            if item.kind == "recurring_escalation":
                await self._recurring_missed(item)
                continue
            about = "whole case" if item.about_target else self._stage().name
            deadline = self._case_due() if item.about_target else stage_due
            assert deadline is not None
            mail_kind = item.kind
            if item.kind == "escalation" and item.level == 0:
                mail_kind = "breach"
            notification = CaseNotification(
                case_id=self._case.case_id,
                event_key=item.key,
                kind=mail_kind,
                roles=list(item.roles),
                subject_stage=about,
                due_at=deadline,
                level=item.level,
                advisor=self._advisor,
                stage_key=None if item.about_target else self._stage_key,
            )
            await self._record(
                item.kind,
                None,
                {"key": item.key, "roles": list(item.roles), "due_at": deadline.isoformat()},
            )
            self._deliveries.append(asyncio.create_task(self._deliver(notification)))
        return bool(due)

    async def _suspension_review_missed(self, item: _ClockItem) -> None:
        """The review fell due (mail the advisor), or was missed by so long (escalate)."""
        review_due = self._suspension_review_due()
        assert review_due is not None
        await self._record(
            "suspension_review_due" if item.kind == "suspension_review" else "suspension_escalated",
            None,
            {"key": item.key, "roles": list(item.roles), "due_at": review_due.isoformat()},
        )
        notification = CaseNotification(
            case_id=self._case.case_id,
            event_key=item.key,
            kind="suspension_review" if item.kind == "suspension_review" else "escalation",
            roles=list(item.roles),
            subject_stage="suspension review",
            due_at=review_due,
            level=item.level + 1 if item.kind == "suspension_escalation" else 0,
            advisor=self._advisor,
            stage_key=None,
        )
        self._deliveries.append(asyncio.create_task(self._deliver(notification)))

    async def _recurring_due(self, item: _ClockItem) -> None:
        """A recurring item fell due: on the timeline, and the policy's roles are told."""
        await self._announce_recurring(item, "recurring_due", "reminder", item.at, level=0)

    async def _recurring_missed(self, item: _ClockItem) -> None:
        """A recurring item was not recorded this long after it fell due: escalate, as the
        stage deadlines do (level 1 and up: the breach itself was the item's own reminder)."""
        assert item.due_at is not None
        await self._announce_recurring(
            item, "recurring_escalated", "escalation", item.due_at, level=item.level + 1
        )

    async def _announce_recurring(
        self, item: _ClockItem, event: str, kind: str, due_at: datetime, level: int
    ) -> None:
        await self._record(
            event,
            None,
            {
                "key": item.key,
                "name": item.label,
                "roles": list(item.roles),
                "due_at": due_at.isoformat(),
            },
        )
        notification = CaseNotification(
            case_id=self._case.case_id,
            event_key=item.key,
            kind=kind,
            roles=list(item.roles),
            subject_stage=item.label,
            due_at=due_at,
            level=level,
            advisor=self._advisor,
            stage_key=None,
        )
        self._deliveries.append(asyncio.create_task(self._deliver(notification)))

    def _assigned_notification(self) -> CaseNotification:
        stage_due = self._stage_due()
        return CaseNotification(
            case_id=self._case.case_id,
            event_key=f"assigned:{self._seq}",  # the seq of the "assigned" event: unique
            kind="assigned",
            roles=["advisor"],
            subject_stage=self._stage().name if stage_due is not None else "whole case",
            due_at=stage_due or self._case_due(),
            advisor=self._advisor,
            stage_key=self._stage_key,
        )

    async def _deliver(self, notification: CaseNotification) -> None:
        # Mail does not hold the lock: an SMTP outage must never block an advisor's step.
        try:
            outcome = await workflow.execute_activity(
                SEND_CASE_NOTIFICATION,
                notification,
                start_to_close_timeout=MAIL_TIMEOUT,
                heartbeat_timeout=MAIL_HEARTBEAT,
                schedule_to_close_timeout=MAIL_GIVE_UP,
                retry_policy=MAIL_RETRY,
                result_type=NotificationOutcome,
            )
        except ActivityError:
            if not workflow.patched(PATCH_MAIL_UNDELIVERED):
                raise
            await self._undelivered(notification)
            return
        if outcome.undelivered and workflow.patched(PATCH_MAIL_UNDELIVERED):
            await self._undelivered(notification)

    async def _undelivered(self, notification: CaseNotification) -> None:
        """Mail that did not reach everyone goes on the case's timeline, so a person acts."""
        count = await workflow.execute_activity(
            MARK_MAIL_UNDELIVERED,
            UndeliveredMail(notification.case_id, notification.event_key),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            result_type=int,
        )
        async with self._lock:
            await self._record(
                "mail_undelivered",
                None,
                {"key": notification.event_key, "mail": notification.kind, "undelivered": count},
            )

    # ---- recording -----------------------------------------------------------------

    def _breached(self) -> bool:
        if self._status == "closed":
            return any(key.endswith("breach") for key in self._done)
        now = workflow.now()
        stage_due, case_due = self._stage_due(), self._case_due()
        if self._status == "paused":
            # The clock is stopped: a breach stands only if it happened before the pause.
            now = self._pauses[-1][0]
        return any(due is not None and due < now for due in (stage_due, case_due))

    def _snapshot(self) -> CaseSnapshot:
        stage_open = self._status != "closed"
        return CaseSnapshot(
            status=self._status,
            stage_key=self._stage_key if stage_open else CLOSED,
            stage_name=self._stage().name if stage_open else "Closed",
            stage_started_at=self._stage_started_at
            if stage_open
            else self._closed_at or workflow.now(),
            stage_due_at=self._stage_due() if stage_open else None,
            due_at=self._case_due(),
            breached=self._breached(),
            advisor=self._advisor,
            policy_version=self._policy_version,
            suspended_since=self._suspended_since,
            suspension_review_due=self._suspension_review_due(),
            actions=[a.key for a in self._stage().actions] if self._status == "open" else [],
            outcome=self._outcome,
            closed_at=self._closed_at,
            paused_reason=self._pause_reason,
        )

    async def _record(self, kind: str, actor: str | None, detail: dict[str, Any]) -> None:
        """Write the change to the read model before anyone is told it happened."""
        self._seq += 1
        self._changed = True
        record = CaseEventRecord(
            case_id=self._case.case_id,
            seq=self._seq,
            kind=kind,
            at=workflow.now(),
            actor=actor,
            stage_key=self._stage_key,
            snapshot=self._snapshot(),
            detail=detail,
        )
        await workflow.execute_activity(
            RECORD_CASE_EVENT,
            record,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    def _reply(self, request_id: str | None) -> CaseSnapshot:
        snapshot = self._snapshot()
        if request_id:
            self._replies[request_id] = snapshot
        return snapshot


def _escalations(
    prefix: str, due: datetime, escalations: list[Escalation], *, about_target: bool
) -> list[_ClockItem]:
    return [
        _ClockItem(
            f"{prefix}:escalation:{level}",
            due + as_timedelta(duration(escalation.after)),
            "escalation",
            tuple(escalation.notify),
            level,
            about_target,
        )
        for level, escalation in enumerate(escalations)
    ]


def _times(every: Duration, number: int) -> Duration:
    """`every` taken `number` times: the number-th occurrence of a recurring item."""
    match every:
        case Exact(delta):
            return Exact(delta * number)
        case CalendarDays(days):
            return CalendarDays(days * number)
        case WorkingDays(days):
            return WorkingDays(days * number)
    raise TypeError(every)


def _first_not_done(done: set[str], pattern: str) -> int:
    """The first occurrence number whose key (`pattern` with the number) has not fired."""
    number = 1
    while pattern.format(number) in done:
        number += 1
    return number


def _midday(day: date) -> datetime:
    """A day as an instant inside it (London), for clocks counted in days from that day."""
    return datetime.combine(day, time(12), tzinfo=LONDON)


def _recurring_spec(stage: Stage, key: str) -> Recurring:
    spec = next((each for each in stage.recurring if each.key == key), None)
    if spec is None:  # the policy's own checks make this impossible for a published policy
        raise _refuse(f"The stage '{stage.name}' has no recurring item '{key}'.")
    return spec


def _iso_date(value: object) -> date | None:
    """The date an ISO date or date-time text names; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.strip()).date()
    except ValueError:
        return None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
