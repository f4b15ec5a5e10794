"""Searching the audit log (auditors and admins); the search is itself recorded."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from records.audit import append_audit
from records.database import Database
from records.models import AuditEntry
from services.access import AUDIT_READERS, Principal
from services.errors import Forbidden, Invalid

PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditQuery:
    case: str | None = None
    user: str | None = None
    # "case.read", or a family such as "case.action" (every step).
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1


async def search(
    database: Database, principal: Principal, wanted: AuditQuery, client_address: str | None
) -> tuple[Sequence[AuditEntry], int]:
    """One page of the organisation's log, newest first, and how many rows match in all."""
    if not principal.has_any(AUDIT_READERS):
        raise Forbidden("Your role does not allow you to search the audit log.")
    for bound in (wanted.since, wanted.until):
        if bound is not None and bound.tzinfo is None:
            raise Invalid("since and until need a time zone offset, e.g. 2026-12-01T00:00:00Z.")
    query = select(AuditEntry).where(AuditEntry.organisation_id == principal.organisation_id)
    for value, column in ((wanted.case, AuditEntry.case_id), (wanted.user, AuditEntry.username)):
        if value:
            query = query.where(column == value)
    if wanted.action:
        query = query.where(
            (AuditEntry.action == wanted.action) | AuditEntry.action.startswith(wanted.action + ".")
        )
    if wanted.since is not None:
        query = query.where(AuditEntry.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEntry.at < wanted.until)
    async with database.transaction() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(
            await session.scalars(
                query.order_by(AuditEntry.seq.desc())
                .offset((wanted.page - 1) * PAGE_SIZE)
                .limit(PAGE_SIZE)
            )
        )
        append_audit(
            session,
            organisation_id=principal.organisation_id,
            username=principal.username,
            action="audit.search",
            client_address=client_address,
            detail={
                key: value
                for key, value in {
                    "case": wanted.case,
                    "user": wanted.user,
                    "action": wanted.action,
                }.items()
                if value
            },
        )
    return rows, total
