"""Who may see a case (restriction, named people), who takes part in it, and the audit log."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from api.deps import CurrentUser, People, get_database
from services import audit_log
from services.audit_log import PAGE_SIZE, AuditQuery

router = APIRouter(tags=["access"])


class RestrictionIn(BaseModel):
    model_config = {"extra": "forbid"}
    restricted: bool
    people: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=100
    )


class RestrictionOut(BaseModel):
    case_id: str
    restricted: bool
    people: list[str]


@router.get("/api/cases/{case_id}/restriction")
async def get_restriction(case_id: str, cases: People) -> RestrictionOut:
    restricted, people = await cases.restriction(case_id)
    return RestrictionOut(case_id=case_id, restricted=restricted, people=people)


@router.put("/api/cases/{case_id}/restriction")
async def set_restriction(case_id: str, body: RestrictionIn, cases: People) -> RestrictionOut:
    """Restrict a case to the people named (managers and admins); they alone may see it."""
    people = await cases.restrict(case_id, body.restricted, body.people)
    return RestrictionOut(case_id=case_id, restricted=body.restricted, people=people)


class PartyIn(BaseModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    employee_id: str = Field(min_length=1, max_length=40)
    role: Literal["complainant", "witness"]


class PartyOut(BaseModel):
    employee_id: str
    role: str
    added_by: str
    added_at: datetime


@router.get("/api/cases/{case_id}/parties")
async def list_parties(case_id: str, cases: People) -> list[PartyOut]:
    return [
        PartyOut(employee_id=p.employee_id, role=p.role, added_by=p.added_by, added_at=p.added_at)
        for p in await cases.parties(case_id)
    ]


@router.post("/api/cases/{case_id}/parties", status_code=status.HTTP_201_CREATED)
async def add_party(case_id: str, body: PartyIn, cases: People) -> PartyOut:
    """Record a complainant or witness; a user linked to them never sees the case again."""
    party = await cases.add_party(case_id, body.employee_id, body.role)
    return PartyOut(
        employee_id=party.employee_id,
        role=party.role,
        added_by=party.added_by,
        added_at=party.added_at,
    )


class AuditRow(BaseModel):
    seq: int | None
    at: datetime
    username: str | None
    action: str
    case_id: str | None
    client_address: str | None
    detail: dict[str, Any]
    hash: str | None


class AuditPage(BaseModel):
    items: list[AuditRow]
    total: int
    page: int
    page_size: int


@router.get("/api/audit")
async def search_audit(
    request: Request,
    principal: CurrentUser,
    case: Annotated[str | None, Query(max_length=20)] = None,
    user: Annotated[str | None, Query(max_length=80)] = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> AuditPage:
    """The organisation's audit log, newest first (auditors and admins)."""
    rows, total = await audit_log.search(
        get_database(request),
        principal,
        AuditQuery(case, user, action, since, until, page),
        request.client.host if request.client else None,
    )
    items = [
        AuditRow(
            seq=row.seq,
            at=row.at,
            username=row.username,
            action=row.action,
            case_id=row.case_id,
            client_address=row.client_address,
            detail=row.detail or {},
            hash=row.hash,
        )
        for row in rows
    ]
    return AuditPage(items=items, total=total, page=page, page_size=PAGE_SIZE)
