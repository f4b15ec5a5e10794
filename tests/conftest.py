"""The fixtures every tier shares: real databases (SQLite and PostgreSQL), a real SMTP server,
Temporal servers, the API stack and the workflow harness. What they build is in tests/support/."""

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from records.database import Database
from tests.support.database import case_database, fresh_postgres_database
from tests.support.harness import Harness, running_harness
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer
from tests.support.stack import ApiStack, api_stack_on
from tests.support.temporal import start_dev_server, start_time_skipping

# A test is marked by the servers its fixtures need, so `-m "not postgres"` and the like need
# no marks written by hand.
MARK_FOR_FIXTURE = {"postgres_url": "postgres", "dev_server_env": "dev_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, mark in MARK_FOR_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(mark)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


# The PostgreSQL half is marked here: it reaches postgres_url only at run time, which the
# fixture-name marking above cannot see.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each database test runs twice: on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ercase.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest_asyncio.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with case_database(database_url) as db:
        yield db


@pytest_asyncio.fixture
async def sqlite_database(tmp_path: object) -> AsyncIterator[Database]:
    async with case_database(f"sqlite:///{tmp_path}/ercase.db") as db:
        yield db


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, one per test.

    One per test, because its clock is global and a workflow terminated with an activity in
    flight stops it skipping for good; it starts in well under a second.
    """
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server, shared by the session."""
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture
async def api_stack(
    dev_server_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> AsyncIterator[ApiStack]:
    """The FastAPI app in-process (httpx), a real worker, the dev server, SQLite and SMTP."""
    async with api_stack_on(dev_server_env, sqlite_database, smtp_server) as stack:
        yield stack


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> AsyncIterator[Harness]:
    """A disciplinary case's worker in the time-skipping server, over SQLite and SMTP."""
    async with running_harness(time_skipping_env, sqlite_database, smtp_server) as harness:
        yield harness
