"""An employee's attendance page: their absence record, today's figures (the Bradford score
among them), the triggers that fired with the figures behind each and what became of them,
and the sickness cases the reader may see. Read through the same service as
GET /api/staff/{id}/attendance, so the same roles, organisation scope and audit apply."""

from dataclasses import dataclass
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


@dataclass(frozen=True)
class TriggerRow:
    """One trigger reached, as the page lists it."""

    fired_on: str
    name: str
    figures: str  # the numbers that made it fire, in words
    outcome: str  # what became of it, in words
    refused: bool  # no case opened: someone must look at it
    case_id: str | None  # only a case the reader may see (a link)


def _figures_of(trigger: dict[str, Any]) -> str:
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


def trigger_rows(record: dict[str, Any]) -> list[TriggerRow]:
    """The triggers of an attendance record (GET /api/staff/{id}/attendance), latest first.

    A case the reader may not see (not among the record's sickness cases) is not named.
    """
    visible = {case["id"] for case in record["sickness_cases"]}
    rows = []
    for trigger in record["triggers_fired"]:
        refused = trigger["outcome"] == "not_opened"
        if refused:
            outcome = f"No case opened: {trigger.get('reason') or 'the reason was not recorded'}"
        elif trigger["outcome"] == "opened":
            outcome = "Case opened"
        else:
            outcome = "Sent to the sickness case already open"
        rows.append(
            TriggerRow(
                fired_on=trigger["fired_on"],
                name=TRIGGER_NAMES.get(trigger["trigger"], trigger["trigger"]),
                figures=_figures_of(trigger),
                outcome=outcome,
                refused=refused,
                case_id=trigger["case_id"] if trigger["case_id"] in visible else None,
            )
        )
    return list(reversed(rows))


@router.get("/staff/{employee_id}/attendance")
async def attendance_page(request: Request, employee_id: str, principal: WebUser) -> Response:
    record = await get_absence_commands(request, principal).attendance(employee_id)
    context = {
        "title": f"Attendance of {employee_id}",
        "record": record,
        "triggers": trigger_rows(record),
        "figure_names": FIGURE_NAMES,
        "absences": list(reversed(record["absences"])),  # the latest first
    }
    return render(request, "attendance.html", context)
