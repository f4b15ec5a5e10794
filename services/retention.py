"""Records governance: legal holds, the retention purge and subject access requests.

The purge keeps what anonymous reports need (case type, division and department, dates, the
stage timeline's kinds and times, the closing step as the outcome code) and destroys the rest:
documents (the files too), notes, the summary, the pause reason, the employee id, every
event's free text and step data, time-entry notes, and the case's key — which makes the
case's history in Temporal (and every backup of it) unreadable. Each purge is also written
to the shred ledger, outside the database, so a restored database backup is purged again.
"""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from policies.retention import retention_ends
from policies.schema import PolicyDefinition
from records.audit import append_audit
from records.case_keys import destroy_case_key
from records.cases import policy_version
from records.database import Database
from records.models import (
    Case,
    CaseEvent,
    CaseKey,
    CasePurge,
    Document,
    LegalHold,
    Note,
    TimeEntry,
)
from records.shred_ledger import Shred, read_shreds, record_shred
from services.access import Principal, visible_case
from services.errors import Conflict, Forbidden, Invalid
from workflows import workflow_id

HOLDERS = frozenset({"manager", "admin", "auditor"})
PURGED = "[purged at the end of its retention period]"
# Event detail that is structure, not content: kept for stage durations and linked counts.
KEPT_DETAIL = frozenset({"action", "from", "to", "due_at", "days", "case", "opened"})


# ---- legal hold --------------------------------------------------------------------


async def set_legal_hold(
    database: Database, principal: Principal, case_id: str, reason: str, address: str | None
) -> LegalHold:
    async with database.transaction() as session:
        # Whether the case exists for this person comes first: 404 before any 403 or 422.
        await visible_case(session, principal, case_id)
        _require_holder(principal)
        if not reason.strip():
            raise Invalid(
                "Give the reason for the legal hold (e.g. the claim or request it serves)."
            )
        hold = await session.get(LegalHold, case_id)
        if hold is None:
            hold = LegalHold(case_id=case_id, reason=reason.strip(), set_by=principal.username)
            session.add(hold)
        else:
            hold.reason, hold.set_by = reason.strip(), principal.username
        _audit(session, principal, "case.legal_hold.set", case_id, address, reason.strip())
        await session.flush()
        return hold


async def clear_legal_hold(
    database: Database, principal: Principal, case_id: str, reason: str, address: str | None
) -> None:
    async with database.transaction() as session:
        await visible_case(session, principal, case_id)
        _require_holder(principal)
        if not reason.strip():
            raise Invalid("Give the reason for lifting the legal hold.")
        hold = await session.get(LegalHold, case_id)
        if hold is None:
            raise Conflict(f"Case {case_id} is not on legal hold.")
        await session.delete(hold)
        _audit(session, principal, "case.legal_hold.cleared", case_id, address, reason.strip())


async def legal_hold(
    database: Database, principal: Principal, case_id: str, address: str | None = None
) -> LegalHold | None:
    """The case's legal hold, if any; the read is audited."""
    async with database.transaction() as session:
        await visible_case(session, principal, case_id)
        append_audit(
            session,
            organisation_id=principal.organisation_id,
            username=principal.username,
            action="case.legal_hold.read",
            case_id=case_id,
            client_address=address,
        )
        return await session.get(LegalHold, case_id)


def _require_holder(principal: Principal) -> None:
    if not principal.has_any(HOLDERS):
        raise Forbidden("Only a manager, an auditor or an administrator can change a legal hold.")


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    case_id: str,
    address: str | None,
    reason: str,
) -> None:
    append_audit(
        session,
        organisation_id=principal.organisation_id,
        username=principal.username,
        action=action,
        case_id=case_id,
        client_address=address,
        detail={"reason": reason},
    )


# ---- the purge ---------------------------------------------------------------------


@dataclass
class PurgeItem:
    case_id: str
    case_type: str
    closed_at: datetime
    retention: str
    counts: dict[str, int]


async def due_for_purge(session: AsyncSession, now: datetime) -> list[tuple[Case, str]]:
    """Closed cases past their retention (see _retention_for), not held, not purged."""
    candidates = await session.scalars(
        select(Case)
        .where(Case.status == "closed", Case.closed_at.is_not(None))
        .where(Case.id.not_in(select(LegalHold.case_id)))
        .where(Case.id.not_in(select(CasePurge.case_id)))
        .order_by(Case.closed_at, Case.id)
    )
    retentions: dict[tuple[int, str, int | None], str | None] = {}
    due = []
    for case in candidates:
        assert case.closed_at is not None
        retention = await _retention_for(session, case, retentions)
        if retention is not None and retention_ends(case.closed_at, retention) <= now:
            due.append((case, retention))
    return due


async def _retention_for(
    session: AsyncSession, case: Case, known: dict[tuple[int, str, int | None], str | None]
) -> str | None:
    """The retention of the policy version the case ran under, unless the current one is longer.

    Records-management practice (e.g. the NHS Records Management Code): a record is kept for
    the period its schedule set when it was made; a later schedule may extend that period for
    records already held (a new legal duty to keep them longer), but never silently shortens
    it, since people were told, and decisions taken, on the old period. So the later of the
    two ends wins; a shortened schedule applies only to cases run under it. A version with no
    retention set has no period to keep to: the other's applies; with neither, none is purged.
    """
    assert case.closed_at is not None
    periods: list[str] = []
    for version in (case.policy_version, None):  # the case's version, then the newest
        key = (case.organisation_id, case.case_type, version)
        if key not in known:
            row = await policy_version(session, *key)
            known[key] = PolicyDefinition.model_validate(row.definition).retention if row else None
        retention = known[key]
        if retention is not None:
            periods.append(retention)
    if not periods:
        return None
    closed_at = case.closed_at
    return max(periods, key=lambda period: retention_ends(closed_at, period))


async def purge_expired_cases(
    database: Database,
    documents_dir: Path,
    ledger: Path,
    client: Callable[[], Awaitable[Client]] | None,
    now: datetime,
    dry_run: bool = False,
) -> list[PurgeItem]:
    """Purge every case past retention, each in its own transaction, each audited, each named
    in the shred ledger (records/shred_ledger.py) before its transaction commits."""
    async with database.sessions() as session:
        due = [(case.id, retention) for case, retention in await due_for_purge(session, now)]
    purged = []
    for case_id, retention in due:
        try:
            async with database.transaction() as session:
                case = await session.get(Case, case_id)
                assert case is not None and case.closed_at is not None
                if dry_run:
                    counts = await _counts(session, case_id)
                    item = PurgeItem(case_id, case.case_type, case.closed_at, retention, counts)
                    purged.append(item)
                    continue
                if await session.get(CasePurge, case_id) is not None:
                    continue  # another process's purge (a second worker, the CLI) did it since
                files, counts = await _purge_case(session, case, retention, now, "case.purge")
                # The purge row's key is the case id: a purge running at the same moment in
                # another process stops here (IntegrityError) before writing the ledger.
                await session.flush()
                record_shred(ledger, Shred(case_id, case.organisation_id, retention, now))
                purged.append(PurgeItem(case_id, case.case_type, case.closed_at, retention, counts))
        except IntegrityError:
            continue
        await _finish(documents_dir, files, client, case_id)
    return purged


async def reapply_shreds(
    database: Database,
    documents_dir: Path,
    ledger: Path,
    client: Callable[[], Awaitable[Client]] | None,
    now: datetime,
) -> list[str]:
    """Purge again every case in the shred ledger that the database holds unpurged, e.g. after
    a backup taken before its purge was restored; each audited. The ids re-purged."""
    reapplied = []
    for shred in read_shreds(ledger):
        try:
            async with database.transaction() as session:
                files = await _reapply(session, shred, now)
        except IntegrityError:
            continue  # another process (the API and the worker start together) did it first
        if files is not None:
            reapplied.append(shred.case_id)
            await _finish(documents_dir, files, client, shred.case_id)
    return reapplied


async def _reapply(session: AsyncSession, shred: Shred, now: datetime) -> list[str] | None:
    """The purged case's document files to delete, or None if nothing was left to redo."""
    key = await session.get(CaseKey, shred.case_id)
    if key is not None and key.wrapped_key is None:
        return None  # its key is gone, and with it its history; its rows were purged with it
    case = await session.get(Case, shred.case_id)
    if case is not None and await session.get(CasePurge, shred.case_id) is None:
        files, _ = await _purge_case(
            session, case, shred.retention, shred.purged_at, "case.purge.reapplied"
        )
        return files
    # A database restored from before the case was opened, or a purge whose key survived.
    await destroy_case_key(session, shred.case_id, now)
    append_audit(
        session,
        organisation_id=shred.organisation_id,
        username=None,
        action="case.key.reshredded",
        case_id=shred.case_id,
        detail={"purged_at": shred.purged_at.isoformat()},
    )
    return []


async def _finish(
    documents_dir: Path,
    files: list[str],
    client: Callable[[], Awaitable[Client]] | None,
    case_id: str,
) -> None:
    """After the purge commits: the document files, then the workflow, if any is left."""
    for path in (documents_dir / name for name in files):
        path.unlink(missing_ok=True)
    if client is not None:
        await _end_workflow(await client(), case_id)


async def _counts(session: AsyncSession, case_id: str) -> dict[str, int]:
    def rows(model: Any) -> Any:
        return select(model).where(model.case_id == case_id)

    return {
        "documents": len(list(await session.scalars(rows(Document)))),
        "notes": len(list(await session.scalars(rows(Note)))),
        "events": len(list(await session.scalars(rows(CaseEvent)))),
        "time_entries": len(list(await session.scalars(rows(TimeEntry)))),
    }


async def _purge_case(
    session: AsyncSession, case: Case, retention: str, now: datetime, action: str
) -> tuple[list[str], dict[str, int]]:
    counts = await _counts(session, case.id)
    documents = list(await session.scalars(select(Document).where(Document.case_id == case.id)))
    for document in documents:
        await session.delete(document)
    for note in await session.scalars(select(Note).where(Note.case_id == case.id)):
        await session.delete(note)
    for entry in await session.scalars(select(TimeEntry).where(TimeEntry.case_id == case.id)):
        entry.note = ""
    outcome_code = None
    for event in await session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)):
        if event.kind == "closed":
            outcome_code = event.detail.get("action")
        event.detail = {key: value for key, value in event.detail.items() if key in KEPT_DETAIL}
    case.summary = PURGED
    case.employee_id = ""
    case.outcome = outcome_code
    case.paused_reason = None
    await destroy_case_key(session, case.id, now)
    session.add(CasePurge(case_id=case.id, purged_at=now, retention=retention, counts=counts))
    append_audit(
        session,
        organisation_id=case.organisation_id,
        username=None,
        action=action,
        case_id=case.id,
        detail={"retention": retention, **counts},
    )
    return [document.stored_name for document in documents], counts


async def _end_workflow(client: Client, case_id: str) -> None:
    """A closed case whose workflow still runs (an appeal window) can do nothing without its key."""
    handle = client.get_workflow_handle(workflow_id(case_id))
    with contextlib.suppress(RPCError):  # none left in the engine (its retention passed too)
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate(reason="retention period ended; the case was purged")
