"""The director's Reports page: this year's KPIs by case type, each stage's timeliness, and
WRES indicator 3 / WDES metric 3 with the counts behind them (CSV: the API)."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from api.web.errors import WebRoute, require
from api.web.render import render
from api.web.session import WebUser
from records.reporting.table import Report
from services.access import REPORT_VIEWERS
from services.reports import ReportParameters, Reports

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/reports")
async def reports_page(request: Request, principal: WebUser) -> Response:
    require(principal.roles, REPORT_VIEWERS, "see reports")
    reports = Reports(request.app.state.database, request.app.state.settings, principal)
    now = datetime.now(UTC)
    found: dict[str, Report] = {}
    for key, name, parameters in (
        ("kpis", "kpis", ReportParameters(group_by="case_type")),
        ("stages", "stages", ReportParameters(group_by="case_type")),
        ("wres", "wres", ReportParameters()),
        ("wdes", "wdes", ReportParameters()),
    ):
        report = await reports.run(name, parameters, now)
        assert isinstance(report, Report)
        found[key] = report
    return render(request, "reports.html", {"title": "Reports", **found})
