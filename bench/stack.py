"""What every benchmark sets up the same way: a fresh database, the Temporal dev server, a key.

The client connects as the API does, sealing each case's payloads with the case's own key
(records/case_keys.py), so it can read what the worker seals, e.g. an update's reply.
"""

import asyncio
import base64
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from policies.schema import PolicyDefinition
from records.case_keys import CaseKeys
from records.database import Database
from records.migrate import upgrade
from records.models import Case
from records.passwords import hash_password
from records.people import create_user, get_or_create_organisation
from temporal_client import data_converter
from workflows import workflow_id
from workflows.cases import DisciplinaryCase
from workflows.types import CaseInput

PROJECT = Path(__file__).resolve().parent.parent
STARTING_AT_ONCE = 50


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class BenchStack:
    folder: Path
    key: str
    database_url: str
    database: Database
    env: WorkflowEnvironment

    @property
    def client(self) -> Client:
        return self.env.client

    @property
    def temporal_address(self) -> str:
        address: str = self.env.client.service_client.config.target_host
        return address

    def worker_process(self, task_queue: str, **settings: str) -> subprocess.Popen[bytes]:
        """The worker as production runs it (`python -m cli worker`), on this stack."""
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            cwd=PROJECT,
            env={
                **os.environ,
                "ERCASE_DATABASE_URL": self.database_url,
                "ERCASE_TEMPORAL_ADDRESS": self.temporal_address,
                "ERCASE_TASK_QUEUE": task_queue,
                "ERCASE_PAYLOAD_KEY": self.key,
                "ERCASE_SECRET_KEY": "bench",
                **{f"ERCASE_{name.upper()}": value for name, value in settings.items()},
            },
        )

    async def stop(self) -> None:
        await self.database.dispose()
        await self.env.shutdown()


async def start_stack(prefix: str, database_url: str | None = None) -> BenchStack:
    """A fresh database (SQLite in a new folder unless given) and a dev server beside it."""
    folder = Path(tempfile.mkdtemp(prefix=f"ercase-{prefix}-"))
    key = base64.b64encode(os.urandom(32)).decode()
    database_url = database_url or f"sqlite:///{folder}/ercase.db"
    upgrade(database_url)
    database = Database(database_url)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=data_converter(key, CaseKeys(database, key)),
        dev_server_extra_args=["--log-level", "error"],
    )
    return BenchStack(folder, key, database_url, database, env)


async def seed_cases(
    database: Database, code: str, name: str, case_ids: list[str], opened_at: datetime
) -> int:
    """An organisation, its advisor alice and these disciplinary case rows; its id."""
    async with database.transaction() as session:
        trust = await get_or_create_organisation(session, code, name)
        await create_user(
            session,
            trust,
            "alice",
            hash_password("x"),
            ["advisor"],
            "Alice Advisor",
            f"alice@{code}.example",
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


async def start_cases(
    client: Client,
    task_queue: str,
    policy: PolicyDefinition,
    organisation_id: int,
    case_ids: list[str],
    opened_at: datetime,
) -> None:
    """Start the seeded cases' workflows straight, STARTING_AT_ONCE at a time."""
    gate = asyncio.Semaphore(STARTING_AT_ONCE)

    async def start(case_id: str) -> None:
        async with gate:
            await client.start_workflow(
                DisciplinaryCase.run,
                CaseInput(case_id, organisation_id, policy, 1, opened_at, "alice", "routine"),
                id=workflow_id(case_id),
                task_queue=task_queue,
            )

    await asyncio.gather(*(start(case_id) for case_id in case_ids))
