"""Two replicas on one database agree: nothing a second API or worker process would
contradict is held in one process's memory (docs/operations.md, "Several workers, several
API replicas"). Each replica here is its own Database (its own connection pool), as two
processes have; the database fixture runs every test on SQLite and on PostgreSQL.
"""

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from policies.loader import shipped_policies
from records.database import Database
from records.models import AuditEntry, Case, CasePurge
from records.shred_ledger import read_shreds
from services.retention import purge_expired_cases
from services.signin import AccountLocked, SignIn, SignInRefused, revoke, signed_in_principal
from tests.support.configuration import make_settings
from tests.support.database import insert_case_row
from tests.support.people import add_people

NOW = datetime.now(UTC)


async def test_a_lockout_earned_on_one_replica_is_enforced_by_the_other(
    database: Database, database_url: str
) -> None:
    await add_people(database)
    settings = make_settings(database_url, sign_in_max_failures=3)
    other = Database(database_url)
    try:
        first, second = SignIn(database, settings), SignIn(other, settings)
        for _ in range(3):
            with pytest.raises(SignInRefused):
                await first.authenticate("alice", "wrong", "10.1.2.3")
        # The right password, on the other replica: still locked from that address.
        with pytest.raises(AccountLocked):
            await second.authenticate("alice", "x", "10.1.2.3")
    finally:
        await other.dispose()


async def test_a_token_revoked_on_one_replica_is_refused_by_the_other(
    database: Database, database_url: str
) -> None:
    await add_people(database)
    other = Database(database_url)
    jti = secrets.token_urlsafe(16)
    try:
        assert await signed_in_principal(other, jti, "alice") is not None
        await revoke(database, jti, NOW + timedelta(hours=8))
        assert await signed_in_principal(other, jti, "alice") is None
    finally:
        await other.dispose()


async def test_two_purges_at_once_shred_each_case_once(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    people = await add_people(database)
    policy = shipped_policies()["disciplinary"]
    # Disciplinary records are kept six years after closure (the shipped policy's P6Y), so
    # cases closed seven years ago are due.
    closed = NOW - timedelta(days=365 * 7 + 2)
    due = [f"DIS-2019-{n:04d}" for n in range(1, 6)]
    for case_id in due:
        await insert_case_row(database, case_id, people.organisation.id, closed, policy)
        async with database.transaction() as session:
            case = await session.get(Case, case_id)
            assert case is not None
            case.status, case.closed_at = "closed", closed
    ledger, documents = tmp_path / "ledger.jsonl", tmp_path / "documents"
    other = Database(database_url)
    try:
        results = await asyncio.gather(
            purge_expired_cases(database, documents, ledger, None, NOW),
            purge_expired_cases(other, documents, ledger, None, NOW),
        )
    finally:
        await other.dispose()
    purged = [item.case_id for result in results for item in result]
    assert sorted(purged) == due  # each case by one of the two, none by both
    assert sorted(shred.case_id for shred in read_shreds(ledger)) == due
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CasePurge)) == len(due)
        audits = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "case.purge")
        )
    assert audits == len(due)
