"""Replay recorded case histories against today's workflow code.

A change to workflow code that running cases would replay differently (a new timer, a
reordered activity) fails here instead of in production. The histories were recorded
with `python -m tests.test_replay` (payloads sealed with the tests' fixed key); record a
new one whenever a workflow gains a path worth guarding, and keep the old ones.
"""

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from policies.calendar import LONDON, add_working_days
from policies.loader import shipped_policies
from records.database import Database
from records.migrate import upgrade
from temporal_client import data_converter
from tests.conftest import (
    TEST_PAYLOAD_KEY,
    add_people,
    insert_case_row,
    installed_binary,
    make_settings,
)
from tests.smtp_fixture import SmtpServer, free_port
from worker import WORKFLOWS, build_worker
from workflows.disciplinary import DisciplinaryCase
from workflows.types import ActionRequest, CaseInput, PauseRequest, ResumeRequest

HISTORIES = Path(__file__).parent / "histories"


async def test_recorded_histories_replay_with_todays_code() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded histories to replay"
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(TEST_PAYLOAD_KEY))
    for path in files:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        await replayer.replay_workflow(history)


async def record_full_disciplinary_case(folder: Path) -> str:
    """Walk a case through pause, a breach and every stage to closure; return its history."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=data_converter(TEST_PAYLOAD_KEY),
    )
    url = f"sqlite:///{folder}/history.db"
    upgrade(url)
    db = Database(url)
    smtp = SmtpServer(free_port())
    smtp.start()
    people = await add_people(db)
    policy = shipped_policies()["disciplinary"]
    opened_at = await env.get_current_time()
    await insert_case_row(db, "DIS-REPLAY-1", people.organisation.id, opened_at, policy)
    task_queue = f"record-{uuid.uuid4()}"
    try:
        async with build_worker(env.client, db, make_settings(url, smtp.port), task_queue):
            handle = await env.client.start_workflow(
                DisciplinaryCase.run,
                CaseInput(
                    "DIS-REPLAY-1", people.organisation.id, policy, 1, opened_at, "alice", "routine"
                ),
                id="case-DIS-REPLAY-1",
                task_queue=task_queue,
            )

            async def act(action: str, **data: str) -> None:
                await handle.execute_update(
                    DisciplinaryCase.act, ActionRequest(action, "alice", data)
                )

            await env.sleep(timedelta(days=1))
            await handle.execute_update(DisciplinaryCase.pause, PauseRequest("Off sick", "alice"))
            await env.sleep(timedelta(days=2))
            await handle.execute_update(DisciplinaryCase.resume, ResumeRequest("alice"))
            await env.sleep(timedelta(days=12))  # past the assessment deadline: breach, escalations
            await act(
                "refer_to_investigation", terms_of_reference="ToR", investigating_officer="Dr K"
            )
            await act("submit_report", report_summary="Case to answer", recommendation="hearing")
            today = (await env.get_current_time()).astimezone(LONDON).date()
            await act(
                "schedule_hearing",
                hearing_date=add_working_days(today, 6).isoformat(),
                panel_chair="Ms L",
            )
            await act("record_decision", outcome="Final written warning")
            await act("send_outcome_letter", letter_sent_on=today.isoformat())
            await act("lodge_appeal", grounds="Procedure")
            await act("record_appeal_outcome", appeal_outcome="Upheld")
            await handle.result()
            history = await handle.fetch_history()
    finally:
        smtp.stop()
        await db.dispose()
        await env.shutdown()
    return history.to_json()


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        recorded = asyncio.run(record_full_disciplinary_case(Path(scratch)))
    (HISTORIES / "disciplinary_full_case.json").write_text(recorded)
    print("recorded tests/histories/disciplinary_full_case.json")
