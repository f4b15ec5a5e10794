"""Against the real dev server: a worker that stops mid-case loses nothing.

The case's clocks are Temporal timers held by the server, so a reminder that fell due
while no worker ran is sent when one comes back, once, and the later timers still fire.
"""

import asyncio
import contextlib
import uuid
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import func, select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from policies.schema import validate_policy
from records.database import Database
from records.models import CaseEvent, Organisation
from schedules import RECURRING, schedule_id
from tests.support.configuration import make_settings
from tests.support.database import POSTGRES_ADMIN, insert_case_row
from tests.support.people import add_people
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer
from tests.support.temporal import installed_binary
from tests.support.waiting import eventually
from worker import build_worker, run_worker
from workflows.cases import DisciplinaryCase
from workflows.types import CaseInput

# A short policy, so real time can pass over its clocks in a test.
QUICK_POLICY = validate_policy(
    {
        "case_type": "disciplinary",
        "name": "Quick disciplinary (test)",
        "reference_prefix": "QDIS",
        "stages": [
            {
                "key": "assessment",
                "name": "Assessment",
                "due": "PT10S",
                "reminders": ["PT6S"],
                "escalations": [{"after": "PT1S", "notify": ["manager"]}],
                "actions": [{"key": "close", "to": "closed"}],
            }
        ],
    }
)


@pytest.mark.slow
async def test_a_stopped_worker_picks_the_case_up_again(
    dev_server_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> None:
    people = await add_people(sqlite_database)
    settings = make_settings("sqlite://", smtp_port=smtp_server.port)
    task_queue = f"restart-{uuid.uuid4()}"
    case_id = f"QDIS-{uuid.uuid4().hex[:6]}"
    client = dev_server_env.client

    async def kinds() -> list[str]:
        async with sqlite_database.sessions() as session:
            rows = await session.scalars(
                select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
            )
            return list(rows)

    async def reminder_mail() -> list[str]:
        return [
            message["X-Ercase-Event"]
            for _, message in smtp_server.messages
            if message["X-Ercase-Case"] == case_id
        ]

    opened_at = await dev_server_env.get_current_time()
    await insert_case_row(sqlite_database, case_id, people.organisation.id, opened_at, QUICK_POLICY)
    async with build_worker(client, sqlite_database, settings, task_queue):
        handle = await client.start_workflow(
            DisciplinaryCase.run,
            CaseInput(
                case_id, people.organisation.id, QUICK_POLICY, 1, opened_at, "alice", "routine"
            ),
            id=f"case-{case_id}",
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=2),
        )

        async def opened() -> bool:
            return await kinds() == ["opened"]

        await eventually(opened, 5)

    # No worker while the reminder (at 4 s) falls due.
    await asyncio.sleep(6)
    assert await kinds() == ["opened"]

    async with build_worker(client, sqlite_database, settings, task_queue):

        async def all_fired() -> bool:
            return await kinds() == ["opened", "reminder", "stage_breach", "escalation"]

        await eventually(all_fired, 20)

        async def both_mailed() -> bool:
            return sorted(await reminder_mail()) == ["breach", "reminder"]

        await eventually(both_mailed, 10)
        state = await handle.query(DisciplinaryCase.state)
        assert state.breached and state.status == "open"
        await handle.terminate("test finished")
    recipients = sorted(rcpt for rcpts, _ in smtp_server.messages for rcpt in rcpts)
    assert recipients == ["alice@north.example", "mark@north.example"]


async def test_a_worker_started_before_the_database_and_temporal_waits_for_them() -> None:
    """Found by the chaos run: a worker restarted while PostgreSQL restarted exited for good.

    Here the worker starts with neither its PostgreSQL database nor its Temporal server there
    yet; it must wait, then migrate the database and create its schedules once both answer.
    """
    database_name = f"ercase_test_{uuid.uuid4().hex[:12]}"
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database_name}"
    temporal_port = free_port()
    task_queue = f"late-{uuid.uuid4()}"
    settings = make_settings(
        database_url,
        temporal_address=f"127.0.0.1:{temporal_port}",
        task_queue=task_queue,
        startup_patience_seconds=120,
    )
    worker = asyncio.create_task(run_worker(settings))
    environment: WorkflowEnvironment | None = None
    try:
        await asyncio.sleep(3)
        assert not worker.done(), "the worker gave up instead of waiting"
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database_name}"')
        environment = await WorkflowEnvironment.start_local(
            port=temporal_port,
            dev_server_existing_path=installed_binary("temporal"),
            dev_server_extra_args=["--log-level", "error"],
        )
        client = environment.client

        async def schedules_created() -> bool:
            identifier = schedule_id(task_queue, RECURRING[0].name)
            try:
                await client.get_schedule_handle(identifier).describe()
            except RPCError:
                return False
            return True

        await eventually(schedules_created, 60)
        assert not worker.done()
        # Migrated once the database existed: its tables are there, empty.
        database = Database(database_url)
        async with database.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Organisation)) == 0
        await database.dispose()
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        if environment is not None:
            await environment.shutdown()
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
