"""Shared fixtures: real databases (SQLite and PostgreSQL), a real SMTP server, Temporal servers."""

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import psycopg
import pytest
import pytest_asyncio

from records.database import Database
from records.migrate import upgrade
from records.models import Organisation
from records.people import StaffEntry, create_user, get_or_create_organisation, upsert_staff

pytest_plugins = ["tests.smtp_fixture"]

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


@pytest_asyncio.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    await db.dispose()


@pytest_asyncio.fixture
async def sqlite_database(tmp_path: object) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path}/ercase.db"
    upgrade(url)
    db = Database(url)
    yield db
    await db.dispose()


@dataclass
class People:
    organisation: Organisation
    other_organisation: Organisation


async def add_people(db: Database) -> People:
    """Two trusts; in the first an advisor, a manager, an HR director and some staff."""
    async with db.transaction() as session:
        org = await get_or_create_organisation(session, "RXA", "North Trust")
        other = await get_or_create_organisation(session, "RXB", "South Trust")
        await create_user(session, org, "alice", "demo", ["advisor"], "Alice Advisor", "alice@north.example")
        await create_user(session, org, "bob", "demo", ["advisor"], "Bob Advisor", "bob@north.example")
        await create_user(session, org, "mark", "demo", ["manager"], "Mark Manager", "mark@north.example")
        await create_user(session, org, "hannah", "demo", ["hr_director"], "Hannah Director", "hannah@north.example")
        await create_user(session, org, "polly", "demo", ["policy_owner"], "Polly Owner", "polly@north.example")
        await create_user(session, other, "oscar", "demo", ["advisor", "manager"], "Oscar Other", "oscar@south.example")
        await upsert_staff(
            session,
            org.id,
            [
                StaffEntry("E1001", "Priya Patel", "priya@north.example", "Medicine", "Cardiology", "E2001", "5", "Asian or Asian British", "No"),
                StaffEntry("E2001", "Lena Line", "lena@north.example", "Medicine", "Cardiology", None, "8a", "White", "No"),
                StaffEntry("E1002", "Sam Jones", "sam@north.example", "Surgery", "Theatres", "E2001", "3", "White", "Yes"),
            ],
        )
        await upsert_staff(session, other.id, [StaffEntry("S9001", "Olive South", None, "Estates", "Portering")])
    return People(org, other)
