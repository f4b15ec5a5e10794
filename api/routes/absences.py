"""The absence feed (JSON or an e-roster's CSV) and an employee's attendance record."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from api.deps import CurrentUser, get_database, get_settings
from services.absences import AbsenceCommands, parse_csv, parse_json_text
from services.errors import Invalid

router = APIRouter(tags=["absences"])
MAX_BYTES = 5_000_000


def get_absence_commands(request: Request, principal: CurrentUser) -> AbsenceCommands:
    return AbsenceCommands(
        database=get_database(request),
        client=request.app.state.temporal,
        task_queue=get_settings(request).task_queue,
        principal=principal,
    )


Absences = Annotated[AbsenceCommands, Depends(get_absence_commands)]


class AbsencesRecorded(BaseModel):
    created: int
    updated: int
    unchanged: int


async def _text(request: Request) -> str:
    raw = await request.body()
    if len(raw) > MAX_BYTES:
        raise Invalid(f"The body is larger than {MAX_BYTES // 1_000_000} MB.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("The body is not UTF-8 text; save the export as CSV UTF-8.") from None


@router.post("/api/absences")
async def record_absences(request: Request, absences: Absences) -> AbsencesRecorded:
    """One episode (a JSON object) or a list: {employee_id, first_day, last_day?, reason}."""
    if "json" not in request.headers.get("content-type", ""):
        raise Invalid("Send the absences as JSON (Content-Type: application/json).")
    recorded = await absences.record(parse_json_text(await _text(request)), "api")
    return AbsencesRecorded(
        created=recorded.created, updated=recorded.updated, unchanged=recorded.unchanged
    )


@router.post("/api/absences/import")
async def import_absences(request: Request, absences: Absences) -> AbsencesRecorded:
    """An e-roster export (text/csv): employee id, first day, last day (empty while off), reason."""
    if "csv" not in request.headers.get("content-type", ""):
        raise Invalid("Send the export as text/csv.")
    recorded = await absences.record(parse_csv(await _text(request)), "import")
    return AbsencesRecorded(
        created=recorded.created, updated=recorded.updated, unchanged=recorded.unchanged
    )


@router.get("/api/staff/{employee_id}/attendance")
async def attendance(employee_id: str, absences: Absences) -> dict[str, Any]:
    return await absences.attendance(employee_id)
