"""The audit log: append-only and hash-chained, so a changed, removed or inserted row shows.

Every AuditEntry added through any session is chained when it is flushed (a `before_flush`
listener, so no call site can forget): the one `audit_chain` row is updated first, which
takes its row lock on PostgreSQL and the database's write lock on SQLite, so concurrent
writers append one after another and no two rows claim the same place in the chain. Each
row stores its position (`seq`), the previous row's hash and
sha256(previous hash + the row's canonical content). The database refuses UPDATE and DELETE
on the table (triggers made by migration 0007); `verify` finds what someone with enough
rights to get past them changed.

`append_audit` is the one way a row is written: no other module builds an AuditEntry
(tests/unit/test_import_rules.py keeps it so), so what a row holds is decided here.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from records.models import AuditChain, AuditEntry, utcnow

GENESIS = "0" * 64
CHAIN_ROW = 1
CONTENT = ("seq", "at", "organisation_id", "username", "action", "case_id", "client_address")


def append_audit(
    session: AsyncSession | Session,
    *,
    action: str,
    organisation_id: int | None,
    username: str | None,
    case_id: str | None = None,
    client_address: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add one row to the log; it is chained when the session flushes (below).

    `username` is None for what the system does by itself (a purge, a reshred).
    """
    session.add(
        AuditEntry(
            organisation_id=organisation_id,
            username=username,
            action=action,
            case_id=case_id,
            client_address=client_address,
            detail=dict(detail or {}),
        )
    )


def canonical(row: Mapping[str, Any]) -> bytes:
    """The row's content as stable bytes: sorted keys, UTC times, no whitespace."""
    content: dict[str, Any] = {name: row[name] for name in CONTENT}
    at = row["at"]
    content["at"] = at.astimezone(UTC).isoformat() if isinstance(at, datetime) else at
    content["detail"] = row["detail"] or {}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def chained_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(row)).hexdigest()


def _as_row(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in (*CONTENT, "detail")}


@event.listens_for(Session, "before_flush")
def _chain_new_entries(session: Session, _context: UOWTransaction, _instances: object) -> None:
    entries = [item for item in session.new if isinstance(item, AuditEntry)]
    if not entries:
        return
    # Rows flushed together are chained in the order they happened.
    now = utcnow()
    for entry in entries:
        entry.at = entry.at or now
        entry.detail = entry.detail or {}
    entries.sort(key=lambda entry: entry.at)
    connection = session.connection()
    # The UPDATE comes first: it is what serialises concurrent appenders.
    length, last_hash = connection.execute(
        update(AuditChain)
        .where(AuditChain.id == CHAIN_ROW)
        .values(length=AuditChain.length + len(entries))
        .returning(AuditChain.length, AuditChain.last_hash)
    ).one()
    seq = length - len(entries)
    for entry in entries:
        seq += 1
        entry.seq = seq
        entry.prev_hash = last_hash
        entry.hash = last_hash = chained_hash(last_hash, _as_row(entry))
    connection.execute(
        update(AuditChain).where(AuditChain.id == CHAIN_ROW).values(last_hash=last_hash)
    )


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_change(*_args: object) -> None:
    raise PermissionError("The audit log is append-only: its rows are never changed or removed.")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rows: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"OK: {self.rows} audit rows, the chain is intact."
        return f"BROKEN at row seq={self.broken_seq} (id={self.broken_id}): {self.reason}"


async def verify(session: AsyncSession, batch: int = 5000) -> Verdict:
    """Walk the chain from its start; the first row whose links or hash do not hold is named."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    last_id: int | None = None
    while True:
        query = select(AuditEntry).order_by(AuditEntry.seq.is_(None), AuditEntry.seq)
        rows = list(await session.scalars(query.offset(checked).limit(batch)))
        for entry in rows:
            last_id = entry.id
            if entry.seq != expected_seq:
                reason = (
                    "the row is not in the chain"
                    if entry.seq is None
                    else f"expected seq {expected_seq}: a row before it was removed or inserted"
                )
                return Verdict(False, checked, entry.seq, entry.id, reason)
            if entry.prev_hash != expected_prev:
                return Verdict(
                    False, checked, entry.seq, entry.id, "its link to the previous row is wrong"
                )
            if entry.hash != chained_hash(expected_prev, _as_row(entry)):
                return Verdict(
                    False, checked, entry.seq, entry.id, "its content does not match its hash"
                )
            expected_prev, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
        session.expunge_all()
        if len(rows) < batch:
            break
    head = await session.get(AuditChain, CHAIN_ROW)
    if head is None or head.length != checked or head.last_hash != expected_prev:
        return Verdict(
            False,
            checked,
            checked,
            last_id,
            "the chain's head does not match its last row: rows at the end were removed",
        )
    return Verdict(True, checked)
