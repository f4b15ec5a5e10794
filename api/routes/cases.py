"""Cases: open, list, read with timeline, steps, pause and resume, assignment, notes."""

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field
from starlette import datastructures

from api.deps import Opening, Queries, Records, Steps
from api.schemas import (
    ActionIn,
    AssignIn,
    CaseOut,
    CasePage,
    ChangePolicyIn,
    OpenCaseIn,
    PauseIn,
    PolicyRef,
    ResumeIn,
)
from records.cases import PAGE_SIZE, CaseFilters
from services import text_limits
from services.case_import import parse_csv, parse_json
from services.case_import_preview import ImportPreview, preview_import
from services.case_opening import OpenCase
from services.errors import Invalid

router = APIRouter(prefix="/api/cases", tags=["cases"])
MAX_IMPORT_BYTES = 5_000_000


@router.post("", status_code=status.HTTP_201_CREATED)
async def open_case(body: OpenCaseIn, cases: Opening) -> CaseOut:
    case = await cases.open(OpenCase(**body.model_dump()))
    return CaseOut.of(case)


class Imported(BaseModel):
    imported: int
    cases: list[CaseOut]


def decoded(raw: bytes) -> str:
    """The cases sent as text: UTF-8 (with or without Excel's BOM), within the size limit."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise Invalid(f"The file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("The file is not UTF-8 text; save the spreadsheet as CSV UTF-8.") from None


async def upload_text(upload: datastructures.UploadFile) -> str:
    return decoded(await upload.read(MAX_IMPORT_BYTES + 1))


async def import_text(request: Request) -> tuple[str, str]:
    """The cases sent, as text, and how they are written ("csv" or "json").

    The body itself (text/csv or application/json), or a CSV file uploaded as the `file`
    field of a multipart form, as a web page's file input sends it.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if not isinstance(upload, datastructures.UploadFile):
            raise Invalid("Send the spreadsheet (CSV) as the form's `file` field.")
        return await upload_text(upload), "csv"
    if "csv" in content_type or "json" in content_type:
        return decoded(await request.body()), "csv" if "csv" in content_type else "json"
    raise Invalid("Send the cases as text/csv or application/json.")


@router.post("/import", status_code=status.HTTP_201_CREATED)
async def import_cases(
    request: Request,
    response: Response,
    cases: Opening,
    dry_run: Annotated[bool, Query(description="Preview each case; write nothing.")] = False,
) -> Imported | ImportPreview:
    """Cases already under way, from CSV (text/csv, or a multipart `file`) or JSON; all rows
    or none. With `dry_run=true`, 200 with the case each row would become and every bad row
    in `errors`; nothing is written and no workflow started."""
    text, kind = await import_text(request)
    parsed = parse_csv(text) if kind == "csv" else parse_json(text)
    if dry_run:
        response.status_code = status.HTTP_200_OK
        return await preview_import(cases, parsed.rows, parsed.problems)
    opened = await cases.import_cases(parsed.rows, parsed.problems)
    return Imported(imported=len(opened), cases=[CaseOut.of(case) for case in opened])


@router.get("")
async def list_cases(
    cases: Queries,
    status: Literal["open", "paused", "closed", "all"] | None = None,
    case_type: str | None = None,
    advisor: str | None = None,
    division: str | None = None,
    breached: bool | None = None,
    due_before: datetime | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=text_limits.SEARCH,
            description="Words each found in the reference, employee number, employee's name "
            "or summary.",
        ),
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    undelivered: bool | None = None,
    opened_from: Annotated[date | None, Query(description="London day, included.")] = None,
    opened_to: Annotated[date | None, Query(description="London day, included.")] = None,
    closed_from: Annotated[date | None, Query(description="London day, included.")] = None,
    closed_to: Annotated[date | None, Query(description="London day, included.")] = None,
) -> CasePage:
    if due_before is not None and due_before.tzinfo is None:
        raise Invalid("due_before needs a time zone offset, e.g. 2026-12-01T00:00:00Z.")
    filters = CaseFilters(
        status=None if status == "all" else status,
        case_type=case_type,
        advisor=advisor,
        division=division,
        breached=breached,
        due_before=due_before,
        q=q,
        page=page,
        undelivered=undelivered,
        opened_from=opened_from,
        opened_to=opened_to,
        closed_from=closed_from,
        closed_to=closed_to,
    )
    items, total = await cases.page(filters)
    counts = await cases.undelivered([case.id for case in items])
    return CasePage(
        items=[CaseOut.of(case, undelivered=counts.get(case.id, 0)) for case in items],
        total=total,
        page=page,
        page_size=PAGE_SIZE,
    )


@router.get("/{case_id}")
async def get_case(case_id: str, cases: Queries) -> CaseOut:
    case = await cases.read(case_id)
    past = await cases.history(case_id)
    return CaseOut.of(
        case, past.events, past.notes, undelivered=past.undelivered, children=past.linked_cases
    )


@router.post("/{case_id}/actions/{action}")
async def take_action(case_id: str, action: str, body: ActionIn, cases: Steps) -> CaseOut:
    return CaseOut.of(await cases.act(case_id, action, body.data, body.request_id))


@router.post("/{case_id}/pause")
async def pause_case(case_id: str, body: PauseIn, cases: Steps) -> CaseOut:
    return CaseOut.of(await cases.pause(case_id, body.reason, body.request_id))


@router.post("/{case_id}/resume")
async def resume_case(case_id: str, cases: Steps, body: ResumeIn | None = None) -> CaseOut:
    return CaseOut.of(await cases.resume(case_id, body.request_id if body else None))


class SuspensionIn(BaseModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    note: str = Field(default="", max_length=5000)
    request_id: str | None = Field(default=None, min_length=1, max_length=100)


@router.post("/{case_id}/suspension/{step}")
async def suspension_step(
    case_id: str, step: Literal["suspend", "review", "lift"], body: SuspensionIn, cases: Steps
) -> CaseOut:
    """suspend (note: the reason), review (note: what the review found), lift."""
    return CaseOut.of(await cases.suspension(case_id, step, body.note, body.request_id))


class AppealIn(BaseModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    grounds: str = Field(min_length=1, max_length=5000)


@router.post("/{case_id}/appeal", status_code=status.HTTP_201_CREATED)
async def appeal_case(case_id: str, body: AppealIn, cases: Opening) -> CaseOut:
    """Open an appeal against a closed case: a linked case of its own, with its own clocks."""
    return CaseOut.of(await cases.appeal(case_id, body.grounds))


@router.post("/{case_id}/assign")
async def assign_case(case_id: str, body: AssignIn, cases: Steps) -> CaseOut:
    return CaseOut.of(await cases.assign(case_id, body.advisor, body.request_id))


@router.post("/{case_id}/policy")
async def change_policy(case_id: str, body: ChangePolicyIn, cases: Steps) -> PolicyRef:
    """Only the reference and version come back: policy owners may move a case unseen."""
    case = await cases.change_policy(case_id, body.version, body.request_id)
    return PolicyRef(case_type=case.case_type, version=case.policy_version)


class NoteIn(BaseModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}
    text: str = Field(min_length=1, max_length=text_limits.NOTE)
    kind: Literal["note", "call", "email", "meeting"] = "note"


class NoteOut(BaseModel):
    id: int
    kind: str
    text: str
    author: str
    created_at: datetime


@router.post("/{case_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(case_id: str, body: NoteIn, cases: Records) -> NoteOut:
    note = await cases.add_note(case_id, body.kind, body.text)
    return NoteOut(
        id=note.id, kind=note.kind, text=note.body, author=note.author, created_at=note.created_at
    )
