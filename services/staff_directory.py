"""The staff directory: staff added or updated by employee id, in one audited transaction.

Only admins change it (services/access.py DIRECTORY_EDITORS): it decides who is a party to a
case and holds special-category data. Every changed field is audited with its value before and
after, and a change that would let its maker see a case they could not see before is refused.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from records.audit import append_audit
from records.database import Database
from records.models import Staff
from records.people import StaffEntry, upsert_staff
from services.access import (
    DIRECTORY_EDITORS,
    Principal,
    refuse_gained_access,
    visible_before_change,
)
from services.errors import Forbidden, Invalid

FIELDS = tuple(f.name for f in fields(StaffEntry) if f.name != "employee_id")


async def _entries(
    session: AsyncSession, organisation_id: int, employee_ids: list[str]
) -> dict[str, dict[str, Any]]:
    rows = await session.scalars(
        select(Staff).where(
            Staff.organisation_id == organisation_id, Staff.employee_id.in_(employee_ids)
        )
    )
    return {row.employee_id: {name: getattr(row, name) for name in FIELDS} for row in rows}


def field_changes(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> dict[str, dict[str, list[Any]]]:
    """{employee id: {field: [before, after]}} for every field that changed (new staff: None
    before)."""
    changes: dict[str, dict[str, list[Any]]] = {}
    for employee_id, now in after.items():
        was = before.get(employee_id, dict.fromkeys(FIELDS))
        changed = {name: [was[name], now[name]] for name in FIELDS if was[name] != now[name]}
        if changed:
            changes[employee_id] = changed
    return changes


async def import_staff(
    database: Database, principal: Principal, entries: Sequence[StaffEntry]
) -> tuple[int, int]:
    """How many staff were created and how many updated; all rows or none."""
    if not principal.has_any(DIRECTORY_EDITORS):
        raise Forbidden("Only an administrator can change the staff directory.")
    counts = Counter(entry.employee_id for entry in entries)
    duplicates = sorted(staff_id for staff_id, n in counts.items() if n > 1)
    if duplicates:
        raise Invalid(f"Staff ids appear more than once: {', '.join(duplicates[:10])}.")
    ids = [entry.employee_id for entry in entries]
    async with database.transaction() as session:
        could_see = await visible_before_change(session, principal)
        before = await _entries(session, principal.organisation_id, ids)
        created, updated = await upsert_staff(session, principal.organisation_id, list(entries))
        changes = field_changes(before, await _entries(session, principal.organisation_id, ids))
        await refuse_gained_access(session, principal, could_see)
        append_audit(
            session,
            organisation_id=principal.organisation_id,
            username=principal.username,
            action="staff.import",
            detail={"created": created, "updated": updated, "changes": changes},
        )
    return created, updated
