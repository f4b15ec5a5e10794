"""The records the API keeps on a case beside its process: notes (calls, emails, meetings)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from records.models import Note
from services.case_context import CaseContext


@dataclass(frozen=True)
class CaseRecords:
    context: CaseContext

    async def notes(self, case_id: str) -> Sequence[Note]:
        async with self.context.database.transaction() as session:
            await self.context.visible(session, case_id)
            rows = await session.scalars(
                select(Note).where(Note.case_id == case_id).order_by(Note.created_at, Note.id)
            )
            self.context.audit(session, "case.notes.read", case_id)
            return list(rows)

    async def add_note(self, case_id: str, kind: str, text: str) -> Note:
        """Notes are records the API owns; the process does not need to know about them."""
        async with self.context.database.transaction() as session:
            await self.context.visible(session, case_id)
            self.context.require_worker()
            note = Note(
                case_id=case_id, author=self.context.principal.username, kind=kind, body=text
            )
            session.add(note)
            self.context.audit(session, f"case.note.{kind}", case_id)
            await session.flush()
            return note
