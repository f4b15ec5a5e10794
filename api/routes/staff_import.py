"""The staff directory from an ESR extract: POST /api/staff/import, and its column mapping."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Request, UploadFile
from starlette import datastructures

from api.deps import CurrentUser, get_database
from services.errors import Invalid
from services.staff_import import ImportOutcome, MappingView, StaffImport

router = APIRouter(prefix="/api/staff/import", tags=["staff"])
MAX_BYTES = 40_000_000  # 100,000 rows of a wide extract


def get_staff_import(request: Request, principal: CurrentUser) -> StaffImport:
    return StaffImport(get_database(request), principal)


Importer = Annotated[StaffImport, Depends(get_staff_import)]


async def extract_text(upload: datastructures.UploadFile) -> str:
    """The uploaded file as text: UTF-8 (with or without Excel's BOM), within the size limit."""
    raw = await upload.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise Invalid(f"The file is larger than {MAX_BYTES // 1_000_000} MB.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("The file is not UTF-8 text; save the extract as CSV UTF-8.") from None


@router.post("")
async def import_extract(
    importer: Importer,
    file: Annotated[UploadFile, File(description="The ESR staff-in-post extract (CSV).")],
    dry_run: Annotated[bool, Form(description="Show what would change; write nothing.")] = False,
    full: Annotated[
        bool, Form(description="The extract holds everyone in post: mark the absent as left.")
    ] = False,
) -> ImportOutcome:
    """Add, update and mark as left the organisation's staff from an ESR staff-in-post extract.

    A dry run answers what would happen and writes nothing. A real run is all or nothing: a
    bad line is answered 422 with every bad line's number and reason in `errors`.
    """
    importer.may_import()
    return await importer.run(await extract_text(file), dry_run=dry_run, full=full)


@router.get("/mapping")
async def get_mapping(importer: Importer) -> MappingView:
    """Which column of the extract each directory field is read from."""
    return await importer.mapping()


@router.put("/mapping")
async def put_mapping(
    importer: Importer,
    columns: Annotated[dict[str, Any], Body(embed=True)],
) -> MappingView:
    """Replace this organisation's mapping ({"columns": {field: column name}}); admins only."""
    return await importer.set_mapping(columns)
