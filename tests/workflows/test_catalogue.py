"""Every shipped case type, from opening to closure, in the time-skipping server.

For each case type the main path goes through every stage; the alternative path first lets
the first stage's deadline pass (a breach, then each escalation in order) and then closes
early or loops back. Cases run with their real activities: SQLite records what they do, a
real SMTP server takes their mail. The routes themselves are in tests/support/catalogue.py.
"""

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from activities.types import CaseSnapshot
from policies.calendar import due_instant
from policies.durations import as_timedelta
from policies.loader import shipped_policies
from policies.schema import CLOSED, duration
from tests.support.catalogue import ALTERNATIVE_PATHS, MAIN_PATHS, stages_visited, walk
from tests.support.harness import Harness, at_instants
from worker import WORKFLOWS
from workflows import WORKFLOW_FOR_CASE_TYPE
from workflows.case_process import CaseProcess

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


async def assert_closed_in_order(
    harness: Harness, handle: WorkflowHandle[Any, CaseSnapshot], steps: int
) -> None:
    result = await handle.result()
    assert result.status == "closed" and result.stage_key == CLOSED and result.closed_at
    events = await harness.events()
    steps_taken = [event.kind for event in events if event.kind in ("advanced", "closed")]
    assert steps_taken == ["advanced"] * (steps - 1) + ["closed"]
    assert events[0].kind == "opened" and events[-1].kind == "closed"
    assert [event.seq for event in events] == list(range(1, len(events) + 1))


@pytest.mark.slow
@pytest.mark.parametrize("case_type", CASE_TYPES)
async def test_main_path_from_opening_to_closure(case_type: str, harness: Harness) -> None:
    policy, path = POLICIES[case_type], MAIN_PATHS[case_type]
    handle, _ = await harness.open_case(policy)

    states = await walk(harness.env, handle, policy, path)

    assert [state.stage_key for state in states] == stages_visited(policy, path)[1:]
    assert all(not state.breached for state in states)
    assert states[-1].status == "closed" and states[-1].actions == []
    await assert_closed_in_order(harness, handle, len(path))


@pytest.mark.slow
@pytest.mark.parametrize("case_type", CASE_TYPES)
async def test_a_missed_first_stage_escalates_then_the_alternative_path_closes(
    case_type: str, harness: Harness
) -> None:
    policy, path = POLICIES[case_type], ALTERNATIVE_PATHS[case_type]
    first = policy.stages[0]
    assert first.due is not None
    handle, opened_at = await harness.open_case(policy)
    due = due_instant(opened_at, duration(first.due))
    escalate_at = [due + as_timedelta(duration(each.after)) for each in first.escalations]
    await harness.env.sleep(max(escalate_at) - opened_at + timedelta(hours=1))

    assert at_instants([event.at for event in await harness.events("stage_breach")], [due])
    escalations = [
        event
        for event in await harness.events("escalation")
        if event.detail["key"].startswith(f"stage0:{first.key}:")
    ]
    assert at_instants([event.at for event in escalations], escalate_at)
    assert [event.detail["roles"] for event in escalations] == [
        list(each.notify) for each in first.escalations
    ]
    assert (await handle.query(CaseProcess.state)).breached

    states = await walk(harness.env, handle, policy, path)

    assert [state.stage_key for state in states] == stages_visited(policy, path)[1:]
    assert states[-1].status == "closed" and states[-1].breached
    await assert_closed_in_order(harness, handle, len(path))
