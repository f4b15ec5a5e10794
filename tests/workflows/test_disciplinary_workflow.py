"""The disciplinary workflow in the time-skipping server, with its real activities:
a real database (SQLite) and a real SMTP server receive what it records and sends."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.types import CaseSnapshot
from policies.calendar import LONDON, add_working_days, due_instant
from policies.schema import duration
from records.models import OutboxMessage
from tests.support.harness import JUST_CULTURE, Harness, at_instants
from workflows.cases import DisciplinaryCase
from workflows.types import ActionRequest, PauseRequest, ResumeRequest


def _assessment_due(opened_at: datetime) -> datetime:
    # 5 working days after the day of opening, at the end of that day in London.
    day = add_working_days(opened_at.astimezone(LONDON).date(), 5)
    return datetime.combine(day, datetime.max.time().replace(microsecond=0), tzinfo=LONDON)


async def test_reminders_go_to_the_advisor_at_their_instants(harness: Harness) -> None:
    handle, opened_at = await harness.open_case()
    due = _assessment_due(opened_at)
    await harness.env.sleep(due - opened_at - timedelta(hours=1))

    reminders = await harness.events("reminder")
    assert at_instants(
        [event.at for event in reminders], [due - timedelta(days=2), due - timedelta(days=1)]
    )
    assert harness.mail_to("reminder") == ["alice@north.example", "alice@north.example"]
    assert await harness.events("stage_breach") == []
    state = await handle.query(DisciplinaryCase.state)
    assert state.stage_key == "assessment" and not state.breached


async def test_a_missed_stage_escalates_in_order(harness: Harness) -> None:
    handle, opened_at = await harness.open_case()
    due = _assessment_due(opened_at)
    await harness.env.sleep(due - opened_at + timedelta(days=8))

    escalations = await harness.events("escalation")
    assert at_instants([event.at for event in escalations], [due, due + timedelta(days=7)])
    assert [event.detail["roles"] for event in escalations] == [
        ["advisor", "manager"],
        ["hr_director"],
    ]
    assert at_instants([event.at for event in await harness.events("stage_breach")], [due])
    assert harness.mail_to("breach") == ["alice@north.example", "mark@north.example"]
    assert harness.mail_to("escalation") == ["hannah@north.example"]
    state = await handle.query(DisciplinaryCase.state)
    assert state.breached
    async with harness.db.sessions() as session:
        case_row_breached = await session.scalar(
            select(OutboxMessage.status).where(OutboxMessage.case_id == harness.case_id).limit(1)
        )
    assert case_row_breached == "sent"


async def test_pause_moves_deadlines_by_exactly_the_paused_time(harness: Harness) -> None:
    handle, _ = await harness.open_case()
    before = await handle.query(DisciplinaryCase.state)
    await harness.env.sleep(timedelta(hours=20))
    await handle.execute_update(DisciplinaryCase.pause, PauseRequest("Employee off sick", "alice"))
    await harness.env.sleep(timedelta(days=3, hours=5, seconds=17))
    await handle.execute_update(DisciplinaryCase.resume, ResumeRequest("alice"))

    paused, resumed = await harness.events("paused"), await harness.events("resumed")
    paused_for = resumed[0].at - paused[0].at
    assert paused_for >= timedelta(days=3, hours=5, seconds=17)
    after = await handle.query(DisciplinaryCase.state)
    assert before.stage_due_at and after.stage_due_at and before.due_at and after.due_at
    assert after.stage_due_at - before.stage_due_at == paused_for
    assert after.due_at - before.due_at == paused_for
    # No reminder went out while the clock was stopped, and none twice afterwards.
    await harness.env.sleep(after.stage_due_at - await harness.env.get_current_time())
    reminder_times = [event.at for event in await harness.events("reminder")]
    assert at_instants(
        reminder_times,
        [after.stage_due_at - timedelta(days=2), after.stage_due_at - timedelta(days=1)],
    )


async def test_an_action_not_allowed_now_is_refused_and_changes_nothing(harness: Harness) -> None:
    handle, _ = await harness.open_case()
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            DisciplinaryCase.act, ActionRequest("submit_report", "alice", {"report_summary": "x"})
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "NotAllowed"
    assert "Allowed now: refer_to_investigation" in refused.value.cause.message

    with pytest.raises(WorkflowUpdateFailedError) as missing:
        await handle.execute_update(
            DisciplinaryCase.act,
            ActionRequest("refer_to_investigation", "alice", {"terms_of_reference": "x"}),
        )
    assert isinstance(missing.value.cause, ApplicationError)
    assert missing.value.cause.type == "InvalidData"
    assert "investigating_officer" in missing.value.cause.message
    assert [event.kind for event in await harness.events()] == ["opened"]
    assert (await handle.query(DisciplinaryCase.state)).stage_key == "assessment"


async def test_a_retried_request_id_acts_once(harness: Harness) -> None:
    handle, _ = await harness.open_case()
    step = ActionRequest(
        "refer_to_investigation",
        "alice",
        {
            "terms_of_reference": "Timesheets, March",
            "investigating_officer": "Dr Khan",
            **JUST_CULTURE,
        },
        request_id="req-1",
    )
    first = await handle.execute_update(DisciplinaryCase.act, step)
    # A client that lost the reply sends the same request again (as a new update).
    second = await handle.execute_update(DisciplinaryCase.act, step)
    assert first.stage_key == second.stage_key == "investigation"
    assert [event.kind for event in await harness.events("advanced")] == ["advanced"]


async def test_a_full_case_from_opening_to_closure(harness: Harness) -> None:
    handle, _ = await harness.open_case()

    async def act(action: str, **data: str) -> CaseSnapshot:
        return await handle.execute_update(
            DisciplinaryCase.act, ActionRequest(action, "alice", data)
        )

    state = await act(
        "refer_to_investigation",
        terms_of_reference="Timesheets",
        investigating_officer="Dr Khan",
        **JUST_CULTURE,
    )
    assert state.stage_key == "investigation"
    investigation_start = state.stage_started_at
    assert state.stage_due_at == due_instant(investigation_start, duration("P21D"))
    await harness.env.sleep(timedelta(days=10))
    state = await act(
        "submit_report", report_summary="Case to answer", recommendation="Formal hearing"
    )
    assert state.stage_key == "hearing_arrangement"

    today = (await harness.env.get_current_time()).astimezone(LONDON).date()
    too_soon = add_working_days(today, 4).isoformat()
    with pytest.raises(WorkflowUpdateFailedError) as short_notice:
        await act("schedule_hearing", hearing_date=too_soon, panel_chair="Ms Lee")
    assert isinstance(short_notice.value.cause, ApplicationError)
    assert "5 working days" in short_notice.value.cause.message
    first_date = add_working_days(today, 5)
    state = await act("schedule_hearing", hearing_date=first_date.isoformat(), panel_chair="Ms Lee")
    assert state.stage_key == "hearing"
    # The companion cannot attend: a new date at most 5 working days after the first.
    with pytest.raises(WorkflowUpdateFailedError) as too_late:
        await act(
            "postpone_hearing",
            hearing_date=add_working_days(first_date, 6).isoformat(),
            postponement_reason="Union representative unavailable",
        )
    assert isinstance(too_late.value.cause, ApplicationError)
    assert too_late.value.cause.message == (
        f"hearing_date may be at most 5 working days after {first_date.isoformat()}: "
        f"{add_working_days(first_date, 5).isoformat()} or earlier."
    )
    state = await act(
        "postpone_hearing",
        hearing_date=add_working_days(first_date, 5).isoformat(),
        postponement_reason="Union representative unavailable",
    )
    assert state.stage_key == "hearing"
    await harness.env.sleep(timedelta(days=8))
    with pytest.raises(WorkflowUpdateFailedError) as unrecorded:
        await act("record_decision", outcome="Final written warning")
    assert isinstance(unrecorded.value.cause, ApplicationError)
    assert "accompanied" in unrecorded.value.cause.message
    state = await act(
        "record_decision",
        outcome="Final written warning",
        sanction="Final written warning",
        accompanied="Accompanied by a colleague",
    )
    assert state.stage_key == "outcome_letter"
    state = await act("send_outcome_letter", letter_sent_on=today.isoformat())
    assert state.status == "closed" and state.outcome == "Final written warning"

    result = await handle.result()
    assert result.status == "closed" and result.closed_at is not None
    kinds = [event.kind for event in await harness.events()]
    assert kinds[0] == "opened" and kinds[-1] == "closed"
    assert kinds.count("advanced") == 5  # four stages on, and the postponement
    seqs = [event.seq for event in await harness.events()]
    assert seqs == list(range(1, len(seqs) + 1))
