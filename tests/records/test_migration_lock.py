"""Start-up that cannot race: several processes migrating one fresh database at once (as the
API and worker do under docker-compose) all succeed, one after another; `ercase seed` migrates
first and says, rather than hangs, when no worker runs; an unreachable database or Temporal
is one sentence naming the address tried."""

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from temporalio.testing import WorkflowEnvironment

import cli
from records.database import Database, sync_url
from records.migrate import current_revision, head_revision
from services.worker_presence import wait_for_worker, worker_polling
from settings import get_settings
from tests.support.configuration import make_settings
from tests.support.keys import TEST_PAYLOAD_KEY
from worker import build_worker

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
# Each process imports everything, says it is ready, and migrates when told to go: all of
# them reach upgrade() together, not staggered by their start-up.
MIGRATE_ON_GO = """
import sys
from records.migrate import upgrade
print("ready", flush=True)
sys.stdin.readline()
upgrade(sys.argv[1])
print("migrated", flush=True)
"""


def test_processes_migrating_one_fresh_database_at_once_all_succeed(database_url: str) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_ON_GO, database_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [process.communicate(timeout=300) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == "migrated", err
    assert current_revision(database_url) == head_revision()
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert [row[0] for row in versions] == [head_revision()]
    finally:
        engine.dispose()


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str, **env: str) -> str:
    """`ercase ...` in this process; returns what it said on refusal (it must refuse)."""
    for name, value in {
        "ERCASE_PAYLOAD_KEY": TEST_PAYLOAD_KEY,
        "ERCASE_SECRET_KEY": "test-secret-key-of-enough-length-for-hs256",
        **env,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    capsys.readouterr()
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.main(list(args))
    finally:
        get_settings.cache_clear()
    said = exit_.value.code
    assert isinstance(said, str), (said, capsys.readouterr())
    assert len(said.splitlines()) == 1 and "Traceback" not in said
    return said


def test_an_unreachable_database_or_temporal_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    # Port 1: nothing listens there, so the connection is refused at once.
    said = run_cli(
        monkeypatch, capsys, "migrate",
        ERCASE_DATABASE_URL="postgresql+psycopg://ercase:hunter2@127.0.0.1:1/ercase",
    )  # fmt: skip
    assert (
        said
        == "ercase: cannot reach the database at postgresql+psycopg://ercase:***@127.0.0.1:1/ercase."
    )
    said = run_cli(monkeypatch, capsys, "schedules", "list", ERCASE_TEMPORAL_ADDRESS="127.0.0.1:1")
    assert said.startswith("ercase: cannot reach Temporal at 127.0.0.1:1 ")
    said = run_cli(
        monkeypatch, capsys, "seed",
        ERCASE_DATABASE_URL=f"sqlite:///{tmp_path}/ercase.db",
        ERCASE_TEMPORAL_ADDRESS="127.0.0.1:1",
    )  # fmt: skip
    assert said.startswith("ercase: cannot reach Temporal at 127.0.0.1:1 ")


async def test_seed_migrates_first_and_says_a_worker_must_run(
    dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/ercase.db"
    env = {
        "PATH": str(Path(sys.executable).parent),
        "ERCASE_DATABASE_URL": url,
        "ERCASE_PAYLOAD_KEY": TEST_PAYLOAD_KEY,
        "ERCASE_SECRET_KEY": "test-secret-key-of-enough-length-for-hs256",
        "ERCASE_TEMPORAL_ADDRESS": dev_server_env.client.service_client.config.target_host,
        "ERCASE_TASK_QUEUE": f"nobody-polls-{uuid.uuid4()}",
    }
    seed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "seed", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(seed.communicate(), 120)
    assert seed.returncode == 1
    said = err.decode().strip()
    assert "no worker is polling task queue" in said and "nothing was seeded" in said, said
    assert len(said.splitlines()) == 1
    # It migrated first, and wrote nothing else.
    assert current_revision(url) == head_revision()
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM organisations")).scalar() == 0
    finally:
        engine.dispose()


async def test_a_polling_worker_is_seen(
    dev_server_env: WorkflowEnvironment, sqlite_database: Database
) -> None:
    client = dev_server_env.client
    task_queue = f"presence-{uuid.uuid4()}"
    assert not await worker_polling(client, task_queue)
    settings = make_settings("sqlite://")
    async with build_worker(client, sqlite_database, settings, task_queue):
        assert await wait_for_worker(client, task_queue, 30)
