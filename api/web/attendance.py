"""An employee's attendance page: their absence record, today's figures (the Bradford score
among them), the triggers that fired with the figures behind each and what became of them,
and the sickness cases the reader may see. Read through the same service as
GET /api/staff/{id}/attendance, so the same roles, organisation scope and audit apply."""

from typing import Any

from fastapi import APIRouter, Request, Response

from api.routes.absences import get_absence_commands
from api.web.errors import WebRoute
from api.web.render import render
from api.web.session import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)

TRIGGER_NAMES = {
    "episodes": "Episodes of absence",
    "days_lost": "Working days lost",
    "bradford": "Bradford factor",
    "long_term": "Long-term sickness",
}
FIGURE_NAMES = {
    "episodes": "Episodes (spells) in the period",
    "days_lost": "Working days lost in the period",
    "bradford": "Bradford score",
}


def _figures_of(trigger: dict[str, Any]) -> str:
    """The numbers that made a trigger fire, in words."""
    if trigger["trigger"] == "long_term":
        return (
            f"off {trigger.get('days_off')} calendar days since "
            f"{trigger.get('spell_started')} (threshold: day {trigger.get('threshold')})"
        )
    return (
        f"{trigger.get('spells')} spell(s), {trigger.get('working_days_lost')} working day(s) "
        f"lost, Bradford {trigger.get('bradford')} since {trigger.get('period_start')} "
        f"(threshold {trigger.get('threshold')})"
    )


@router.get("/staff/{employee_id}/attendance")
async def attendance_page(request: Request, employee_id: str, principal: WebUser) -> Response:
    record = await get_absence_commands(request, principal).attendance(employee_id)
    visible = {case["id"] for case in record["sickness_cases"]}
    triggers = [
        {
            **trigger,
            "name": TRIGGER_NAMES.get(trigger["trigger"], trigger["trigger"]),
            "figures_text": _figures_of(trigger),
            # A case the reader may not see is named by nothing at all.
            "case_visible": trigger["case_id"] in visible,
        }
        for trigger in record["triggers_fired"]
    ]
    context = {
        "title": f"Attendance of {employee_id}",
        "record": record,
        "triggers": list(reversed(triggers)),  # the latest first
        "figure_names": FIGURE_NAMES,
        "absences": list(reversed(record["absences"])),
    }
    return render(request, "attendance.html", context)
