"""Replay recorded case histories against today's workflow code.

A change to workflow code that running cases would replay differently (a new timer, a
reordered activity) fails here instead of in production. There is a history for every
shipped case type, `<case_type>_full_case.json`, recorded with `python -m tests.replay.test_replay`
(payloads sealed with the tests' fixed key), which records the case types that have none
yet and never overwrites one. Record a new history whenever a workflow gains a path worth
guarding, and keep the old ones: they stand for cases already running.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.types import CaseSnapshot
from policies.calendar import LONDON, add_working_days
from policies.durations import as_timedelta
from policies.loader import shipped_policies
from policies.schema import LongTermTrigger, Triggers, duration
from records.database import Database
from records.migrate import upgrade
from records.models import Case, CaseEvent
from temporal_client import data_converter
from tests.support.catalogue import MAIN_PATHS, stages_visited, walk
from tests.support.configuration import make_settings
from tests.support.database import insert_case_row
from tests.support.keys import TEST_KEYS, TEST_PAYLOAD_KEY
from tests.support.people import add_people
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer
from tests.support.temporal import installed_binary
from tests.support.waiting import eventually
from worker import WORKFLOWS, build_worker
from workflows import WORKFLOW_FOR_CASE_TYPE, attendance_workflow_id
from workflows.attendance import AttendanceMonitor
from workflows.case_process import CaseProcess
from workflows.cases import SicknessCase
from workflows.types import (
    AbsenceFeed,
    ActionRequest,
    AttendanceEpisode,
    AttendanceEvent,
    AttendanceInput,
    CaseInput,
    PauseRequest,
    ResumeRequest,
    SuspensionRequest,
)

HISTORIES = Path(__file__).parents[1] / "histories"
CASE_TYPES = sorted(shipped_policies())


def history_file(case_type: str) -> Path:
    return HISTORIES / f"{case_type}_full_case.json"


def test_every_shipped_case_type_has_a_recorded_history() -> None:
    missing = [case_type for case_type in CASE_TYPES if not history_file(case_type).exists()]
    assert missing == [], "record them with `python -m tests.replay.test_replay`"


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda path: path.stem)
async def test_recorded_histories_replay_with_todays_code(path: Path) -> None:
    replayer = Replayer(
        workflows=[*WORKFLOWS, AttendanceMonitor], data_converter=data_converter(TEST_PAYLOAD_KEY)
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await replayer.replay_workflow(history)


@dataclass
class Recording:
    """A case running on its own time-skipping server, real database and SMTP server."""

    env: WorkflowEnvironment
    db: Database
    case_id: str
    handle: WorkflowHandle[Any, CaseSnapshot]
    task_queue: str
    organisation_id: int


@asynccontextmanager
async def recording(case_type: str, case_id: str, folder: Path) -> AsyncIterator[Recording]:
    policy = shipped_policies()[case_type]
    # TEST_KEYS holds no database here: histories are sealed with the master key alone, so
    # the Replayer can open them without any case's key.
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=data_converter(TEST_PAYLOAD_KEY, TEST_KEYS),
    )
    url = f"sqlite:///{folder}/{case_id}.db"
    upgrade(url)
    db = Database(url)
    smtp = SmtpServer(free_port())
    smtp.start()
    organisation_id = (await add_people(db)).organisation.id
    opened_at = await env.get_current_time()
    await insert_case_row(db, case_id, organisation_id, opened_at, policy)
    task_queue = f"record-{uuid.uuid4()}"
    try:
        async with build_worker(env.client, db, make_settings(url, smtp.port), task_queue):
            handle = await env.client.start_workflow(
                WORKFLOW_FOR_CASE_TYPE[case_type],
                CaseInput(case_id, organisation_id, policy, 1, opened_at, "alice", "routine"),
                id=f"case-{case_id}",
                task_queue=task_queue,
                result_type=CaseSnapshot,
            )
            yield Recording(env, db, case_id, handle, task_queue, organisation_id)
    finally:
        smtp.stop()
        await db.dispose()
        await env.shutdown()


async def record_full_case(case_type: str, folder: Path, number: int = 1) -> str:
    """Walk a case through a pause, a missed first stage and its main path; return its history."""
    policy = shipped_policies()[case_type]
    reference = f"{policy.reference_prefix}-REPLAY-{number}"
    async with recording(case_type, reference, folder) as case:
        env, handle = case.env, case.handle
        await env.sleep(timedelta(days=1))
        await handle.execute_update(CaseProcess.pause, PauseRequest("Off sick", "alice"))
        await env.sleep(timedelta(days=2))
        state = await handle.execute_update(CaseProcess.resume, ResumeRequest("alice"))
        # Past the first stage's deadline (moved by the pause) and every escalation after it.
        assert state.stage_due_at is not None
        escalations = policy.stages[0].escalations
        last = max(as_timedelta(duration(each.after)) for each in escalations)
        now = await env.get_current_time()
        await env.sleep(state.stage_due_at + last + timedelta(hours=1) - now)
        await walk(env, handle, policy, MAIN_PATHS[case_type])
        await handle.result()
        history = await handle.fetch_history()
    return history.to_json()


async def record_linked_and_suspended(folder: Path, number: int = 2) -> str:
    """A disciplinary case with a suspension and a separate investigation case it waits for."""
    policy = shipped_policies()["disciplinary"]
    async with recording("disciplinary", f"DIS-REPLAY-{number}", folder) as case:
        env, handle = case.env, case.handle
        suspend = SuspensionRequest("suspend", "Risk to patients", "alice")
        await handle.execute_update(CaseProcess.suspension, suspend)
        await walk(env, handle, policy, ["open_investigation_case"])
        [child_id] = [child.id for child in await children(case.db, case.case_id)]
        investigation = env.client.get_workflow_handle(f"case-{child_id}")
        await env.sleep(timedelta(days=30))  # a suspension review missed and escalated
        review = SuspensionRequest("review", "Still needed", "mark")
        await handle.execute_update(CaseProcess.suspension, review)
        child_policy = shipped_policies()["investigation"]
        # Opened at its interviews (the step agreed the terms of reference) since the
        # disciplinary's opens_at; the history recorded before that walked from the first stage.
        child_state = await investigation.query(CaseProcess.state)
        path = MAIN_PATHS["investigation"]
        start = [child_policy.stages[0].key, *stages_visited(child_policy, path)[1:]]
        await walk(env, investigation, child_policy, path[start.index(child_state.stage_key) :])
        await wait_for_event(case.db, case.case_id, "linked_case_closed")
        lift = SuspensionRequest("lift", "Back at work", "mark")
        await handle.execute_update(CaseProcess.suspension, lift)
        await walk(env, handle, policy, MAIN_PATHS["disciplinary"][1:])
        await handle.result()
        history = await handle.fetch_history()
    return history.to_json()


async def children(db: Database, case_id: str) -> list[Case]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Case).where(Case.parent_case_id == case_id)))


async def wait_for_event(db: Database, case_id: str, kind: str) -> None:
    async def recorded() -> bool:
        async with db.sessions() as session:
            found = await session.scalar(
                select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
            )
            return found is not None

    await eventually(recorded, 10)


async def record_sickness_long_term(folder: Path) -> str:
    """A sickness case told of long-term sickness (welfare contacts fall due), then a return."""
    async with recording("sickness", "SCK-REPLAY-2", folder) as case:
        env, handle = case.env, case.handle
        await handle.signal(SicknessCase.attendance, AttendanceEvent("long_term", {"days": 28}))
        await wait_for_event(case.db, case.case_id, "attendance_moved")
        await env.sleep(timedelta(days=30))  # two welfare contacts, the referral missed
        await handle.signal(SicknessCase.attendance, AttendanceEvent("returned", {}))
        await env.sleep(timedelta(days=1))
        policy = shipped_policies()["sickness"]
        await walk(env, handle, policy, ["record_interview", "monitoring_complete"])
        await handle.result()
        history = await handle.fetch_history()
    return history.to_json()


async def record_attendance_monitor(folder: Path) -> str:
    """An employee's monitor: a spell crosses the days-lost trigger (a case opens), reaches
    long-term sickness (the case is told), and ends (the case is told of the return)."""
    async with recording("sickness", "SCK-REPLAY-3", folder) as case:
        env = case.env
        today = (await env.get_current_time()).astimezone(LONDON).date()
        triggers = shipped_policies()["sickness"].triggers
        assert triggers is not None
        monitor = await env.client.start_workflow(
            AttendanceMonitor.run,
            AttendanceInput(case.organisation_id, "E1001"),
            id=attendance_workflow_id(case.organisation_id, "E1001"),
            task_queue=case.task_queue,
            start_signal="feed",
            start_signal_args=[AbsenceFeed([AttendanceEpisode(today)], triggers)],
        )
        await env.sleep(timedelta(days=30))
        back = AbsenceFeed([AttendanceEpisode(today, today + timedelta(days=31))], triggers)
        await monitor.signal(AttendanceMonitor.feed, back)
        await env.sleep(timedelta(days=3))
        history = await monitor.fetch_history()
    return history.to_json()


async def record_sickness_recurring(folder: Path) -> str:
    """Long-term sickness support: a welfare contact missed and escalated, then recorded
    (restarting its clock), a review meeting held, and the return to work."""
    async with recording("sickness", "SCK-REPLAY-4", folder) as case:
        env, handle = case.env, case.handle
        await handle.signal(SicknessCase.attendance, AttendanceEvent("long_term", {"days": 28}))
        await wait_for_event(case.db, case.case_id, "attendance_moved")
        today = (await env.get_current_time()).astimezone(LONDON).date()
        referral = ActionRequest(
            "refer_to_occupational_health", "alice", {"oh_referral_date": today.isoformat()}
        )
        await handle.execute_update(CaseProcess.act, referral)
        await env.sleep(timedelta(days=18))  # the first contact due on day 14, escalated on 17
        await wait_for_event(case.db, case.case_id, "recurring_escalated")
        contact = {
            "contact_date": (today + timedelta(days=18)).isoformat(),
            "contact_notes": "Phoned",
        }
        await handle.execute_update(
            CaseProcess.act, ActionRequest("record_welfare_contact", "alice", contact)
        )
        await env.sleep(timedelta(days=8))
        review = {"review_date": (today + timedelta(days=26)).isoformat(), "review_notes": "Plan"}
        await handle.execute_update(CaseProcess.act, ActionRequest("hold_review", "alice", review))
        await env.sleep(timedelta(days=10))  # the restarted contact falls due on day 32
        await handle.execute_update(CaseProcess.act, ActionRequest("returned_to_work", "alice"))
        policy = shipped_policies()["sickness"]
        await walk(env, handle, policy, ["record_interview", "monitoring_complete"])
        await handle.result()
        history = await handle.fetch_history()
    return history.to_json()


async def record_attendance_monitor_refused(folder: Path) -> str:
    """A monitor told the policy's stage order, whose trigger names a stage the policy lacks:
    the activity records the refusal with its reason and the monitor carries on."""
    async with recording("sickness", "SCK-REPLAY-5", folder) as case:
        env = case.env
        today = (await env.get_current_time()).astimezone(LONDON).date()
        policy = shipped_policies()["sickness"]
        triggers = Triggers(long_term=LongTermTrigger(from_day=28, opens_at="stage_9"))
        stages = [stage.key for stage in policy.stages]
        first = today - timedelta(days=27)
        monitor = await env.client.start_workflow(
            AttendanceMonitor.run,
            AttendanceInput(case.organisation_id, "E1001"),
            id=attendance_workflow_id(case.organisation_id, "E1001"),
            task_queue=case.task_queue,
            start_signal="feed",
            start_signal_args=[AbsenceFeed([AttendanceEpisode(first)], triggers, stages)],
        )
        await env.sleep(timedelta(days=3))
        history = await monitor.fetch_history()
    return history.to_json()


async def record_postponed_hearing(folder: Path) -> str:
    """A disciplinary under the fitted clocks (issue 18): the target's span ends at the report,
    the hearing is postponed once (its clock kept), the sanction chosen."""
    policy = shipped_policies()["disciplinary"]
    async with recording("disciplinary", "DIS-REPLAY-3", folder) as case:
        env, handle = case.env, case.handle
        await walk(env, handle, policy, MAIN_PATHS["disciplinary"][:3])
        state = await handle.query(CaseProcess.state)
        assert state.stage_key == "hearing"
        await env.sleep(timedelta(days=1))
        first = date.fromisoformat(  # the date schedule_hearing recorded
            str((await children_data(case.db, case.case_id))["hearing_date"])
        )
        postpone = {
            "hearing_date": add_working_days(first, 5).isoformat(),
            "postponement_reason": "Companion unavailable",
        }
        await handle.execute_update(
            CaseProcess.act, ActionRequest("postpone_hearing", "alice", postpone)
        )
        await env.sleep(timedelta(days=40))  # past the 32 days: no target breach, a stage one
        await walk(env, handle, policy, MAIN_PATHS["disciplinary"][3:])
        await handle.result()
        history = await handle.fetch_history()
    return history.to_json()


async def children_data(db: Database, case_id: str) -> dict[str, Any]:
    """The data the case's last step recorded (from its timeline)."""
    async with db.sessions() as session:
        event = await session.scalar(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.kind == "advanced")
            .order_by(CaseEvent.seq.desc())
        )
    assert event is not None
    data = event.detail["data"]
    assert isinstance(data, dict)
    return data


async def record_flexible_working_extension(folder: Path) -> str:
    """A flexible working request: paused (the statutory date unmoved), refused, an appeal
    lodged late in the period (its deadline what is left), an agreed extension, granted on
    appeal, the written statement of the changed terms."""
    policy = shipped_policies()["flexible_working"]
    async with recording("flexible_working", "FWR-REPLAY-2", folder) as case:
        env, handle = case.env, case.handle
        await handle.execute_update(CaseProcess.pause, PauseRequest("Manager away", "alice"))
        await env.sleep(timedelta(days=2))
        await handle.execute_update(CaseProcess.resume, ResumeRequest("alice"))
        await walk(env, handle, policy, ["arrange_consultation", "refuse"])
        state = await handle.query(CaseProcess.state)
        assert state.decision_due_at is not None
        await env.sleep(state.decision_due_at - await env.get_current_time() - timedelta(days=4))
        await walk(env, handle, policy, ["lodge_appeal"])
        agreed = state.decision_due_at.astimezone(LONDON).date() + timedelta(days=14)
        extension = {"extended_to": agreed.isoformat(), "extension_agreed": "Email"}
        await handle.execute_update(
            CaseProcess.act, ActionRequest("agree_extension", "alice", extension)
        )
        await walk(env, handle, policy, ["grant_on_appeal", "send_terms_statement"])
        await handle.result()
        history = await handle.fetch_history()
    return history.to_json()


# Histories of particular paths, beside one main path per case type.
SPECIAL_HISTORIES: dict[str, Callable[[Path], Awaitable[str]]] = {
    # Recorded after the clocks were fitted inside their targets and the law (issue 18.3,
    # 18.7, 18.8): target spans, a linked investigation opened at its interviews, the
    # statutory decision period, a postponement that keeps the hearing's clock.
    "disciplinary_postponed_hearing": record_postponed_hearing,
    "disciplinary_linked_at_interviews": partial(record_linked_and_suspended, number=4),
    "flexible_working_extension_and_appeal": record_flexible_working_extension,
    "flexible_working_fitted_clocks": partial(record_full_case, "flexible_working", number=3),
    "bullying_harassment_target_span": partial(record_full_case, "bullying_harassment", number=2),
    "grievance_fitted_clocks": partial(record_full_case, "grievance", number=2),
    "investigation_fitted_clocks": partial(record_full_case, "investigation", number=2),
    "disciplinary_linked_and_suspended": record_linked_and_suspended,
    "sickness_long_term_and_return": record_sickness_long_term,
    "attendance_monitor": record_attendance_monitor,
    "sickness_recurring_recorded": record_sickness_recurring,
    "attendance_monitor_refused": record_attendance_monitor_refused,
}


async def record_missing_histories(folder: Path) -> None:
    for case_type in CASE_TYPES:
        target = history_file(case_type)
        if target.exists():
            continue
        target.write_text(await record_full_case(case_type, folder))
        print(f"recorded tests/histories/{target.name}")
    for name, record in SPECIAL_HISTORIES.items():
        target = HISTORIES / f"{name}.json"
        if not target.exists():
            target.write_text(await record(folder))
            print(f"recorded tests/histories/{target.name}")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(record_missing_histories(Path(scratch)))
