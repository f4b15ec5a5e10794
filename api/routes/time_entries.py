"""Time entries on a case: date worked, minutes, activity code, note."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, get_database
from records.models import TimeEntry
from services import text_limits
from services.access import Principal
from services.time_entries import MAX_MINUTES, CaseTime, NewTimeEntry

router = APIRouter(prefix="/api/cases", tags=["time"])


def case_time(request: Request, principal: Principal) -> CaseTime:
    return CaseTime(
        database=get_database(request),
        principal=principal,
        client_address=request.client.host if request.client else None,
    )


def _time(request: Request, principal: CurrentUser) -> CaseTime:
    return case_time(request, principal)


Time = Annotated[CaseTime, Depends(_time)]


class TimeEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    worked_on: date
    minutes: int = Field(ge=1, le=MAX_MINUTES)
    activity_code: str = Field(min_length=1, max_length=40)
    note: str = Field(default="", max_length=text_limits.TIME_NOTE)


class TimeEntryOut(BaseModel):
    id: int
    username: str
    worked_on: date
    minutes: int
    activity_code: str
    note: str
    created_at: datetime

    @classmethod
    def of(cls, row: TimeEntry) -> "TimeEntryOut":
        return cls(
            id=row.id,
            username=row.username,
            worked_on=row.worked_on,
            minutes=row.minutes,
            activity_code=row.activity_code,
            note=row.note,
            created_at=row.created_at,
        )


class TimeSheet(BaseModel):
    items: list[TimeEntryOut]
    total_minutes: int


@router.get("/{case_id}/time")
async def list_time(case_id: str, time: Time) -> TimeSheet:
    rows = await time.list(case_id)
    return TimeSheet(
        items=[TimeEntryOut.of(row) for row in rows], total_minutes=sum(r.minutes for r in rows)
    )


@router.post("/{case_id}/time", status_code=status.HTTP_201_CREATED)
async def add_time(case_id: str, body: TimeEntryIn, time: Time) -> TimeEntryOut:
    row = await time.add(case_id, NewTimeEntry(**body.model_dump()))
    return TimeEntryOut.of(row)
