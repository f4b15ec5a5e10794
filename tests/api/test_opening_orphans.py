"""A process left under a reference by an opening that failed (its start reached the engine,
its answer and the end sent after it were lost while the Temporal frontend restarted), met
by an opening that draws that reference (a database restored from before it): the opening
must take its place, not be refused as "out of step" (and with it every opening after it).
Found by the chaos run."""

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from policies.loader import shipped_policies
from records.models import CaseEvent
from tests.support.stack import ApiStack
from tests.support.waiting import eventually
from workflows import workflow_id
from workflows.cases import DisciplinaryCase
from workflows.types import CaseInput

CASE = {"case_type": "disciplinary", "employee_id": "E1001", "summary": "Timesheets"}


async def test_a_process_left_by_a_failed_opening_gives_way(
    api_stack: ApiStack, dev_server_env: WorkflowEnvironment
) -> None:
    alice = await api_stack.token("alice")
    first = await api_stack.http.post("/api/cases", json=CASE, headers=alice)
    assert first.status_code == 201, first.text
    prefix, year, number = first.json()["id"].split("-")
    next_reference = f"{prefix}-{year}-{int(number) + 1:04d}"

    # What the lost answer leaves: a running process under the next reference, with no row.
    client = dev_server_env.client
    orphan = await client.start_workflow(
        DisciplinaryCase.run,
        CaseInput(
            next_reference,
            api_stack.people.organisation.id,
            shipped_policies()["disciplinary"],
            1,
            datetime.now(UTC),
            "alice",
            "routine",
        ),
        id=workflow_id(next_reference),
        task_queue=api_stack.settings.task_queue,
    )
    await asyncio.sleep(1)  # its recording activity has found no row by now

    second = await api_stack.http.post("/api/cases", json=CASE, headers=alice)
    assert second.status_code == 201, second.text
    assert second.json()["id"] == next_reference
    left = client.get_workflow_handle(workflow_id(next_reference), run_id=orphan.result_run_id)
    assert (await left.describe()).status == WorkflowExecutionStatus.TERMINATED
    current = await client.get_workflow_handle(workflow_id(next_reference)).describe()
    assert current.run_id != orphan.result_run_id
    assert current.status == WorkflowExecutionStatus.RUNNING

    async def opening_recorded_once() -> bool:
        async with api_stack.database.sessions() as session:
            kinds = await session.scalars(
                select(CaseEvent.kind).where(CaseEvent.case_id == next_reference)
            )
            return list(kinds) == ["opened"]

    await eventually(opening_recorded_once, 10)
    # A third opening is not disturbed: the references go on.
    third = await api_stack.http.post("/api/cases", json=CASE, headers=alice)
    assert third.status_code == 201, third.text
    assert third.json()["id"] == f"{prefix}-{year}-{int(number) + 2:04d}"
