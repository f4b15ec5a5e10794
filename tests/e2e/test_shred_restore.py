"""Crypto-shredding survives restoring a database backup taken before the purge.

A backup holds the purged case's wrapped key (and its rows): restored, it would open the
case's sealed history in Temporal again. The shred ledger, kept outside the database, names
every purged case; `ercase retention reapply` (and the API's and worker's start) purge again
whatever a restored database still holds. Real backups: SQLite's online backup, and pg_dump of
a scratch PostgreSQL database restored with psql.
"""

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy import select
from sqlalchemy.engine import make_url
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from records.case_keys import KeyDestroyed
from records.database import Database
from records.models import AuditEntry, Case, CaseKey, CasePurge
from records.shred_ledger import read_shreds
from schedules import RECURRING, schedule_id
from services.retention import PURGED, purge_expired_cases
from settings import Settings
from tests.api.test_retention import close_long_ago, open_paused, start_input
from tests.support.database import POSTGRES_ADMIN, case_database
from tests.support.keys import TEST_PAYLOAD_KEY
from tests.support.smtp import SmtpServer
from tests.support.stack import ApiStack, api_stack_on
from tests.support.waiting import eventually
from worker import run_worker
from workflows.types import CaseInput

REASON = "Quillfeather occupational health referral for Marisol Abernethy-Okafor"
NOW = datetime.now(UTC)
PSQL = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"]


def sqlite_path(db: Database) -> Path:
    path = make_url(str(db.engine.url)).database
    assert path is not None
    return Path(path)


async def backup_sqlite(db: Database, copy: Path) -> Callable[[], None]:
    """An online backup (SQLite's backup API, WAL included); returns how to restore it."""
    live = sqlite_path(db)
    with sqlite3.connect(live) as source, sqlite3.connect(copy) as target:
        source.backup(target)

    def restore() -> None:
        with sqlite3.connect(copy) as source, sqlite3.connect(live) as target:
            source.backup(target)

    return restore


async def backup_postgres(db: Database, dump: Path) -> Callable[[], None]:
    """pg_dump of the database; restoring drops it, creates it again and loads the dump."""
    name = make_url(str(db.engine.url)).database
    assert name is not None
    subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-d", name, "-f", str(dump)],
        check=True,
        timeout=120,
    )

    def restore() -> None:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        subprocess.run(
            [*PSQL, "-d", name, "-f", str(dump)],
            check=True,
            timeout=120,
            capture_output=True,
        )

    return restore


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def stack(
    request: pytest.FixtureRequest,
    dev_server_env: WorkflowEnvironment,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> AsyncIterator[ApiStack]:
    url = (
        f"sqlite:///{tmp_path}/ercase.db"
        if request.param == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    async with case_database(url) as db, api_stack_on(dev_server_env, db, smtp_server) as stack:
        stack.settings.documents_dir = tmp_path / "documents"
        yield stack


async def history_is_readable(env: WorkflowEnvironment, case_id: str) -> bool:
    """Whether the engine's raw start input of the case opens with the keys the database has."""
    try:
        [case_input] = await env.client.data_converter.decode(
            await start_input(env, case_id), [CaseInput]
        )
    except KeyDestroyed:
        return False
    assert case_input.case_id == case_id
    return True


async def test_a_restored_backup_is_shredded_again(
    stack: ApiStack, dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    db, settings = stack.database, stack.settings
    purged_case = await open_paused(stack, "E1001", REASON)
    kept_case = await open_paused(stack, "E1002", REASON)
    await close_long_ago(stack, purged_case, 7)
    assert await history_is_readable(dev_server_env, purged_case)

    # The nightly backup, taken before the purge.
    backup = (
        await backup_sqlite(db, tmp_path / "backup.db")
        if db.is_sqlite
        else await backup_postgres(db, tmp_path / "backup.sql")
    )

    async def client() -> Client:
        return dev_server_env.client

    ledger = settings.shred_ledger
    purged = await purge_expired_cases(db, settings.documents_dir, ledger, client, NOW)
    assert [item.case_id for item in purged] == [purged_case]
    assert [shred.case_id for shred in read_shreds(ledger)] == [purged_case]
    assert not await history_is_readable(dev_server_env, purged_case)

    # Disaster recovery: the database comes back from the backup, the ledger stays as it was.
    # Whatever purges it again: the operator's command, the worker's start, the API's start.
    for reapply, in_another_process in (
        (run_the_command, True),
        (start_a_worker, False),
        (start_the_api, False),
    ):
        await db.dispose()
        backup()
        async with db.sessions() as session:
            case = await session.get(Case, purged_case)
            assert case is not None and case.summary != PURGED
            assert await session.get(CasePurge, purged_case) is None
        # The hazard: the restored key opens the purged case's history again.
        assert await history_is_readable(dev_server_env, purged_case)

        await reapply(settings, db, dev_server_env, purged_case)
        if in_another_process:
            # This process remembers the key it just read for a few seconds; a purge in this
            # process would have made it forget at once (test_case_keys.py).
            await asyncio.sleep(settings.case_key_cache_seconds)

        assert not await history_is_readable(dev_server_env, purged_case), reapply.__name__
        assert await history_is_readable(dev_server_env, kept_case)
        async with db.sessions() as session:
            case = await session.get(Case, purged_case)
            assert case is not None
            assert (case.summary, case.employee_id, case.paused_reason) == (PURGED, "", None)
            key = await session.get(CaseKey, purged_case)
            assert key is not None and key.wrapped_key is None
            purge = await session.get(CasePurge, purged_case)
            assert purge is not None and purge.retention == "P6Y"
            [audit] = await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "case.purge.reapplied")
            )
            assert audit.case_id == purged_case
    # Run again (every start runs it): nothing left to do, nothing audited twice.
    await start_the_api(settings, db, dev_server_env, purged_case)
    async with db.sessions() as session:
        audits = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "case.purge.reapplied")
        )
        assert len(list(audits)) == 1


async def run_the_command(
    settings: Settings, _db: Database, _env: WorkflowEnvironment, case_id: str
) -> None:
    """The operator's step after a restore."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", "retention", "reapply"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "ERCASE_DATABASE_URL": settings.database_url,
            "ERCASE_SHRED_LEDGER": str(settings.shred_ledger),
            "ERCASE_DOCUMENTS_DIR": str(settings.documents_dir),
            "ERCASE_PAYLOAD_KEY": TEST_PAYLOAD_KEY,
            "ERCASE_SECRET_KEY": settings.secret_key,
            "ERCASE_TEMPORAL_ADDRESS": settings.temporal_address,
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"purged again {case_id} (named in {settings.shred_ledger})",
        "1 case(s) purged again",
    ]


async def start_a_worker(
    settings: Settings, db: Database, env: WorkflowEnvironment, case_id: str
) -> None:
    """A worker (`ercase worker`) started on the restored database purges it before polling."""
    queue = f"restored-{uuid.uuid4()}"
    worker = asyncio.create_task(run_worker(settings.model_copy(update={"task_queue": queue})))

    async def purged_again() -> bool:
        async with db.sessions() as session:
            return await session.get(CasePurge, case_id) is not None

    try:
        await eventually(purged_again, 60)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        for mail in RECURRING:  # the schedules it made on the shared server
            with contextlib.suppress(RPCError):
                await env.client.get_schedule_handle(schedule_id(queue, mail.name)).delete()


async def start_the_api(
    settings: Settings, _db: Database, _env: WorkflowEnvironment, _case_id: str
) -> None:
    """An API replica started on the restored database purges it before it serves."""
    async with LifespanManager(create_app(settings)):
        pass
