"""The HR director's Overview: open cases, breaches, where they are, and the monthly trend."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response

from api.deps import case_context
from api.web.dashboards import heat_map, monthly_trend
from api.web.errors import WebRoute, require
from api.web.nav import OVERVIEW_VIEWERS
from api.web.render import render
from api.web.session import WebUser
from api.web.urgency import urgency
from policies.loader import shipped_policies
from records.cases import CaseFilters
from records.models import Case
from services.case_queries import CaseQueries

router = APIRouter(route_class=WebRoute, include_in_schema=False)
TREND_MONTHS = 12


@router.get("/overview")
async def overview(request: Request, principal: WebUser) -> Response:
    require(principal.roles, OVERVIEW_VIEWERS, "see the overview")
    now = datetime.now(UTC)
    since = now - timedelta(days=31 * TREND_MONTHS)
    # Open cases, and any case opened or closed within the trend's months.
    cases = list(
        await CaseQueries(case_context(request, principal)).matching(
            CaseFilters(),
            (Case.status != "closed") | (Case.opened_at >= since) | (Case.closed_at >= since),
        )
    )
    open_cases = [case for case in cases if case.status != "closed"]
    names = {key: policy.name for key, policy in shipped_policies().items()}
    trend = monthly_trend(cases, now, TREND_MONTHS)
    context = {
        "title": "Overview",
        "open": len(open_cases),
        "paused": sum(case.status == "paused" for case in open_cases),
        "breached": sum(urgency(case, now).rank == 0 for case in open_cases),
        "urgent": sum(case.risk == "urgent" for case in open_cases),
        "heat": heat_map(open_cases, names, now),
        "trend": trend,
        "trend_max": max([m.opened for m in trend] + [m.closed for m in trend] + [1]),
    }
    return render(request, "overview.html", context)
