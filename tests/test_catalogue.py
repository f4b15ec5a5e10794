"""Every shipped case type, from opening to closure, in the time-skipping server.

For each case type the main path goes through every stage; the alternative path first lets
the first stage's deadline pass (a breach, then each escalation in order) and then closes
early or loops back. Cases run with their real activities: SQLite records what they do, a
real SMTP server takes their mail. The routes themselves are in tests/catalogue_paths.py.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.types import CaseSnapshot
from policies.calendar import due_instant
from policies.durations import as_timedelta
from policies.loader import shipped_policies
from policies.schema import CLOSED, PolicyDefinition, duration
from records.database import Database
from records.models import CaseEvent
from tests.catalogue_paths import ALTERNATIVE_PATHS, MAIN_PATHS, stages_visited, walk
from tests.conftest import add_people, eventually, insert_case_row, make_settings
from tests.smtp_fixture import SmtpServer
from worker import WORKFLOWS, build_worker
from workflows import WORKFLOW_FOR_CASE_TYPE
from workflows.case_process import CaseProcess
from workflows.types import CaseInput

POLICIES = shipped_policies()
CASE_TYPES = sorted(POLICIES)


# ---- the catalogue as data ---------------------------------------------------------------


def test_every_case_type_has_a_workflow_the_worker_runs() -> None:
    assert sorted(WORKFLOW_FOR_CASE_TYPE) == CASE_TYPES
    assert sorted(WORKFLOW_FOR_CASE_TYPE.values()) == sorted(cls.__name__ for cls in WORKFLOWS)


def test_reference_prefixes_are_unique() -> None:
    prefixes = [policy.reference_prefix for policy in POLICIES.values()]
    assert len(set(prefixes)) == len(prefixes)


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_every_stage_is_reachable_from_the_first(case_type: str) -> None:
    policy = POLICIES[case_type]
    reached = {policy.stages[0].key}
    frontier = [policy.stages[0].key]
    while frontier:
        for action in policy.stage(frontier.pop()).actions:
            if action.to != CLOSED and action.to not in reached:
                reached.add(action.to)
                frontier.append(action.to)
    assert reached == {stage.key for stage in policy.stages}


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_the_paths_close_the_case_and_visit_every_stage(case_type: str) -> None:
    policy = POLICIES[case_type]
    main = stages_visited(policy, MAIN_PATHS[case_type])
    alternative = stages_visited(policy, ALTERNATIVE_PATHS[case_type])
    assert main[-1] == alternative[-1] == CLOSED
    assert len(main) == len(MAIN_PATHS[case_type]) + 1
    assert len(alternative) == len(ALTERNATIVE_PATHS[case_type]) + 1
    assert set(main) == {stage.key for stage in policy.stages} | {CLOSED}


def test_every_first_stage_has_a_deadline_and_escalations() -> None:
    # The alternative paths start with a missed first stage.
    for policy in POLICIES.values():
        assert policy.stages[0].due is not None and policy.stages[0].escalations, policy.case_type


# ---- walking cases in the time-skipping server ----------------------------------------------


class Catalogue:
    def __init__(self, env: WorkflowEnvironment, db: Database, org_id: int, task_queue: str):
        self.env, self.db = env, db
        self.org_id, self.task_queue = org_id, task_queue
        self.case_id = ""

    async def open_case(
        self, policy: PolicyDefinition
    ) -> tuple[WorkflowHandle[Any, CaseSnapshot], datetime]:
        self.case_id = f"{policy.reference_prefix}-T-{uuid.uuid4().hex[:6]}"
        opened_at = await self.env.get_current_time()
        await insert_case_row(self.db, self.case_id, self.org_id, opened_at, policy)
        handle = await self.env.client.start_workflow(
            WORKFLOW_FOR_CASE_TYPE[policy.case_type],  # started by name, as the API does
            CaseInput(self.case_id, self.org_id, policy, 1, opened_at, "alice", "routine"),
            id=f"case-{self.case_id}",
            task_queue=self.task_queue,
            result_type=CaseSnapshot,
            execution_timeout=timedelta(days=800),
        )

        async def opened_is_recorded() -> bool:
            return [event.kind for event in await self.events()] == ["opened"]

        await eventually(opened_is_recorded, 10)
        return handle, opened_at

    async def events(self, kind: str | None = None) -> list[CaseEvent]:
        async with self.db.sessions() as session:
            query = select(CaseEvent).where(CaseEvent.case_id == self.case_id)
            if kind:
                query = query.where(CaseEvent.kind == kind)
            return list(await session.scalars(query.order_by(CaseEvent.seq)))


@pytest_asyncio.fixture
async def catalogue(
    time_skipping_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> AsyncIterator[Catalogue]:
    people = await add_people(sqlite_database)
    settings = make_settings("sqlite://", smtp_port=smtp_server.port)
    task_queue = f"test-{uuid.uuid4()}"
    worker = build_worker(
        time_skipping_env.client,
        sqlite_database,
        settings,
        task_queue,
        workflow_failure_exception_types=[Exception],  # a bug fails the test, not retries
    )
    async with worker:
        yield Catalogue(time_skipping_env, sqlite_database, people.organisation.id, task_queue)


def near(actual: list[datetime], expected: list[datetime]) -> bool:
    """Timers fire at their instant give or take the server's few milliseconds."""
    return len(actual) == len(expected) and all(
        abs(got - want) < timedelta(seconds=1) for got, want in zip(actual, expected, strict=True)
    )


async def assert_closed_in_order(
    catalogue: Catalogue, handle: WorkflowHandle[Any, CaseSnapshot], steps: int
) -> None:
    result = await handle.result()
    assert result.status == "closed" and result.stage_key == CLOSED and result.closed_at
    events = await catalogue.events()
    steps_taken = [event.kind for event in events if event.kind in ("advanced", "closed")]
    assert steps_taken == ["advanced"] * (steps - 1) + ["closed"]
    assert events[0].kind == "opened" and events[-1].kind == "closed"
    assert [event.seq for event in events] == list(range(1, len(events) + 1))


@pytest.mark.parametrize("case_type", CASE_TYPES)
async def test_main_path_from_opening_to_closure(case_type: str, catalogue: Catalogue) -> None:
    policy, path = POLICIES[case_type], MAIN_PATHS[case_type]
    handle, _ = await catalogue.open_case(policy)

    states = await walk(catalogue.env, handle, policy, path)

    assert [state.stage_key for state in states] == stages_visited(policy, path)[1:]
    assert all(not state.breached for state in states)
    assert states[-1].status == "closed" and states[-1].actions == []
    await assert_closed_in_order(catalogue, handle, len(path))


@pytest.mark.parametrize("case_type", CASE_TYPES)
async def test_a_missed_first_stage_escalates_then_the_alternative_path_closes(
    case_type: str, catalogue: Catalogue
) -> None:
    policy, path = POLICIES[case_type], ALTERNATIVE_PATHS[case_type]
    first = policy.stages[0]
    assert first.due is not None
    handle, opened_at = await catalogue.open_case(policy)
    due = due_instant(opened_at, duration(first.due))
    escalate_at = [due + as_timedelta(duration(each.after)) for each in first.escalations]
    await catalogue.env.sleep(max(escalate_at) - opened_at + timedelta(hours=1))

    assert near([event.at for event in await catalogue.events("stage_breach")], [due])
    escalations = [
        event
        for event in await catalogue.events("escalation")
        if event.detail["key"].startswith(f"stage0:{first.key}:")
    ]
    assert near([event.at for event in escalations], escalate_at)
    assert [event.detail["roles"] for event in escalations] == [
        list(each.notify) for each in first.escalations
    ]
    assert (await handle.query(CaseProcess.state)).breached

    states = await walk(catalogue.env, handle, policy, path)

    assert [state.stage_key for state in states] == stages_visited(policy, path)[1:]
    assert states[-1].status == "closed" and states[-1].breached
    await assert_closed_in_order(catalogue, handle, len(path))
