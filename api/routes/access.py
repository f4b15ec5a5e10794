"""Who may see a case (restriction, named people), who takes part in it, and the audit log."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.deps import Cases, CurrentUser, get_database, require_role
from records.models import AuditEntry
from services.access import AUDIT_READERS
from services.errors import Invalid

router = APIRouter(tags=["access"])
AUDIT_PAGE_SIZE = 100


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
async def get_restriction(case_id: str, cases: Cases) -> RestrictionOut:
    restricted, people = await cases.restriction(case_id)
    return RestrictionOut(case_id=case_id, restricted=restricted, people=people)


@router.put("/api/cases/{case_id}/restriction")
async def set_restriction(case_id: str, body: RestrictionIn, cases: Cases) -> RestrictionOut:
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
async def list_parties(case_id: str, cases: Cases) -> list[PartyOut]:
    return [
        PartyOut(employee_id=p.employee_id, role=p.role, added_by=p.added_by, added_at=p.added_at)
        for p in await cases.parties(case_id)
    ]


@router.post("/api/cases/{case_id}/parties", status_code=status.HTTP_201_CREATED)
async def add_party(case_id: str, body: PartyIn, cases: Cases) -> PartyOut:
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
    require_role(principal, AUDIT_READERS, "search the audit log")
    query = select(AuditEntry).where(AuditEntry.organisation_id == principal.organisation_id)
    for value, column in ((case, AuditEntry.case_id), (user, AuditEntry.username)):
        if value:
            query = query.where(column == value)
    if action:
        # "case.read" or a family such as "case.action" (every step).
        query = query.where(
            (AuditEntry.action == action) | AuditEntry.action.startswith(action + ".")
        )
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise Invalid("since and until need a time zone offset, e.g. 2026-12-01T00:00:00Z.")
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    async with get_database(request).transaction() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = await session.scalars(
            query.order_by(AuditEntry.seq.desc())
            .offset((page - 1) * AUDIT_PAGE_SIZE)
            .limit(AUDIT_PAGE_SIZE)
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
        # Searching the log is itself recorded.
        session.add(
            AuditEntry(
                organisation_id=principal.organisation_id,
                username=principal.username,
                action="audit.search",
                client_address=request.client.host if request.client else None,
                detail={
                    key: value
                    for key, value in {"case": case, "user": user, "action": action}.items()
                    if value
                },
            )
        )
    return AuditPage(items=items, total=total, page=page, page_size=AUDIT_PAGE_SIZE)
