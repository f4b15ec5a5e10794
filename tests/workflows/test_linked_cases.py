"""A disciplinary case that opens a separate investigation case and waits for its report.

Time-skipping, with the real activities: the investigation is a case of its own (its row,
its reference, its clocks, its workflow), linked both ways, and the disciplinary case can
neither move on from its investigation stage nor close while the investigation is open.
"""

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from policies.calendar import LONDON
from policies.loader import shipped_policies
from records.models import Case
from tests.support.catalogue import MAIN_PATHS, walk
from tests.support.harness import JUST_CULTURE, Harness
from tests.support.waiting import eventually
from workflows import workflow_id
from workflows.cases import DisciplinaryCase
from workflows.types import ActionRequest

TERMS = {
    "terms_of_reference": "Timesheets, March",
    "investigating_officer": "Dr Khan",
    **JUST_CULTURE,
}
REPORT = {"report_summary": "Case to answer", "recommendation": "Formal hearing"}


async def refusal(handle: Any, action: str, data: dict[str, str]) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(DisciplinaryCase.act, ActionRequest(action, "alice", data))
    assert isinstance(refused.value.cause, ApplicationError)
    return refused.value.cause


async def test_the_disciplinary_waits_for_its_investigation_case(harness: Harness) -> None:
    handle, _ = await harness.open_case()
    state = await handle.execute_update(
        DisciplinaryCase.act, ActionRequest("open_investigation_case", "alice", TERMS)
    )
    assert state.stage_key == "investigation"
    [advanced] = await harness.events("advanced")
    child_id = advanced.detail["opened"]
    assert child_id.startswith("INV-")

    async with harness.db.sessions() as session:
        child = await session.get(Case, child_id)
    assert child is not None
    assert (child.parent_case_id, child.employee_id, child.advisor, child.stage_key) == (
        harness.case_id,
        "E1001",
        "alice",
        # The step agreed the terms of reference: the investigation opens at its interviews,
        # and its clock is the disciplinary's investigation stage's (14 + 7 = 21 days).
        "interviews",
    )
    # Interviews P2W, then the report P1W: the child's report is due the day the parent's
    # investigation stage (P21D) falls due.
    parent = await handle.query(DisciplinaryCase.state)
    assert child.stage_due_at is not None and parent.stage_due_at is not None
    child_report_due = child.stage_due_at.astimezone(LONDON).date() + timedelta(days=7)
    assert child_report_due == parent.stage_due_at.astimezone(LONDON).date()

    waiting = await refusal(handle, "submit_report", REPORT)
    assert waiting.type == "NotAllowed"
    assert waiting.message == f"This stage waits for {child_id} to close before the next step."
    closing = await refusal(handle, "no_case_to_answer", {"outcome": "None"})
    assert child_id in closing.message

    investigation = harness.env.client.get_workflow_handle(workflow_id(child_id))
    policy = shipped_policies()["investigation"]
    closed = await walk(harness.env, investigation, policy, MAIN_PATHS["investigation"][1:])
    assert closed[-1].status == "closed"

    async def parent_heard_of_it() -> bool:
        return bool(await harness.events("linked_case_closed"))

    await eventually(parent_heard_of_it, 10)
    [heard] = await harness.events("linked_case_closed")
    assert heard.detail["case"] == child_id
    state = await handle.execute_update(
        DisciplinaryCase.act, ActionRequest("submit_report", "alice", REPORT)
    )
    assert state.stage_key == "hearing_arrangement"


async def test_the_in_case_investigation_path_does_not_wait(harness: Harness) -> None:
    handle, _ = await harness.open_case()
    await handle.execute_update(
        DisciplinaryCase.act, ActionRequest("refer_to_investigation", "alice", TERMS)
    )
    state = await handle.execute_update(
        DisciplinaryCase.act, ActionRequest("submit_report", "alice", REPORT)
    )
    assert state.stage_key == "hearing_arrangement"
    async with harness.db.sessions() as session:
        assert await session.get(Case, harness.case_id) is not None
    assert await harness.events("linked_case_closed") == []
