"""Attendance monitoring in the time-skipping server, with the real activities (SQLite, SMTP):
six and twelve months of absence in 2030, fed as an e-roster would report them, and the
exact instant each trigger fires, each case opens and each case moves.

2030's bank holidays: Good Friday 19 Apr, Easter Monday 22 Apr, 6 May, 27 May, 26 Aug,
25 and 26 Dec. London is on BST from 31 March to 27 October 2030.
"""

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle

from policies.calendar import LONDON
from policies.loader import shipped_policies
from policies.schema import BradfordTrigger, CountTrigger, OpeningLimit, Triggers
from records.models import AttendanceTrigger, Case, PolicyVersion
from services.absences import AbsenceCommands
from services.access import Principal
from tests.support.database import insert_case_row
from tests.support.harness import Harness, at_instants
from tests.support.waiting import eventually
from workflows import attendance_workflow_id, workflow_id
from workflows.attendance import AttendanceMonitor
from workflows.cases import SicknessCase
from workflows.types import (
    AbsenceFeed,
    ActionRequest,
    AttendanceEpisode,
    AttendanceEvent,
    AttendanceInput,
)

_SHIPPED = shipped_policies()["sickness"].triggers
assert _SHIPPED is not None
TRIGGERS: Triggers = _SHIPPED
STAGES = [stage.key for stage in shipped_policies()["sickness"].stages]


def london(year: int, month: int, day: int, hour: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, 0, second, tzinfo=LONDON)


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=LONDON)


class Roster:
    """The e-roster: what it has recorded so far, fed to the monitor at chosen instants."""

    def __init__(
        self,
        harness: Harness,
        employee_id: str,
        turns: int = 100,
        triggers: Triggers = TRIGGERS,
        stages: list[str] | None = None,
    ):
        self.harness, self.employee_id, self.turns = harness, employee_id, turns
        self.triggers = triggers
        self.stages = STAGES if stages is None else stages
        self.episodes: dict[date, date | None] = {}
        self.handle: WorkflowHandle[Any, Any] | None = None

    async def report(self, at: datetime, **episodes: date | None) -> None:
        """At `at`, the roster holds these episodes too (first day → last day or None)."""
        await self.until(at)
        for first, last in episodes.items():
            self.episodes[date.fromisoformat(first.removeprefix("d"))] = last
        feed = AbsenceFeed(
            [AttendanceEpisode(first, last) for first, last in sorted(self.episodes.items())],
            self.triggers,
            self.stages,
        )
        if self.handle is None:
            # As the API does: signal-with-start, so the first report starts the monitor.
            self.handle = await self.harness.env.client.start_workflow(
                AttendanceMonitor.run,
                AttendanceInput(
                    self.harness.org_id, self.employee_id, turns_before_continuing=self.turns
                ),
                id=attendance_workflow_id(self.harness.org_id, self.employee_id),
                task_queue=self.harness.task_queue,
                start_signal="feed",
                start_signal_args=[feed],
            )
        else:
            await self.handle.signal(AttendanceMonitor.feed, feed)

    async def until(self, moment: datetime) -> None:
        now = await self.harness.env.get_current_time()
        assert moment >= now, f"{moment} is already past"
        await self.harness.env.sleep(moment - now)


def iso(day: date) -> str:
    return f"d{day.isoformat()}"


async def sickness_cases(harness: Harness) -> list[Case]:
    async with harness.db.sessions() as session:
        query = select(Case).where(Case.case_type == "sickness").order_by(Case.opened_at)
        return list(await session.scalars(query))


async def fired(harness: Harness) -> list[tuple[str, date, str | None]]:
    async with harness.db.sessions() as session:
        rows = await session.scalars(select(AttendanceTrigger).order_by(AttendanceTrigger.id))
        return [(row.trigger, row.fired_on, row.case_id) for row in rows]


async def outcomes(harness: Harness) -> list[tuple[str, str | None, str | None, str | None]]:
    async with harness.db.sessions() as session:
        rows = await session.scalars(select(AttendanceTrigger).order_by(AttendanceTrigger.id))
        return [(row.trigger, row.case_id, row.outcome, row.reason) for row in rows]


async def read_attendance(harness: Harness, employee_id: str) -> dict[str, Any]:
    """The record GET /api/staff/{id}/attendance answers, read as the advisor alice."""

    async def client() -> Client:
        return harness.env.client

    commands = AbsenceCommands(
        harness.db,
        client,
        harness.task_queue,
        Principal("alice", harness.org_id, frozenset({"advisor"}), team="North ER"),
    )
    return await commands.attendance(employee_id)


async def one_case(harness: Harness) -> Case:
    async def opened() -> bool:
        return len(await sickness_cases(harness)) == 1

    await eventually(opened, 10)
    [case] = await sickness_cases(harness)
    harness.case_id = case.id  # harness.events() reads this case's timeline
    return case


async def test_six_months_short_spells_then_long_term_then_back_to_work(
    harness: Harness,
) -> None:
    roster = Roster(harness, "E1001")
    await roster.report(london(2030, 1, 14, 9), **{iso(date(2030, 1, 14)): None})
    await roster.report(london(2030, 1, 17, 9), **{iso(date(2030, 1, 14)): date(2030, 1, 16)})
    await roster.report(london(2030, 2, 14, 9), **{iso(date(2030, 2, 14)): None})
    await roster.report(london(2030, 2, 18, 9), **{iso(date(2030, 2, 14)): date(2030, 2, 15)})
    # 3 + 2 working days so far. Off again from Fri 24 May: the 6th day; Mon 27 May is a bank
    # holiday; Tue 28 the 7th; Wed 29 May the 8th: the days-lost trigger fires at its start.
    await roster.report(london(2030, 5, 24, 9), **{iso(date(2030, 5, 24)): None})
    await roster.until(london(2030, 5, 28, 23))
    assert await sickness_cases(harness) == []

    await roster.until(london(2030, 5, 29, 9))
    case = await one_case(harness)
    assert at_instants([case.opened_at], [london(2030, 5, 29)])
    assert (case.stage_key, case.employee_id, case.opened_by) == (
        "informal",
        "E1001",
        "attendance-monitor",
    )
    assert case.advisor in ("alice", "bob")
    assert await fired(harness) == [("days_lost", date(2030, 5, 29), case.id)]

    # Still off on Thu 20 June, the spell's 28th day: long-term. The open case is told and
    # moves to the long-term path; no second case opens.
    await roster.until(london(2030, 6, 20, 9))
    [moved] = await harness.events("attendance_moved")
    assert at_instants([moved.at], [london(2030, 6, 20)])
    assert (moved.detail["event"], moved.detail["from"], moved.detail["to"]) == (
        "long_term",
        "informal",
        "long_term",
    )
    [long_term] = moved.detail["triggers"]
    assert (long_term["days_off"], long_term["working_days_lost"]) == (28, 19)
    assert [c.id for c in await sickness_cases(harness)] == [case.id]
    assert await fired(harness) == [
        ("days_lost", date(2030, 5, 29), case.id),
        ("long_term", date(2030, 6, 20), case.id),
    ]

    # The occupational health referral is due within 7 days (end of 27 June) and is missed.
    # A fit note sent on 28 June says off until Mon 1 July: back on Tue 2 July.
    await roster.report(london(2030, 6, 28, 9), **{iso(date(2030, 5, 24)): date(2030, 7, 1)})
    breaches = await harness.events("stage_breach")
    assert at_instants([event.at for event in breaches], [end_of(date(2030, 6, 27))])
    await roster.until(london(2030, 7, 10, 12))

    moves = await harness.events("attendance_moved")
    assert at_instants([event.at for event in moves], [london(2030, 6, 20), london(2030, 7, 2)])
    assert (moves[1].detail["event"], moves[1].detail["to"]) == ("returned", "return_to_work")
    assert moves[1].detail["returned_on"] == "2030-07-02"
    # The long-term steps still pending at the return were cancelled: the referral's second
    # escalation (4 July) and the first welfare contact (end of 4 July) never happened.
    escalations = [event.detail["key"] for event in await harness.events("escalation")]
    assert "stage1:long_term:escalation:0" in escalations
    assert "stage1:long_term:escalation:1" not in escalations
    assert await harness.events("recurring_due") == []
    # The return-to-work interview: within 3 working days of Tue 2 July, by end of Fri 5 July.
    return_breaches = [
        event
        for event in await harness.events("stage_breach")
        if event.stage_key == "return_to_work"
    ]
    assert at_instants([event.at for event in return_breaches], [end_of(date(2030, 7, 5))])
    async with harness.db.sessions() as session:
        row = await session.get(Case, case.id)
    assert row is not None and row.stage_key == "return_to_work"
    assert row.stage_due_at == end_of(date(2030, 7, 5))


async def test_twelve_months_a_second_trigger_moves_the_open_case_on(harness: Harness) -> None:
    roster = Roster(harness, "E1002", turns=3)  # continue as new every three turns
    for first, last in [
        (date(2030, 1, 7), date(2030, 1, 8)),
        (date(2030, 3, 4), date(2030, 3, 4)),
        (date(2030, 5, 7), date(2030, 5, 7)),
    ]:
        await roster.report(london(first.year, first.month, first.day, 9), **{iso(first): last})
    first_run = await roster.handle.describe() if roster.handle else None
    assert await sickness_cases(harness) == []

    # The fourth spell in 365 days (5 working days in all): the episodes trigger fires the
    # moment the roster reports it.
    await roster.report(london(2030, 7, 8, 9), **{iso(date(2030, 7, 8)): date(2030, 7, 8)})
    await roster.until(london(2030, 7, 8, 10))
    case = await one_case(harness)
    assert at_instants([case.opened_at], [london(2030, 7, 8, 9)])
    assert case.stage_key == "informal"
    sickness_case = harness.env.client.get_workflow_handle(workflow_id(case.id))
    await roster.until(london(2030, 7, 15, 10))
    await sickness_case.execute_update(
        SicknessCase.act,
        ActionRequest(
            "record_meeting",
            "alice",
            {"meeting_date": "2030-07-15", "outcome": "Support agreed; attendance monitored"},
        ),
    )

    # Counting starts again after 8 July. Off Mon 2 to Fri 6 September (5 working days),
    # reported with an overlapping duplicate from another ward's roster.
    await roster.report(london(2030, 9, 2, 9), **{iso(date(2030, 9, 2)): None})
    await roster.report(
        london(2030, 9, 9, 9),
        **{iso(date(2030, 9, 2)): date(2030, 9, 6), iso(date(2030, 9, 4)): date(2030, 9, 5)},
    )
    # On Mon 4 November: off from today, and a back-dated day (Tue 1 October) reported late.
    # 5 + 1 + 1 = 7 on the 4th; the 8th working day is Tue 5 November, at 00:00 GMT.
    await roster.report(
        london(2030, 11, 4, 9),
        **{iso(date(2030, 10, 1)): date(2030, 10, 1), iso(date(2030, 11, 4)): None},
    )
    await roster.until(london(2030, 11, 5, 9))

    moved = [e for e in await harness.events("attendance_moved") if e.detail["event"] == "trigger"]
    assert at_instants([event.at for event in moved], [london(2030, 11, 5)])
    assert (moved[0].detail["from"], moved[0].detail["to"]) == ("informal_monitoring", "stage_1")
    [days_lost] = moved[0].detail["triggers"]
    assert (days_lost["trigger"], days_lost["spells"], days_lost["working_days_lost"]) == (
        "days_lost",
        3,
        8,
    )
    # The returns on 9 July and 7 September were told to the case, whose stages then had
    # nothing to do with them (the back-dated day was never an open spell: no return).
    noted = await harness.events("attendance_noted")
    assert [(event.detail["event"], event.detail["returned_on"]) for event in noted] == [
        ("returned", "2030-07-09"),
        ("returned", "2030-09-07"),
    ]
    # The first was known ahead (the last day came with the report): told at 00:00 on the
    # day of return; the second only when the roster reported it, on 9 September at 09:00.
    assert at_instants([event.at for event in noted], [london(2030, 7, 9), london(2030, 9, 9, 9)])
    assert [c.id for c in await sickness_cases(harness)] == [case.id]
    assert await fired(harness) == [
        ("episodes", date(2030, 7, 8), case.id),
        ("days_lost", date(2030, 11, 5), case.id),
    ]
    # The second went to the case already open: recorded so, and on the case's timeline.
    assert [(trigger, outcome) for trigger, _, outcome, _ in await outcomes(harness)] == [
        ("episodes", "opened"),
        ("days_lost", "attached"),
    ]
    record = await read_attendance(harness, "E1002")
    assert [(t["trigger"], t["outcome"], t["case_id"]) for t in record["triggers_fired"]] == [
        ("episodes", "opened", case.id),
        ("days_lost", "attached", case.id),
    ]

    # The monitor has continued as new along the way, carrying what it needs.
    assert roster.handle is not None and first_run is not None
    latest = await harness.env.client.get_workflow_handle(roster.handle.id).describe()
    assert latest.run_id != first_run.run_id
    state = await harness.env.client.get_workflow_handle(roster.handle.id).query(
        AttendanceMonitor.state
    )
    assert (state.firings, state.counted_after, state.open_spells) == (
        2,
        date(2030, 11, 5),
        [date(2030, 11, 4)],
    )


async def test_welfare_contact_recurs_every_two_weeks_while_off(harness: Harness) -> None:
    policy = shipped_policies()["sickness"]
    handle, _ = await harness.open_case(policy)
    await handle.signal(SicknessCase.attendance, AttendanceEvent("long_term", {"days_off": 28}))

    async def moved() -> bool:
        return bool(await harness.events("attendance_moved"))

    await eventually(moved, 10)
    [entered] = await harness.events("attendance_moved")
    start = entered.at.astimezone(LONDON).date()
    await harness.env.sleep(timedelta(days=29))

    contacts = await harness.events("recurring_due")
    assert [event.detail["key"] for event in contacts] == [
        "stage1:long_term:welfare_contact:1",
        "stage1:long_term:welfare_contact:2",
    ]
    assert at_instants(
        [event.at for event in contacts],
        [end_of(start + timedelta(days=14)), end_of(start + timedelta(days=28))],
    )
    # The employee's line manager (E2001, Lena) and the advisor are reminded each time.
    assert harness.mail_to("reminder").count("lena@north.example") == 2
    # The advisor also had the referral's own reminder, 2 days before its 7-day deadline.
    assert harness.mail_to("reminder").count("alice@north.example") == 3


FOUR_SINGLE_DAYS = [date(2030, 1, 7), date(2030, 3, 4), date(2030, 5, 7), date(2030, 7, 8)]


async def report_four_single_days(roster: Roster) -> None:
    for day in FOUR_SINGLE_DAYS:
        await roster.report(london(day.year, day.month, day.day, 9), **{iso(day): day})


async def test_triggers_firing_together_open_at_the_stage_furthest_on(harness: Harness) -> None:
    """Episodes (opening at stage 1) and Bradford (opening informally) fire on one day: the
    case opens at stage 1, the later stage in the policy, whatever the kinds' order; the
    Bradford trigger is still recorded with its figures."""
    triggers = Triggers(
        episodes=CountTrigger(count=4, within="P365D", opens_at="stage_1"),
        bradford=BradfordTrigger(score=60, within="P365D", opens_at="informal"),
    )
    roster = Roster(harness, "E1001", triggers=triggers)
    await report_four_single_days(roster)  # the fourth: 4 spells, 4 days, Bradford 64
    case = await one_case(harness)
    assert at_instants([case.opened_at], [london(2030, 7, 8, 9)])
    assert case.stage_key == "stage_1"
    assert await outcomes(harness) == [
        ("episodes", case.id, "opened", None),
        ("bradford", case.id, "opened", None),
    ]
    record = await read_attendance(harness, "E1001")
    bradford = record["triggers_fired"][1]
    assert (bradford["spells"], bradford["working_days_lost"], bradford["bradford"]) == (4, 4, 64)
    assert (bradford["threshold"], bradford["opens_at"]) == (60, "informal")
    assert [each["id"] for each in record["sickness_cases"]] == [case.id]


async def test_a_trigger_no_case_can_open_for_is_recorded_with_the_reason(
    harness: Harness,
) -> None:
    """The triggers name a stage the organisation's sickness policy does not have (fed from
    a version since replaced): no case opens, and the attendance record says why."""
    triggers = Triggers(episodes=CountTrigger(count=4, within="P365D", opens_at="stage_9"))
    roster = Roster(harness, "E1001", triggers=triggers, stages=[*STAGES, "stage_9"])
    await report_four_single_days(roster)
    await roster.until(london(2030, 7, 8, 10))

    async def recorded() -> bool:
        return bool(await outcomes(harness))

    await eventually(recorded, 10)
    reason = "the sickness policy has no stage 'stage_9'"
    assert await outcomes(harness) == [("episodes", None, "not_opened", reason)]
    assert await sickness_cases(harness) == []
    record = await read_attendance(harness, "E1001")
    [trigger] = record["triggers_fired"]
    assert (trigger["outcome"], trigger["reason"], trigger["spells"]) == ("not_opened", reason, 4)
    assert (record["open_case"], record["sickness_cases"]) == (None, [])
    # The monitor carries on: the firing is counted, and counting starts again after it.
    assert roster.handle is not None
    state = await roster.handle.query(AttendanceMonitor.state)
    assert (state.firings, state.counted_after) == (1, date(2030, 7, 8))


async def test_the_policy_opening_limit_refuses_a_case_with_its_reason(harness: Harness) -> None:
    """The trust's sickness policy allows one case a year; one closed in March: the trigger
    in July opens none, and the record says why (an advisor decides whether to open one)."""
    policy = shipped_policies()["sickness"].model_copy(
        update={"opening_limit": OpeningLimit(count=1, within="P365D")}
    )
    async with harness.db.transaction() as session:
        session.add(
            PolicyVersion(
                organisation_id=harness.org_id,
                case_type="sickness",
                version=2,
                definition=policy.model_dump(mode="json"),
                author="polly",
            )
        )
    await insert_case_row(harness.db, "SCK-2030-0001", harness.org_id, london(2030, 3, 1), policy)
    async with harness.db.transaction() as session:
        earlier = await session.get(Case, "SCK-2030-0001")
        assert earlier is not None
        earlier.status = "closed"

    roster = Roster(harness, "E1001")
    await report_four_single_days(roster)
    await roster.until(london(2030, 7, 8, 10))

    async def recorded() -> bool:
        return bool(await outcomes(harness))

    await eventually(recorded, 10)
    reason = "the policy allows at most 1 sickness case(s) in 365 days, and E1001 had SCK-2030-0001"
    assert await outcomes(harness) == [("episodes", None, "not_opened", reason)]
    assert [case.id for case in await sickness_cases(harness)] == ["SCK-2030-0001"]
