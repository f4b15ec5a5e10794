"""/admin/case-import: cases already under way from a spreadsheet — upload it, preview the
case each row would become (stage, deadlines, breaches), fix bad rows in place, import —
through the same services (roles, organisation, checks, audit) as POST /api/cases/import.

The rows travel in the page's form, cell by cell, so fixing one is editing its cells and
previewing again; nothing is kept on the server between the preview and the import.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData, UploadFile

from api.deps import case_context
from api.routes.cases import upload_text
from api.web.errors import WebRoute, require
from api.web.render import render
from api.web.session import WebUser, checked_form
from services.access import CASE_WORKERS, Principal
from services.case_import import COLUMNS, REQUIRED, Cells, csv_cells, parse_cells, template_csv
from services.case_import_preview import CasePreview, preview_import
from services.case_opening import CaseOpening
from services.errors import Invalid, RowsInvalid

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MAX_PAGE_ROWS = 500
# Every cell is a form field (plus each row's label and leave-out box): Starlette refuses
# more than 1,000 fields unless told.
MAX_FIELDS = MAX_PAGE_ROWS * (len(COLUMNS) + 2) + 10
DOING = "bring cases in"
COLUMN_HELP = {
    "case_type": "the policy's case type, e.g. disciplinary, grievance, flexible_working",
    "employee_id": "the member of staff's employee number in the staff directory",
    "summary": "what the case is about, in a sentence",
    "risk": "routine (the default) or urgent",
    "advisor": "the username of the advisor handling it; empty: you, if you advise",
    "opened_at": "when the case opened: a date (2026-03-14, the start of that day in London) "
    "or a date and time with its offset (2026-03-14T09:00+00:00)",
    "stage": "the stage it has reached (the policy's stage key); empty: the first stage",
    "stage_started_at": "when that stage began, written as opened_at; empty: when it opened",
}


@dataclass(frozen=True)
class GridRow:
    """A row of the page's table: its cells, and the case it would become or its problem."""

    index: int
    label: str
    cells: dict[str, str]
    preview: CasePreview | None
    problem: str | None


async def grid_form(request: Request) -> FormData:
    """The posted form (a file, or every row's cells), once its CSRF token matches.

    Read here first with room for every cell; checked_form then reads the same parsed form.
    """
    await request.form(max_files=1, max_fields=MAX_FIELDS)
    return await checked_form(request)


GridForm = Annotated[FormData, Depends(grid_form)]


def _cells_of(form: FormData) -> Cells:
    """The rows the page sent back (edited, or left out), by their labels in the file."""
    rows: Cells = []
    for index in range(MAX_PAGE_ROWS + 1):
        label = form.get(f"row-{index}-label")
        if not isinstance(label, str):
            break
        if form.get(f"row-{index}-leave-out") == "yes":
            continue
        cells = {column: _text(form.get(f"row-{index}-{column}")) for column in COLUMNS}
        if any(cells.values()):
            rows.append((label, cells))
    return rows


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _fingerprint(rows: Cells) -> str:
    """Which rows were previewed, so an import of rows edited since is previewed first.

    Not a safeguard against anyone: the import checks every row again whatever it says.
    """
    shown = [[label, [str(cells.get(column) or "") for column in COLUMNS]] for label, cells in rows]
    return hashlib.sha256(json.dumps(shown).encode()).hexdigest()


def _page(
    request: Request,
    *,
    rows: list[GridRow] | None = None,
    fingerprint: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    rows = rows or []
    context: dict[str, Any] = {
        "title": "Bring in cases under way",
        "columns": COLUMNS,
        "required": REQUIRED,
        "column_help": COLUMN_HELP,
        "max_rows": MAX_PAGE_ROWS,
        "rows": rows,
        "bad": sum(1 for row in rows if row.problem),
        "fingerprint": fingerprint,
        "error": error,
        "imported": request.query_params.get("imported", ""),
    }
    return render(request, "case_import.html", context, status)


async def _preview_page(
    request: Request, principal: Principal, rows: Cells, *, error: str = "", status: int = 200
) -> Response:
    """The rows in the table, each with the case it would become or what is wrong with it."""
    if len(rows) > MAX_PAGE_ROWS:
        raise Invalid(
            f"This page takes at most {MAX_PAGE_ROWS} cases at a time: split the file, or send "
            "it to POST /api/cases/import."
        )
    parsed = parse_cells(rows)
    opening = CaseOpening(case_context(request, principal))
    preview = await preview_import(opening, parsed.rows, parsed.problems)
    cases = {case.row: case for case in preview.cases}
    problems = {problem["row"]: problem["message"] for problem in preview.errors}
    grid = [
        GridRow(
            index,
            label,
            {column: str(cells.get(column) or "") for column in COLUMNS},
            cases.get(label),
            problems.get(label),
        )
        for index, (label, cells) in enumerate(rows)
    ]
    return _page(
        request,
        rows=grid,
        fingerprint=_fingerprint(rows),
        error=error,
        status=422 if preview.errors else status,
    )


@router.get("/admin/case-import")
async def case_import_page(request: Request, principal: WebUser) -> Response:
    require(principal.roles, CASE_WORKERS, DOING)
    return _page(request)


@router.get("/admin/case-import/template.csv")
async def template(principal: WebUser) -> Response:
    require(principal.roles, CASE_WORKERS, DOING)
    return Response(
        template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ercase-cases.csv"'},
    )


@router.post("/admin/case-import/preview")
async def preview(request: Request, principal: WebUser, form: GridForm) -> Response:
    """Preview the uploaded file, or the table's rows as edited."""
    require(principal.roles, CASE_WORKERS, DOING)
    upload = form.get("file")
    try:
        if isinstance(upload, UploadFile):
            if not upload.filename:
                raise Invalid("Choose the spreadsheet (a CSV file) to preview.")
            rows = csv_cells(await upload_text(upload))
        else:
            rows = _cells_of(form)
        return await _preview_page(request, principal, rows)
    except Invalid as invalid:
        return _page(request, error=invalid.detail, status=invalid.status)


@router.post("/admin/case-import/import")
async def import_rows(request: Request, principal: WebUser, form: GridForm) -> Response:
    """Import the table's rows, all or none; then back to the page (post/redirect/get)."""
    require(principal.roles, CASE_WORKERS, DOING)
    rows = _cells_of(form)
    try:
        if form.get("previewed") != _fingerprint(rows):
            return await _preview_page(
                request,
                principal,
                rows,
                error="The rows changed since the preview; nothing was imported. Check the "
                "preview below, then import.",
                status=409,
            )
        parsed = parse_cells(rows)
        opened = await CaseOpening(case_context(request, principal)).import_cases(
            parsed.rows, parsed.problems
        )
    except RowsInvalid as invalid:
        # E.g. someone opened a case meanwhile that an opening limit counts.
        return await _preview_page(request, principal, rows, error=invalid.detail, status=422)
    except Invalid as invalid:
        return _page(request, error=invalid.detail, status=invalid.status)
    return RedirectResponse(f"/admin/case-import?imported={len(opened)}", status_code=303)
