"""Real databases for tests: a fresh PostgreSQL database, a migrated case database, a case row."""

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime

import psycopg

from policies.schema import PolicyDefinition
from records.case_keys import CaseKeys
from records.database import Database
from records.migrate import upgrade
from records.models import Case
from tests.support.keys import TEST_KEYS, TEST_PAYLOAD_KEY

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (its SQLAlchemy URL), dropped afterwards."""
    name = f"ercase_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
