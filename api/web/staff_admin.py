"""/admin/staff: the staff directory from an ESR extract — preview, import, and the column
mapping — through the same service (roles, organisation scope, audit) as POST
/api/staff/import."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import UploadFile

from api.routes.staff_import import extract_text
from api.web.errors import WebRoute
from api.web.render import render
from api.web.session import CheckedForm, WebUser
from records.esr import FIELDS
from services.access import Principal
from services.errors import Invalid, RowsInvalid, ServiceError
from services.staff_import import MAPPING_EDITORS, ImportOutcome, StaffImport

router = APIRouter(route_class=WebRoute, include_in_schema=False)
SHOWN = 200  # rows of each list the page shows; the counts say how many there are


async def _page(
    request: Request,
    principal: Principal,
    *,
    outcome: ImportOutcome | None = None,
    error: str = "",
    problems: list[dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    importer = StaffImport(request.app.state.database, principal)
    mapping = await importer.mapping()
    context: dict[str, Any] = {
        "title": "Staff directory from ESR",
        "mapping": mapping,
        "fields": FIELDS,
        "can_edit_mapping": principal.has_any(MAPPING_EDITORS),
        "outcome": outcome,
        "shown": SHOWN,
        "error": error,
        "problems": problems or [],
        "mapping_saved": request.query_params.get("mapping") == "saved",
    }
    return render(request, "staff_admin.html", context, status)


@router.get("/admin/staff")
async def staff_admin(request: Request, principal: WebUser) -> Response:
    return await _page(request, principal)


@router.post("/admin/staff/import")
async def import_extract(request: Request, principal: WebUser, form: CheckedForm) -> Response:
    upload = form.get("file")
    dry_run = form.get("action") != "import"
    importer = StaffImport(request.app.state.database, principal)
    importer.may_import()
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise Invalid("Choose the ESR extract (a CSV file) to import.")
        text = await extract_text(upload)
        outcome = await importer.run(text, dry_run=dry_run, full=form.get("full") == "yes")
    except RowsInvalid as invalid:
        return await _page(
            request, principal, error=invalid.detail, problems=invalid.errors, status=422
        )
    except ServiceError as error:
        return await _page(request, principal, error=error.detail, status=error.status)
    return await _page(request, principal, outcome=outcome)


@router.post("/admin/staff/mapping")
async def save_mapping(request: Request, principal: WebUser, form: CheckedForm) -> Response:
    columns = {
        name: value.strip()
        for name in FIELDS
        if isinstance(value := form.get(f"column-{name}"), str) and value.strip()
    }
    try:
        await StaffImport(request.app.state.database, principal).set_mapping(columns)
    except ServiceError as error:
        return await _page(request, principal, error=error.detail, status=error.status)
    return RedirectResponse("/admin/staff?mapping=saved", status_code=303)
