"""Recurring items of long-term sickness in the time-skipping server, with the real activities
(SQLite, SMTP): welfare contact every 2 weeks and review meetings every 4 weeks, each recorded
as a step that restarts its own clock from the day it was done, and escalated to the manager
(the review also to the HR director) when one is not recorded in time."""

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.types import CaseSnapshot
from policies.calendar import LONDON
from policies.loader import shipped_policies
from policies.schema import PolicyInvalid, validate_policy
from tests.support.harness import Harness, at_instants
from tests.support.waiting import eventually
from workflows.cases import SicknessCase
from workflows.types import ActionRequest, AttendanceEvent

SICKNESS_YAML = Path(__file__).parents[2] / "policies" / "definitions" / "sickness.yaml"
PREFIX = "stage2:long_term_review"  # informal (visit 0), long_term (1), long_term_review (2)


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON)


async def until(harness: Harness, day: date, hour: int = 10) -> None:
    """Let the clock run to `hour` o'clock on `day` (London)."""
    moment = datetime.combine(day, time(hour), tzinfo=LONDON)
    now = await harness.env.get_current_time()
    assert moment > now, f"{moment} is already past"
    await harness.env.sleep(moment - now)


async def act(
    handle: WorkflowHandle[Any, CaseSnapshot], action: str, data: dict[str, str]
) -> CaseSnapshot:
    return await handle.execute_update(SicknessCase.act, ActionRequest(action, "alice", data))


async def in_long_term_review(harness: Harness) -> tuple[WorkflowHandle[Any, CaseSnapshot], date]:
    """A sickness case moved to long-term sickness and referred to occupational health at
    once: in the support-and-review stage from the day returned."""
    handle, _ = await harness.open_case(shipped_policies()["sickness"])
    await handle.signal(SicknessCase.attendance, AttendanceEvent("long_term", {"days_off": 28}))

    async def moved() -> bool:
        return bool(await harness.events("attendance_moved"))

    await eventually(moved, 10)
    today = (await harness.env.get_current_time()).astimezone(LONDON).date()
    await act(handle, "refer_to_occupational_health", {"oh_referral_date": today.isoformat()})
    [entered] = await harness.events("advanced")
    assert entered.detail["to"] == "long_term_review"
    return handle, entered.at.astimezone(LONDON).date()


async def test_recording_restarts_each_clock_and_a_missed_one_is_escalated(
    harness: Harness,
) -> None:
    handle, start = await in_long_term_review(harness)
    day = lambda n: start + timedelta(days=n)  # noqa: E731 - the stage's day n

    # The first welfare contact falls due at the end of day 14 and is not recorded: 3 days
    # later (P3D) the manager is told.
    await until(harness, day(18))
    due = await harness.events("recurring_due")
    assert [event.detail["key"] for event in due] == [f"{PREFIX}:welfare_contact:1"]
    assert at_instants([event.at for event in due], [end_of(day(14))])
    escalated = await harness.events("recurring_escalated")
    assert [event.detail["key"] for event in escalated] == [
        f"{PREFIX}:welfare_contact:1:escalation:0"
    ]
    assert at_instants([escalated[0].at], [end_of(day(14)) + timedelta(days=3)])
    assert escalated[0].detail["roles"] == ["manager"]

    async def manager_told() -> bool:
        return harness.mail_to("escalation") == ["mark@north.example"]

    await eventually(manager_told, 10)

    # A contact on a day still to come, or before the stage began, is refused and changes nothing.
    for refused_day, words in [(day(19), "in the future"), (day(-1), "may not be before")]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(
                handle,
                "record_welfare_contact",
                {"contact_date": refused_day.isoformat(), "contact_notes": "Phoned"},
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "InvalidData"
        assert words in refused.value.cause.message
    with pytest.raises(WorkflowUpdateFailedError) as missing:
        await act(handle, "record_welfare_contact", {"contact_date": day(18).isoformat()})
    assert isinstance(missing.value.cause, ApplicationError)
    assert "contact_notes" in missing.value.cause.message
    assert await harness.events("recurring_recorded") == []

    # Contact made on day 18: the case stays in its stage and the next is due 2 weeks on.
    snapshot = await act(
        handle,
        "record_welfare_contact",
        {"contact_date": day(18).isoformat(), "contact_notes": "Phoned; OH appointment booked"},
    )
    assert snapshot.stage_key == "long_term_review"
    [recorded] = await harness.events("recurring_recorded")
    assert (recorded.detail["item"], recorded.detail["done_on"]) == (
        "welfare_contact",
        day(18).isoformat(),
    )
    assert at_instants([datetime.fromisoformat(recorded.detail["next_due"])], [end_of(day(32))])
    assert recorded.actor == "alice"

    # The review meeting is held on day 26, before its first falls due (end of day 28): no
    # reminder then, and the next review is due 4 weeks after the day it was held.
    await until(harness, day(27))
    await act(
        handle,
        "hold_review",
        {"review_date": day(26).isoformat(), "review_notes": "Phased return discussed"},
    )
    # A contact dated before the last one recorded is refused.
    with pytest.raises(WorkflowUpdateFailedError) as earlier:
        await act(
            handle,
            "record_welfare_contact",
            {"contact_date": day(17).isoformat(), "contact_notes": "Late entry"},
        )
    assert isinstance(earlier.value.cause, ApplicationError)
    assert day(18).isoformat() in earlier.value.cause.message

    await until(harness, day(63))
    due = await harness.events("recurring_due")
    assert [(event.detail["key"], event.detail["name"]) for event in due] == [
        (f"{PREFIX}:welfare_contact:1", "Welfare contact"),
        (f"{PREFIX}:welfare_contact:done1:1", "Welfare contact"),
        (f"{PREFIX}:welfare_contact:done1:2", "Welfare contact"),
        (f"{PREFIX}:review_meeting:done1:1", "Review meeting"),
        (f"{PREFIX}:welfare_contact:done1:3", "Welfare contact"),
    ]
    # The restarted clocks: 14 and 28 days from each day done, never from the stage's start
    # (which would have been days 28, 42 and 56).
    assert at_instants(
        [event.at for event in due],
        [end_of(day(14)), end_of(day(32)), end_of(day(46)), end_of(day(54)), end_of(day(60))],
    )
    escalated = await harness.events("recurring_escalated")
    assert [event.detail["key"] for event in escalated] == [
        f"{PREFIX}:welfare_contact:1:escalation:0",
        f"{PREFIX}:welfare_contact:done1:1:escalation:0",
        f"{PREFIX}:welfare_contact:done1:2:escalation:0",
        f"{PREFIX}:review_meeting:done1:1:escalation:0",
    ]
    assert at_instants(
        [event.at for event in escalated],
        [
            end_of(day(14)) + timedelta(days=3),
            end_of(day(32)) + timedelta(days=3),
            end_of(day(46)) + timedelta(days=3),
            end_of(day(54)) + timedelta(days=7),  # the review: P7D, to manager and HR director
        ],
    )
    assert escalated[-1].detail["roles"] == ["manager", "hr_director"]

    async def all_told() -> bool:
        return harness.mail_to("escalation") == [
            "hannah@north.example",
            *["mark@north.example"] * 4,
        ]

    await eventually(all_told, 10)


async def test_leaving_the_stage_ends_its_recurring_clocks(harness: Harness) -> None:
    """Back at work: no more welfare contacts, and none of the old series is escalated."""
    handle, start = await in_long_term_review(harness)
    await until(harness, start + timedelta(days=10))
    await act(
        handle,
        "record_welfare_contact",
        {"contact_date": (start + timedelta(days=9)).isoformat(), "contact_notes": "Visited"},
    )
    await act(handle, "returned_to_work", {})
    await until(harness, start + timedelta(days=40))
    assert await harness.events("recurring_due") == []
    assert await harness.events("recurring_escalated") == []
    assert (await handle.query(SicknessCase.state)).stage_key == "return_to_work"


def _sickness_with(change: Any) -> dict[str, Any]:
    """The shipped sickness definition with one change made to its long-term review stage."""
    data = yaml.safe_load(SICKNESS_YAML.read_text())
    [stage] = [stage for stage in data["stages"] if stage["key"] == "long_term_review"]
    change(stage)
    return dict(data)


def _problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(data)
    return [(error.path, error.message) for error in invalid.value.errors]


def test_the_shipped_policy_records_each_recurring_item() -> None:
    stage = shipped_policies()["sickness"].stage("long_term_review")
    recorders = {action.records: action for action in stage.actions if action.records}
    assert sorted(recorders) == ["review_meeting", "welfare_contact"]
    assert all(action.to == "long_term_review" for action in recorders.values())
    assert [(item.key, item.done_on) for item in stage.recurring] == [
        ("welfare_contact", "contact_date"),
        ("review_meeting", "review_date"),
    ]


def test_a_recording_action_is_checked_against_its_stage() -> None:
    def unknown_item(stage: dict[str, Any]) -> None:
        stage["actions"][0]["records"] = "home_visit"

    def leaves(stage: dict[str, Any]) -> None:
        stage["actions"][0]["to"] = "final"

    def no_date(stage: dict[str, Any]) -> None:
        stage["actions"][0]["requires"] = ["contact_notes"]

    path = "stages[11].actions[0]"  # the long-term review stage
    assert _problems(_sickness_with(unknown_item)) == [
        (
            f"{path}.records",
            "'home_visit' is not a recurring item of this stage "
            "(its items: welfare_contact, review_meeting)",
        )
    ]
    assert _problems(_sickness_with(leaves)) == [
        (f"{path}.to", "an action that records 'welfare_contact' stays in stage 'long_term_review'")
    ]
    assert _problems(_sickness_with(no_date)) == [
        (
            f"{path}.requires",
            "must list 'contact_date', the date that restarts the 'welfare_contact' clock",
        )
    ]
