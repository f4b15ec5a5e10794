"""The director's Reports page: this year's KPIs by case type, each stage's timeliness, and
WRES indicator 3 / WDES metric 3 with the counts behind them (CSV: the API)."""

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from api.web.errors import WebRoute, require
from api.web.render import render
from api.web.session import WebUser
from records.reporting.table import Report
from services.access import REPORT_VIEWERS
from services.reports import ReportParameters, Reports

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# What the page shows, by the name its template uses (bench/reporting.py times the same set).
PAGE_REPORTS: tuple[tuple[str, ReportParameters], ...] = (
    ("kpis", ReportParameters(group_by="case_type")),
    ("stages", ReportParameters(group_by="case_type")),
    ("wres", ReportParameters()),
    ("wdes", ReportParameters()),
)


async def page_reports(reports: Reports, now: datetime) -> dict[str, Report]:
    """The page's reports, run side by side (each in its own session): the page waits for the
    slowest, not for the sum of them."""
    ran = await asyncio.gather(*(reports.run(name, params, now) for name, params in PAGE_REPORTS))
    found = {}
    for (name, _), report in zip(PAGE_REPORTS, ran, strict=True):
        assert isinstance(report, Report)
        found[name] = report
    return found


@router.get("/reports")
async def reports_page(request: Request, principal: WebUser) -> Response:
    require(principal.roles, REPORT_VIEWERS, "see reports")
    address = request.client.host if request.client else None
    reports = Reports(request.app.state.database, request.app.state.settings, principal, address)
    found = await page_reports(reports, datetime.now(UTC))
    return render(request, "reports.html", {"title": "Reports", **found})
