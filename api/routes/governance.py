"""Records governance: legal hold on a case, and subject access requests."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from api.deps import CurrentUser, get_database, get_settings
from api.schemas import _Input
from records.database import Database
from services.retention import clear_legal_hold, legal_hold, set_legal_hold
from services.subject_access import subject_access_archive

router = APIRouter(tags=["governance"])
DatabaseDep = Annotated[Database, Depends(get_database)]


class HoldIn(_Input):
    reason: str = Field(min_length=1, max_length=2000)


class HoldOut(BaseModel):
    case_id: str
    on_hold: bool
    reason: str | None = None
    set_by: str | None = None
    set_at: datetime | None = None


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/api/cases/{case_id}/legal-hold")
async def read_hold(
    case_id: str, request: Request, principal: CurrentUser, database: DatabaseDep
) -> HoldOut:
    hold = await legal_hold(database, principal, case_id, _address(request))
    if hold is None:
        return HoldOut(case_id=case_id, on_hold=False)
    return HoldOut(
        case_id=case_id, on_hold=True, reason=hold.reason, set_by=hold.set_by, set_at=hold.set_at
    )


@router.post("/api/cases/{case_id}/legal-hold")
async def place_hold(
    case_id: str, body: HoldIn, request: Request, principal: CurrentUser, database: DatabaseDep
) -> HoldOut:
    hold = await set_legal_hold(database, principal, case_id, body.reason, _address(request))
    return HoldOut(
        case_id=case_id, on_hold=True, reason=hold.reason, set_by=hold.set_by, set_at=hold.set_at
    )


@router.post("/api/cases/{case_id}/legal-hold/clear")
async def lift_hold(
    case_id: str, body: HoldIn, request: Request, principal: CurrentUser, database: DatabaseDep
) -> HoldOut:
    await clear_legal_hold(database, principal, case_id, body.reason, _address(request))
    return HoldOut(case_id=case_id, on_hold=False)


@router.get(
    "/api/staff/{employee_id}/subject-access",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
async def subject_access(
    employee_id: str, request: Request, principal: CurrentUser, database: DatabaseDep
) -> Response:
    archive = await subject_access_archive(
        database, principal, employee_id, get_settings(request).documents_dir, _address(request)
    )
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="subject-access-{employee_id}.zip"'},
    )
