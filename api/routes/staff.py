"""The staff directory: a JSON list of staff, added or updated by employee id."""

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Body, Depends

from api.deps import CurrentUser, get_database, require_role
from api.schemas import StaffImported, StaffIn
from records.database import Database
from records.models import AuditEntry
from records.people import StaffEntry, upsert_staff
from services.access import STAFF_EDITORS
from services.errors import Invalid

router = APIRouter(prefix="/api/staff", tags=["staff"])
MAX_ROWS = 20_000


@router.post("")
async def import_staff(
    rows: Annotated[list[StaffIn], Body(max_length=MAX_ROWS)],
    principal: CurrentUser,
    database: Annotated[Database, Depends(get_database)],
) -> StaffImported:
    require_role(principal, STAFF_EDITORS, "change the staff directory")
    duplicates = sorted(
        staff_id for staff_id, n in Counter(row.id for row in rows).items() if n > 1
    )
    if duplicates:
        raise Invalid(f"Staff ids appear more than once: {', '.join(duplicates[:10])}.")
    entries = [
        StaffEntry(
            employee_id=row.id,
            name=row.name,
            email=row.email,
            division=row.division,
            department=row.department,
            line_manager_id=row.line_manager,
            band=row.band,
            ethnic_group=row.ethnic_group,
            disability=row.disability,
        )
        for row in rows
    ]
    async with database.transaction() as session:
        created, updated = await upsert_staff(session, principal.organisation_id, entries)
        session.add(
            AuditEntry(
                organisation_id=principal.organisation_id,
                username=principal.username,
                action="staff.import",
                detail={"created": created, "updated": updated},
            )
        )
    return StaffImported(created=created, updated=updated)
