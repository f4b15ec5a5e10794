"""The manager's Team page: workload per advisor, breaches coming, and reassignment."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api.deps import case_context
from api.web.cases import step_data
from api.web.dashboards import workloads
from api.web.errors import WebRoute, require
from api.web.nav import TEAM_VIEWERS
from api.web.render import render
from api.web.session import CheckedForm, WebUser
from api.web.urgency import by_urgency
from records.cases import CaseFilters
from records.models import Case
from services.access import CASE_WORKERS, Principal
from services.case_queries import CaseQueries
from services.case_steps import CaseSteps
from services.errors import ServiceError

router = APIRouter(route_class=WebRoute, include_in_schema=False)


async def team_page(
    request: Request, principal: Principal, error: str = "", status: int = 200
) -> Response:
    require(principal.roles, TEAM_VIEWERS, "see the team's workload")
    queries = CaseQueries(case_context(request, principal))
    cases = list(await queries.matching(CaseFilters(), Case.status.in_(("open", "paused"))))
    advisors = {user.username: user.full_name for user in await queries.advisors()}
    now = datetime.now(UTC)
    context = {
        "title": "Team",
        "workloads": workloads(cases, advisors, now),
        "rows": by_urgency(cases, now),
        "advisors": advisors,
        "can_reassign": principal.has_any(CASE_WORKERS),
        "error": error,
        "reassigned": request.query_params.get("reassigned", ""),
    }
    return render(request, "team.html", context, status)


@router.get("/team")
async def team(request: Request, principal: WebUser) -> Response:
    return await team_page(request, principal)


@router.post("/team/reassign")
async def reassign(request: Request, principal: WebUser, form: CheckedForm) -> Response:
    require(principal.roles, TEAM_VIEWERS, "reassign cases")
    data = step_data(form)
    case_id, advisor = data.get("case_id", ""), data.get("advisor", "")
    try:
        await CaseSteps(case_context(request, principal)).assign(case_id, advisor, None)
    except ServiceError as error:
        return await team_page(request, principal, f"{case_id}: {error.detail}", error.status)
    return RedirectResponse(f"/team?reassigned={case_id}", status_code=303)
