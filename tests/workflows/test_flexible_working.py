"""A flexible working request in the time-skipping server: the statutory decision date on the
case, unmoved by a pause, moved by an extension the employee agreed to, and the appeal's
deadline limited to what is left of it (ERA 1996 s.80G(1B)); then the written statement of
the changed terms (ERA 1996 s.4)."""

import calendar
from datetime import date, datetime, timedelta

from policies.calendar import LONDON
from policies.loader import shipped_policies
from records.models import Case
from tests.support.harness import Harness
from workflows.case_process import CaseProcess
from workflows.types import ActionRequest, PauseRequest, ResumeRequest

POLICY = shipped_policies()["flexible_working"]


def two_months_beginning_with(day: date) -> date:
    """By hand, the rule: the day before the same-numbered day two months on, or the last day
    of that month when it has none (31 December -> the end of February)."""
    year, month = (day.year + 1, day.month - 10) if day.month > 10 else (day.year, day.month + 2)
    if day.day > calendar.monthrange(year, month)[1]:
        return date(year, month, calendar.monthrange(year, month)[1])
    return date(year, month, day.day) - timedelta(days=1)


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=LONDON)


async def test_the_decision_date_is_shown_kept_through_a_pause_and_moved_by_agreement(
    harness: Harness,
) -> None:
    handle, opened_at = await harness.open_case(POLICY)
    received = opened_at.astimezone(LONDON).date()
    statutory = end_of(two_months_beginning_with(received))

    async def act(action: str, **data: str) -> object:
        return await handle.execute_update(CaseProcess.act, ActionRequest(action, "alice", data))

    state = await handle.query(CaseProcess.state)
    assert state.decision_due_at == statutory
    before = state.due_at
    await handle.execute_update(CaseProcess.pause, PauseRequest("Manager on leave", "alice"))
    await harness.env.sleep(timedelta(days=3))
    state = await handle.execute_update(CaseProcess.resume, ResumeRequest("alice"))
    # The pause moves the internal target, never the statutory date.
    assert before is not None and state.due_at is not None and state.due_at > before
    assert state.decision_due_at == statutory

    today = (await harness.env.get_current_time()).astimezone(LONDON).date()
    await act("arrange_consultation", meeting_date=today.isoformat())
    await act(
        "refuse",
        refusal_reason="Planned structural changes",
        explanation="Ward reconfiguration",
        letter_sent_on=today.isoformat(),
    )
    state = await handle.query(CaseProcess.state)
    # The appeal window: its own 10 working days, well inside the two months.
    assert state.stage_key == "appeal_window" and state.stage_due_at is not None
    assert state.stage_due_at < statutory

    # An appeal lodged 5 days before the period ends gets those days, not its own P2W.
    await harness.env.sleep(statutory - await harness.env.get_current_time() - timedelta(days=5))
    await act("lodge_appeal", grounds="Other wards allow it")
    state = await handle.query(CaseProcess.state)
    assert state.stage_key == "appeal" and state.stage_due_at == statutory

    agreed = statutory.date() + timedelta(days=20)
    await act("agree_extension", extended_to=agreed.isoformat(), extension_agreed="Email")
    state = await handle.query(CaseProcess.state)
    assert state.decision_due_at == end_of(agreed)
    [extended] = await harness.events("decision_period_extended")
    assert extended.detail["to"] == end_of(agreed).isoformat()
    async with harness.db.sessions() as session:
        row = await session.get(Case, harness.case_id)
    assert row is not None and row.decision_due_at == end_of(agreed)

    today = (await harness.env.get_current_time()).astimezone(LONDON).date()
    await act(
        "grant_on_appeal",
        appeal_outcome="Granted with changes",
        outcome="Granted",
        agreed_arrangement="Four long days",
        starts_on=(today + timedelta(days=14)).isoformat(),
    )
    assert (await handle.query(CaseProcess.state)).stage_key == "changed_terms"
    await act(
        "send_terms_statement", changed_terms="Hours 4x9.5", statement_sent_on=today.isoformat()
    )
    assert (await handle.result()).status == "closed"
