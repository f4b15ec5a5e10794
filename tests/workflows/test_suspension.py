"""Suspension from work on a disciplinary case: reviewed every four weeks, escalated when a
review is missed, and the case cannot close until the suspension is lifted."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from policies.calendar import LONDON
from records.models import Case, OutboxMessage
from tests.support.harness import Harness
from tests.support.stack import ApiStack
from workflows.cases import DisciplinaryCase
from workflows.types import ActionRequest, SuspensionRequest


def end_of_day_in(days: int, start: datetime) -> datetime:
    day = start.astimezone(LONDON).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=LONDON)


async def refused(handle: Any, update: Any, request: Any) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as refusal:
        await handle.execute_update(update, request)
    assert isinstance(refusal.value.cause, ApplicationError)
    return refusal.value.cause


async def test_a_suspension_is_reviewed_on_its_own_clock_and_blocks_closing(
    harness: Harness,
) -> None:
    handle, _ = await harness.open_case()
    suspend = SuspensionRequest(
        "suspend", "Risk to patients while allegations are investigated", "alice"
    )
    state = await handle.execute_update(DisciplinaryCase.suspension, suspend)
    assert state.suspended_since is not None
    first_due = end_of_day_in(28, state.suspended_since)
    assert state.suspension_review_due == first_due
    again = await refused(handle, DisciplinaryCase.suspension, suspend)
    assert again.type == "NotAllowed" and "already suspended" in again.message
    blank = await refused(
        handle, DisciplinaryCase.suspension, SuspensionRequest("review", " ", "alice")
    )
    assert blank.type == "InvalidData"

    # The review is missed: the advisor is reminded at the due time, then the policy's
    # escalations follow (manager at once, HR director a week later).
    await harness.env.sleep(first_due - await harness.env.get_current_time() + timedelta(days=8))
    due = await harness.events("suspension_review_due")
    escalated = await harness.events("suspension_escalated")
    assert len(due) == 1 and abs(due[0].at - first_due) < timedelta(seconds=1)
    assert [event.detail["roles"] for event in escalated] == [["manager"], ["hr_director"]]
    assert harness.mail_to("suspension_review") == ["alice@north.example"]
    async with harness.db.sessions() as session:
        suspension_mail = await session.execute(
            select(OutboxMessage.event_key, OutboxMessage.recipient, OutboxMessage.status)
            .where(OutboxMessage.event_key.startswith("suspension1:"))
            .order_by(OutboxMessage.event_key)
        )
    assert list(suspension_mail) == [
        ("suspension1:review0:due", "alice@north.example", "sent"),
        ("suspension1:review0:escalation:0", "mark@north.example", "sent"),
        ("suspension1:review0:escalation:1", "hannah@north.example", "sent"),
    ]

    closing = await refused(
        handle, DisciplinaryCase.act, ActionRequest("no_further_action", "alice", {"outcome": "x"})
    )
    assert "Lift the suspension" in closing.message

    reviewed = await handle.execute_update(
        DisciplinaryCase.suspension, SuspensionRequest("review", "Still needed", "mark")
    )
    review_time = (await harness.events("suspension_reviewed"))[0].at
    assert reviewed.suspension_review_due == end_of_day_in(28, review_time)

    lifted = await handle.execute_update(
        DisciplinaryCase.suspension, SuspensionRequest("lift", "", "mark")
    )
    assert lifted.suspended_since is None and lifted.suspension_review_due is None
    async with harness.db.sessions() as session:
        row = await session.get(Case, harness.case_id)
    assert row is not None and row.suspended_since is None
    closed = await handle.execute_update(
        DisciplinaryCase.act,
        ActionRequest("no_further_action", "alice", {"outcome": "Allegation not upheld"}),
    )
    assert closed.status == "closed"


async def test_suspension_through_the_api(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    hannah = await api_stack.token("hannah")
    case = (
        await api_stack.http.post(
            "/api/cases",
            json={"case_type": "disciplinary", "employee_id": "E1001", "summary": "Theft"},
            headers=alice,
        )
    ).json()
    url = f"/api/cases/{case['id']}/suspension"
    no_reason = await api_stack.http.post(f"{url}/suspend", json={}, headers=alice)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    not_yet = await api_stack.http.post(f"{url}/lift", json={}, headers=alice)
    assert not_yet.status_code == 409 and "not suspended" in not_yet.json()["detail"]
    unknown = await api_stack.http.post(f"{url}/extend", json={}, headers=alice)
    assert unknown.status_code == 422
    director = await api_stack.http.post(f"{url}/suspend", json={"note": "Risk"}, headers=hannah)
    assert director.status_code == 403

    suspended = await api_stack.http.post(f"{url}/suspend", json={"note": "Risk"}, headers=alice)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["suspended_since"] is not None
    assert suspended.json()["suspension_review_due"] > suspended.json()["suspended_since"]
    lifted = await api_stack.http.post(f"{url}/lift", json={"note": "Back on wards"}, headers=alice)
    assert lifted.status_code == 200 and lifted.json()["suspended_since"] is None
    timeline = (await api_stack.http.get(f"/api/cases/{case['id']}", headers=alice)).json()
    kinds = [entry["kind"] for entry in timeline["timeline"]]
    assert kinds[-2:] == ["suspended", "suspension_lifted"]
