"""The staff directory: staff added or updated by employee id, in one audited transaction."""

from collections import Counter
from collections.abc import Sequence

from records.audit import append_audit
from records.database import Database
from records.people import StaffEntry, upsert_staff
from services.access import STAFF_EDITORS, Principal
from services.errors import Forbidden, Invalid


async def import_staff(
    database: Database, principal: Principal, entries: Sequence[StaffEntry]
) -> tuple[int, int]:
    """How many staff were created and how many updated; all rows or none."""
    if not principal.has_any(STAFF_EDITORS):
        raise Forbidden("Your role does not allow you to change the staff directory.")
    counts = Counter(entry.employee_id for entry in entries)
    duplicates = sorted(staff_id for staff_id, n in counts.items() if n > 1)
    if duplicates:
        raise Invalid(f"Staff ids appear more than once: {', '.join(duplicates[:10])}.")
    async with database.transaction() as session:
        created, updated = await upsert_staff(session, principal.organisation_id, list(entries))
        append_audit(
            session,
            organisation_id=principal.organisation_id,
            username=principal.username,
            action="staff.import",
            detail={"created": created, "updated": updated},
        )
    return created, updated
