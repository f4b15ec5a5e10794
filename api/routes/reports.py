"""Reports under /api/reports: JSON, CSV (`?format=csv`), or CSV for an FOI answer (`?foi=true`)."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, get_database, get_settings
from records.models import RootCauseCode
from records.reporting.table import CrossTab, crosstab_csv, report_csv
from services.reports import ReportParameters, Reports, RootCauses

router = APIRouter(prefix="/api/reports", tags=["reports"])


class RootCauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    code: str = Field(min_length=1, max_length=40)
    label: str = Field(min_length=1, max_length=200)
    active: bool = True


def _code(row: RootCauseCode) -> dict[str, Any]:
    return {"code": row.code, "label": row.label, "active": row.active}


@router.get("/root-causes")
async def list_root_causes(request: Request, principal: CurrentUser) -> list[dict[str, Any]]:
    """The organisation's root-cause codes (a closing step may give one as `root_cause`)."""
    return [_code(row) for row in await RootCauses(get_database(request), principal).list()]


@router.post("/root-causes")
async def save_root_cause(
    body: RootCauseIn, request: Request, principal: CurrentUser
) -> dict[str, Any]:
    """Add a code, relabel it, or retire it (`active: false`); policy owners only."""
    codes = RootCauses(get_database(request), principal)
    return _code(await codes.save(body.code, body.label, body.active))


@router.get("/{name}", response_model=None)
async def report(
    name: str,
    request: Request,
    principal: CurrentUser,
    group_by: str | None = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    national: bool = False,
    window: Literal["1y", "2y"] = "2y",
    by: Literal["division", "manager"] = "division",
    rows: str = "division",
    columns: str = "case_type",
    measure: Literal["opened", "closed", "open_now"] = "opened",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    weeks: Annotated[int | None, Query(ge=1, le=520)] = None,
    case_type: Annotated[str | None, Query(min_length=1, max_length=60)] = None,
    format: Literal["json", "csv"] = "json",
    foi: bool = False,
    threshold: Annotated[int | None, Query(ge=2, le=100)] = None,
) -> dict[str, Any] | Response:
    settings = get_settings(request)
    parameters = ReportParameters(
        group_by, start, end, national, window, by, rows, columns, measure, limit, weeks, case_type
    )
    output = "foi" if foi else "csv" if format == "csv" or threshold is not None else "json"
    address = request.client.host if request.client else None
    reports = Reports(get_database(request), settings, principal, address)
    found = await reports.run(name, parameters, output=output)
    if not foi and format == "json" and threshold is None:
        return found.as_json()
    # An FOI answer is always CSV, always suppressed; a threshold alone asks for suppression too.
    limit_below = (threshold or await reports.foi_threshold()) if foi or threshold else None
    text = (
        crosstab_csv(found, limit_below)
        if isinstance(found, CrossTab)
        else report_csv(found, limit_below)
    )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
