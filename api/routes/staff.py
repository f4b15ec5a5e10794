"""The staff directory: a JSON list of staff, added or updated by employee id."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from api.deps import CurrentUser, get_database
from api.schemas import StaffImported, StaffIn
from records.database import Database
from records.people import StaffEntry
from services import staff_directory

router = APIRouter(prefix="/api/staff", tags=["staff"])
MAX_ROWS = 20_000


@router.post("")
async def import_staff(
    rows: Annotated[list[StaffIn], Body(max_length=MAX_ROWS)],
    principal: CurrentUser,
    database: Annotated[Database, Depends(get_database)],
) -> StaffImported:
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
    created, updated = await staff_directory.import_staff(database, principal, entries)
    return StaffImported(created=created, updated=updated)
