"""Time spent on cases, by activity code, for workload and cost reporting."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

from policies.calendar import LONDON
from records.audit import append_audit
from records.database import Database
from records.models import TimeEntry
from services.access import CASE_WORKERS, Principal, visible_case
from services.errors import Forbidden, Invalid

# The codes a trust reports time against; labels as an advisor would say them.
ACTIVITY_CODES = {
    "advice": "Advice to a manager",
    "investigation": "Investigation",
    "meeting": "Meeting or hearing",
    "correspondence": "Letters and correspondence",
    "preparation": "Preparing papers",
    "admin": "Case administration",
}
MAX_MINUTES = 24 * 60


@dataclass
class NewTimeEntry:
    worked_on: date
    minutes: int
    activity_code: str
    note: str = ""


@dataclass
class CaseTime:
    """Time entries on the cases one signed-in person may see."""

    database: Database
    principal: Principal
    client_address: str | None = None

    async def list(self, case_id: str) -> list[TimeEntry]:
        async with self.database.transaction() as session:
            await visible_case(session, self.principal, case_id)
            rows = list(
                await session.scalars(
                    select(TimeEntry)
                    .where(TimeEntry.case_id == case_id)
                    .order_by(TimeEntry.worked_on, TimeEntry.id)
                )
            )
            append_audit(
                session,
                organisation_id=self.principal.organisation_id,
                username=self.principal.username,
                action="case.time.read",
                case_id=case_id,
                client_address=self.client_address,
            )
            return rows

    async def add(self, case_id: str, entry: NewTimeEntry) -> TimeEntry:
        # A case this person may not see is a 404 before any question of role (not a 403).
        async with self.database.transaction() as session:
            await visible_case(session, self.principal, case_id)
        if not self.principal.has_any(CASE_WORKERS):
            raise Forbidden("Your role cannot record time on cases.")
        if not 1 <= entry.minutes <= MAX_MINUTES:
            raise Invalid(f"minutes must be between 1 and {MAX_MINUTES} (one day).")
        if entry.activity_code not in ACTIVITY_CODES:
            raise Invalid(
                f"'{entry.activity_code}' is not an activity code; use one of: "
                f"{', '.join(ACTIVITY_CODES)}."
            )
        today = datetime.now(UTC).astimezone(LONDON).date()
        if entry.worked_on > today:
            raise Invalid("The date worked cannot be in the future.")
        async with self.database.transaction() as session:
            case = await visible_case(session, self.principal, case_id)
            if entry.worked_on < case.opened_at.astimezone(LONDON).date():
                raise Invalid(
                    f"The date worked is before case {case_id} was opened "
                    f"({case.opened_at.astimezone(LONDON).date().isoformat()})."
                )
            row = TimeEntry(
                case_id=case_id,
                username=self.principal.username,
                worked_on=entry.worked_on,
                minutes=entry.minutes,
                activity_code=entry.activity_code,
                note=entry.note.strip(),
            )
            session.add(row)
            await session.flush()
            append_audit(
                session,
                organisation_id=self.principal.organisation_id,
                username=self.principal.username,
                action="case.time.add",
                case_id=case_id,
                client_address=self.client_address,
                detail={"time_entry": row.id, "minutes": row.minutes},
            )
        return row
