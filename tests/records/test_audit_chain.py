"""The audit log is append-only and hash-chained, on SQLite and PostgreSQL alike."""

import asyncio

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from cli import verify_audit
from records import audit
from records.database import Database
from records.models import AuditChain, AuditEntry


def url_of(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False).replace("+aiosqlite", "")


async def append(database: Database, number: int) -> None:
    async with database.transaction() as session:
        session.add(AuditEntry(username=f"user{number}", action="case.read", case_id="DIS-1"))
        if number % 3 == 0:  # some transactions write two rows at once
            session.add(AuditEntry(username=f"user{number}", action="case.note.note"))


async def test_concurrent_writers_make_one_unbroken_chain(database: Database) -> None:
    await asyncio.gather(*(append(database, number) for number in range(1, 31)))
    async with database.sessions() as session:
        seqs = list(await session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        head = await session.get(AuditChain, 1)
        verdict = await audit.verify(session)
    # 30 transactions, 10 of which (3, 6, …, 30) wrote a second row.
    assert seqs == list(range(1, 41))
    assert head is not None and head.length == 40
    assert verdict.ok and verdict.rows == 40, verdict


async def test_the_database_refuses_to_change_or_remove_audit_rows(database: Database) -> None:
    await append(database, 1)
    for statement in ("UPDATE audit_log SET username = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.transaction() as session:
                await session.execute(text(statement))
    async with database.sessions() as session:
        entry = await session.scalar(select(AuditEntry))
        assert entry is not None and entry.username == "user1"
        entry.username = "mallory"
        with pytest.raises(PermissionError, match="append-only"):
            await session.flush()


async def without_guards(database: Database, statement: str) -> None:
    """What someone with the database owner's rights could do: lift the guard, change rows."""
    async with database.transaction() as session:
        if database.is_sqlite:
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        else:
            await session.execute(
                text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            )
        await session.execute(text(statement))


async def test_verify_names_the_first_tampered_row(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(1, 6):
        await append(database, number)  # 6 rows: number 3 writes two
    assert await verify_audit(url_of(database)) == 0
    assert capsys.readouterr().out.strip() == "OK: 6 audit rows, the chain is intact."

    await without_guards(database, "UPDATE audit_log SET client_address = '10.6.6.6' WHERE seq = 5")
    assert await verify_audit(url_of(database)) == 1
    reported = capsys.readouterr().err
    assert "BROKEN at row seq=5" in reported and "does not match its hash" in reported


async def test_verify_notices_rows_removed_from_the_middle_or_the_end(database: Database) -> None:
    for number in range(1, 5):
        await append(database, number)  # 5 rows: number 3 writes two
    await without_guards(database, "DELETE FROM audit_log WHERE seq = 5")
    async with database.sessions() as session:
        verdict = await audit.verify(session)
    assert not verdict.ok and "rows at the end were removed" in verdict.reason
    await without_guards(database, "DELETE FROM audit_log WHERE seq = 2")
    async with database.sessions() as session:
        verdict = await audit.verify(session)
    assert (verdict.ok, verdict.broken_seq) == (False, 3)
    assert "expected seq 2" in verdict.reason
