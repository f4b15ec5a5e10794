"""Records governance: legal holds, the retention purge and subject access requests.

The purge keeps what anonymous reports need (case type, division and department, dates, the
stage timeline's kinds and times, the closing step as the outcome code) and destroys the rest:
documents (the files too), notes, the summary, the pause reason, the employee id, every
event's free text and step data, time-entry notes, and the case's key — which makes the
case's history in Temporal (and every backup of it) unreadable.
"""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from policies.retention import retention_ends
from records.case_keys import destroy_case_key
from records.cases import current_policy
from records.database import Database
from records.models import (
    AuditEntry,
    Case,
    CaseEvent,
    CasePurge,
    Document,
    LegalHold,
    Note,
    TimeEntry,
)
from services.access import Principal
from services.cases import visible_case
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
        session.add(_audit(principal, "case.legal_hold.set", case_id, address, reason.strip()))
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
        session.add(_audit(principal, "case.legal_hold.cleared", case_id, address, reason.strip()))


async def legal_hold(database: Database, principal: Principal, case_id: str) -> LegalHold | None:
    async with database.transaction() as session:
        await visible_case(session, principal, case_id)
        return await session.get(LegalHold, case_id)


def _require_holder(principal: Principal) -> None:
    if not principal.has_any(HOLDERS):
        raise Forbidden("Only a manager, an auditor or an administrator can change a legal hold.")


def _audit(
    principal: Principal, action: str, case_id: str, address: str | None, reason: str
) -> AuditEntry:
    return AuditEntry(
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
    """Closed cases past their type's retention (the newest policy's), not held, not purged."""
    candidates = await session.scalars(
        select(Case)
        .where(Case.status == "closed", Case.closed_at.is_not(None))
        .where(Case.id.not_in(select(LegalHold.case_id)))
        .where(Case.id.not_in(select(CasePurge.case_id)))
        .order_by(Case.closed_at, Case.id)
    )
    policies: dict[tuple[int, str], str | None] = {}
    due = []
    for case in candidates:
        key = (case.organisation_id, case.case_type)
        if key not in policies:
            found = await current_policy(session, *key)
            policies[key] = found[0].retention if found else None
        retention = policies[key]
        assert case.closed_at is not None
        if retention is not None and retention_ends(case.closed_at, retention) <= now:
            due.append((case, retention))
    return due


async def purge_expired_cases(
    database: Database,
    documents_dir: Path,
    client: Callable[[], Awaitable[Client]] | None,
    now: datetime,
    dry_run: bool = False,
) -> list[PurgeItem]:
    """Purge every case past retention, each in its own transaction, each audited."""
    async with database.sessions() as session:
        due = [(case.id, retention) for case, retention in await due_for_purge(session, now)]
    purged = []
    for case_id, retention in due:
        async with database.transaction() as session:
            case = await session.get(Case, case_id)
            assert case is not None and case.closed_at is not None
            if dry_run:
                counts = await _counts(session, case_id)
                purged.append(PurgeItem(case_id, case.case_type, case.closed_at, retention, counts))
                continue
            files, counts = await _purge_case(session, case, retention, now)
            purged.append(PurgeItem(case_id, case.case_type, case.closed_at, retention, counts))
        for path in (documents_dir / name for name in files):
            path.unlink(missing_ok=True)
        if client is not None:
            await _end_workflow(await client(), case_id)
    return purged


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
    session: AsyncSession, case: Case, retention: str, now: datetime
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
    session.add(
        AuditEntry(
            organisation_id=case.organisation_id,
            username=None,
            action="case.purge",
            case_id=case.id,
            detail={"retention": retention, **counts},
        )
    )
    return [document.stored_name for document in documents], counts


async def _end_workflow(client: Client, case_id: str) -> None:
    """A closed case whose workflow still runs (an appeal window) can do nothing without its key."""
    handle = client.get_workflow_handle(workflow_id(case_id))
    with contextlib.suppress(RPCError):  # none left in the engine (its retention passed too)
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate(reason="retention period ended; the case was purged")
