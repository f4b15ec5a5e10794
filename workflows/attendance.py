"""Attendance monitoring: one long-running workflow per employee runs the sickness policy's
triggers on their absence record.

The absence feed (POST /api/absences and its CSV import) sends the employee's episodes as the
records hold them (signal-with-start, so the first episode starts the monitor). The monitor
looks at the figures on every feed and at the start of every day on which something can
change: the day an open spell would cross a threshold or reach long-term sickness, the day
after a fit note's last day (the return to work), the first day of an episode sent ahead.
The figures are pure functions (policies/attendance.py).

When triggers fire, an activity records them with what became of them (a case opened,
sent to the case already open, or not opened and why) and opens a sickness case at the stage
furthest on in the policy among those the triggers name, through the same case rows and
references as any other case; its own workflow is started here as an abandoned child (it
lives on whatever this monitor does). While a sickness case is open no second one opens:
the open case is told instead, and its stage's `moves_on` decides (a further trigger moves
it a stage on). A return to work is told to the open case, which leaves its long-term stage
(cancelling what was pending there).

The workflow id carries the organisation's id and the employee id, no name. It continues
as new after a bounded number of turns, or sooner when Temporal suggests, carrying only the
episodes still inside the longest rolling period and the trigger bookkeeping.
"""

import contextlib
from datetime import date, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.types import (
        FIND_OPEN_SICKNESS_CASE,
        OPEN_ATTENDANCE_CASE,
        AttendanceCase,
        AttendanceCaseRequest,
        EmployeeRef,
        FoundCase,
    )
    from policies.attendance import (
        Episode,
        Firing,
        fired,
        lead_firing,
        next_firing_day,
        period_days,
        spells,
    )
    from policies.calendar import LONDON
    from policies.schema import PolicyDefinition, Triggers
    from workflows import WORKFLOW_FOR_CASE_TYPE, attendance_workflow_id, workflow_id
    from workflows.types import (
        AbsenceFeed,
        AttendanceEvent,
        AttendanceInput,
        AttendanceState,
        CaseInput,
    )

RECORD_TIMEOUT = timedelta(seconds=30)
RECORD_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
DEFAULT_LOOK_BACK = 366


def _today() -> date:
    return workflow.now().astimezone(LONDON).date()


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON)


def _as_json(firing: Firing) -> dict[str, Any]:
    return {
        "trigger": firing.trigger,
        "day": firing.day.isoformat(),
        "opens_at": firing.opens_at,
        "threshold": firing.threshold,
        "period_start": firing.period_start.isoformat(),
        "spells": firing.spells,
        "working_days_lost": firing.working_days_lost,
        "bradford": firing.bradford,
        "spell_started": firing.spell_started.isoformat() if firing.spell_started else None,
        "days_off": firing.days_off,
    }


def look_back_days(triggers: Triggers | None) -> int:
    """The longest rolling period of the triggers: older episodes no longer count."""
    if triggers is None:
        return DEFAULT_LOOK_BACK
    periods = [
        period_days(trigger.within)
        for trigger in (triggers.episodes, triggers.days_lost, triggers.bradford)
        if trigger is not None
    ]
    return max(periods, default=DEFAULT_LOOK_BACK)


@workflow.defn
class AttendanceMonitor:
    @workflow.init
    def __init__(self, state: AttendanceInput) -> None:
        self._organisation_id = state.organisation_id
        self._employee_id = state.employee_id
        self._triggers = state.triggers
        self._episodes = list(state.episodes)
        self._counted_after = state.counted_after
        self._long_term_done = list(state.long_term_done)
        self._open_spells = list(state.open_spells)
        self._firings = state.firings
        self._stages = list(state.stages)
        self._region = state.holiday_region
        self._turns_before_continuing = state.turns_before_continuing
        self._changed = False

    @workflow.run
    async def run(self, state: AttendanceInput) -> None:
        turns = 0
        while True:
            self._changed = False
            await self._evaluate()
            turns += 1
            if (
                turns >= self._turns_before_continuing
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried())
            wake = self._next_wake()
            if wake is None:
                await workflow.wait_condition(lambda: self._changed)
                continue
            delay = wake - workflow.now()
            if delay <= timedelta(0):
                continue
            with contextlib.suppress(TimeoutError):  # the timeout is the next day to look at
                await workflow.wait_condition(lambda: self._changed, timeout=delay)

    @workflow.signal
    def feed(self, feed: AbsenceFeed) -> None:
        self._episodes = list(feed.episodes)
        self._triggers = feed.triggers
        self._stages = list(feed.stages)
        self._region = feed.holiday_region
        self._changed = True

    @workflow.query
    def state(self) -> AttendanceState:
        return AttendanceState(
            episodes=len(self._episodes),
            counted_after=self._counted_after,
            long_term_done=list(self._long_term_done),
            open_spells=list(self._open_spells),
            firings=self._firings,
            next_wake=self._next_wake(),
        )

    # ---- looking at the figures ----------------------------------------------------

    def _plain_episodes(self) -> list[Episode]:
        return [Episode(each.first_day, each.last_day) for each in self._episodes]

    async def _evaluate(self) -> None:
        if self._triggers is None:
            return
        today = _today()
        episodes = self._plain_episodes()
        all_spells = spells(episodes)
        returned = [
            spell
            for spell in all_spells
            if spell.first_day in self._open_spells
            and spell.last_day is not None
            and spell.last_day < today
        ]
        self._open_spells = [spell.first_day for spell in all_spells if spell.open_on(today)]
        firings = fired(
            self._triggers,
            episodes,
            today,
            self._counted_after,
            frozenset(self._long_term_done),
            self._region,
        )
        if firings:
            await self._act_on(firings, today)
        for spell in returned:
            assert spell.last_day is not None
            await self._tell_open_case(
                AttendanceEvent(
                    "returned",
                    {
                        "spell_started": spell.first_day.isoformat(),
                        "last_day_off": spell.last_day.isoformat(),
                        "returned_on": (spell.last_day + timedelta(days=1)).isoformat(),
                    },
                )
            )

    def _next_wake(self) -> datetime | None:
        """The start of the next day on which something can change without a feed."""
        if self._triggers is None:
            return None
        today = _today()
        episodes = self._plain_episodes()
        days = [
            spell.last_day + timedelta(days=1)  # the return to work
            for spell in spells(episodes)
            if spell.open_on(today) and spell.last_day is not None
        ]
        days += [spell.first_day for spell in spells(episodes) if spell.first_day > today]
        firing_day = next_firing_day(
            self._triggers, episodes, today, self._counted_after, frozenset(self._long_term_done)
        )
        if firing_day is not None:
            days.append(firing_day)
        return _start_of(min(days)) if days else None

    # ---- acting on triggers --------------------------------------------------------

    async def _act_on(self, firings: list[Firing], today: date) -> None:
        if any(firing.trigger != "long_term" for firing in firings):
            self._counted_after = today
        self._long_term_done += [
            firing.spell_started for firing in firings if firing.spell_started is not None
        ]
        self._firings += 1
        # Several at once: the case opens at the stage furthest on in the policy's order.
        lead = lead_firing(firings, self._stages)
        origin = f"{attendance_workflow_id(self._organisation_id, self._employee_id)}"
        origin += f":{self._firings}"
        try:
            case = await workflow.execute_activity(
                OPEN_ATTENDANCE_CASE,
                AttendanceCaseRequest(
                    organisation_id=self._organisation_id,
                    employee_id=self._employee_id,
                    origin=origin,
                    stage_key=lead.opens_at,
                    opened_at=workflow.now(),
                    firings=[_as_json(firing) for firing in firings],
                ),
                result_type=AttendanceCase,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
        except ActivityError as error:
            # Histories from before refusals were recorded (the activity then failed for good);
            # today the activity records a refusal and answers with its reason instead.
            workflow.logger.warning("attendance case not opened: %s", error.cause)
            return
        if case.case_id is None:
            # Not opened: recorded with the reason on the attendance record for an advisor.
            workflow.logger.info("attendance case not opened: %s", case.reason)
            return
        if case.opened:
            await workflow.start_child_workflow(
                WORKFLOW_FOR_CASE_TYPE["sickness"],
                CaseInput(
                    case_id=case.case_id,
                    organisation_id=self._organisation_id,
                    policy=PolicyDefinition.model_validate(case.policy),
                    policy_version=case.policy_version,
                    opened_at=case.opened_at,
                    advisor=case.advisor,
                    risk=case.risk,
                    start_stage=case.stage_key,
                    stage_started_at=case.opened_at,
                    holiday_region=case.holiday_region,
                ),
                id=workflow_id(case.case_id),
                # The case has its own life: it must not end when this run continues as new.
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
            return
        kind = "long_term" if lead.trigger == "long_term" else "trigger"
        await self._signal(
            case.case_id, AttendanceEvent(kind, {"triggers": [*map(_as_json, firings)]})
        )

    async def _tell_open_case(self, event: AttendanceEvent) -> None:
        found = await workflow.execute_activity(
            FIND_OPEN_SICKNESS_CASE,
            EmployeeRef(self._organisation_id, self._employee_id),
            result_type=FoundCase,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        if found.case_id is not None:
            await self._signal(found.case_id, event)

    async def _signal(self, case_id: str, event: AttendanceEvent) -> None:
        handle = workflow.get_external_workflow_handle(workflow_id(case_id))
        try:
            await handle.signal("attendance", event)
        except FailureError:
            # The case closed between the look-up and the signal: nothing is pending there.
            workflow.logger.info("case %s closed before it could be told", case_id)

    # ---- continuing as new ---------------------------------------------------------

    def _carried(self) -> AttendanceInput:
        oldest = _today() - timedelta(days=look_back_days(self._triggers))
        kept = [each for each in self._episodes if each.last_day is None or each.last_day >= oldest]
        firsts = {
            spell.first_day for spell in spells(Episode(e.first_day, e.last_day) for e in kept)
        }
        return AttendanceInput(
            organisation_id=self._organisation_id,
            employee_id=self._employee_id,
            triggers=self._triggers,
            episodes=kept,
            counted_after=self._counted_after,
            long_term_done=[day for day in self._long_term_done if day in firsts],
            open_spells=list(self._open_spells),
            firings=self._firings,
            turns_before_continuing=self._turns_before_continuing,
            stages=list(self._stages),
            holiday_region=self._region,
        )
