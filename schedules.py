"""Temporal Schedules for recurring mail, created or brought up to date when the worker starts.

- daily-digest: each advisor's digest, working days at 08:00 Europe/London. Weekends are left
  out by the calendar; England & Wales bank holidays are listed as days to skip, for the next
  two years from each worker start.
- weekly-report: the HR directors' report, Mondays at 08:00 Europe/London.
- retention-purge: closed cases past their retention period purged, daily at 08:00
  Europe/London (not mail, but recurring work of the same shape).

Schedule ids carry the task queue ("ercase-daily-digest"), so deployments that share a
namespace on different task queues keep their own.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from policies.calendar import is_working_day
from workflows.digests import DailyDigest, WeeklyReport
from workflows.retention import RetentionPurge

TIME_ZONE = "Europe/London"
SKIP_HORIZON = timedelta(days=2 * 366)
# A digest that could not start by late morning (server down) is not worth sending late.
CATCHUP_WINDOW = timedelta(hours=4)
RUN_TIMEOUT = timedelta(days=1)
MONDAY_TO_FRIDAY = ScheduleRange(1, 5)  # Temporal counts days of the week from Sunday = 0
MONDAY = ScheduleRange(1)
EVERY_DAY = ScheduleRange(0, 6)


@dataclass(frozen=True)
class RecurringMail:
    name: str
    workflow: Callable[..., Any]
    days_of_week: ScheduleRange
    skip_bank_holidays: bool
    description: str


RECURRING = (
    RecurringMail(
        "daily-digest",
        DailyDigest.run,
        MONDAY_TO_FRIDAY,
        True,
        "each advisor's digest, working days 08:00 UK time",
    ),
    RecurringMail(
        "weekly-report",
        WeeklyReport.run,
        MONDAY,
        False,
        "the HR directors' weekly report, Mondays 08:00 UK time",
    ),
    RecurringMail(
        "retention-purge",
        RetentionPurge.run,
        EVERY_DAY,
        False,
        "destroys closed cases past their retention period (not on hold), daily 08:00 UK time",
    ),
)


def schedule_id(task_queue: str, name: str) -> str:
    return f"{task_queue}-{name}"


def bank_holidays(start: date, horizon: timedelta = SKIP_HORIZON) -> list[date]:
    """Weekdays that are not working days (bank holidays), from `start` over the horizon."""
    days = (start + timedelta(days=offset) for offset in range(horizon.days))
    return [day for day in days if day.weekday() < 5 and not is_working_day(day)]


def _at_eight(**fields: Any) -> ScheduleCalendarSpec:
    return ScheduleCalendarSpec(
        second=[ScheduleRange(0)], minute=[ScheduleRange(0)], hour=[ScheduleRange(8)], **fields
    )


def build_schedule(mail: RecurringMail, task_queue: str, today: date) -> Schedule:
    skip = (
        [
            _at_eight(
                year=[ScheduleRange(day.year)],
                month=[ScheduleRange(day.month)],
                day_of_month=[ScheduleRange(day.day)],
            )
            for day in bank_holidays(today)
        ]
        if mail.skip_bank_holidays
        else []
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            mail.workflow,
            id=schedule_id(task_queue, mail.name),
            task_queue=task_queue,
            execution_timeout=RUN_TIMEOUT,
        ),
        spec=ScheduleSpec(
            calendars=[_at_eight(day_of_week=[mail.days_of_week])],
            skip=skip,
            time_zone_name=TIME_ZONE,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


def _replacing(schedule: Schedule) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    return lambda _: ScheduleUpdate(schedule=schedule)


async def ensure_schedules(client: Client, task_queue: str, today: date) -> None:
    """Create the schedules, or replace an existing one's definition: safe on every start."""
    for mail in RECURRING:
        schedule = build_schedule(mail, task_queue, today)
        identifier = schedule_id(task_queue, mail.name)
        try:
            await client.create_schedule(identifier, schedule)
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(identifier).update(_replacing(schedule))


@dataclass
class ScheduleState:
    name: str
    schedule_id: str
    description: str
    exists: bool
    next_runs: list[datetime]
    last_run: datetime | None


async def describe_schedules(client: Client, task_queue: str) -> list[ScheduleState]:
    states = []
    for mail in RECURRING:
        identifier = schedule_id(task_queue, mail.name)
        try:
            info = (await client.get_schedule_handle(identifier).describe()).info
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            states.append(ScheduleState(mail.name, identifier, mail.description, False, [], None))
            continue
        last = info.recent_actions[-1].scheduled_at if info.recent_actions else None
        states.append(
            ScheduleState(
                mail.name,
                identifier,
                mail.description,
                True,
                list(info.next_action_times[:3]),
                last,
            )
        )
    return states


async def trigger_schedule(client: Client, task_queue: str, name: str) -> str:
    """Run a schedule's workflow now (an operator's re-run); the schedule id it triggered."""
    if name not in {mail.name for mail in RECURRING}:
        known = ", ".join(mail.name for mail in RECURRING)
        raise ValueError(f"no schedule called {name!r}; known: {known}")
    identifier = schedule_id(task_queue, name)
    await client.get_schedule_handle(identifier).trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    return identifier
