"""Listing a case's notes (adding one is POST /api/cases/{id}/notes, beside the other steps)."""

from fastapi import APIRouter

from api.deps import Records
from api.routes.cases import NoteOut

router = APIRouter(prefix="/api/cases", tags=["cases"])


@router.get("/{case_id}/notes")
async def list_notes(case_id: str, cases: Records) -> list[NoteOut]:
    return [
        NoteOut(id=n.id, kind=n.kind, text=n.body, author=n.author, created_at=n.created_at)
        for n in await cases.notes(case_id)
    ]
