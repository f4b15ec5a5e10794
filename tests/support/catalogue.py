"""Routes through every shipped case type, walked by the catalogue tests and the replay recorder.

A path is the action keys taken one after another from the first stage; the data each step
needs is made up from what the policy declares, so a path names only the route.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.types import CaseSnapshot
from policies.calendar import LONDON, add_working_days
from policies.durations import WorkingDays, as_timedelta
from policies.schema import CLOSED, Action, PolicyDefinition, duration
from workflows.case_process import CaseProcess
from workflows.types import ActionRequest

MAIN_PATHS: dict[str, tuple[str, ...]] = {
    "appeal": ("schedule_hearing", "record_decision", "send_outcome_letter"),
    "bullying_harassment": (
        "resolve_informally",
        "start_investigation",
        "submit_report",
        "send_outcome_letter",
        "lodge_appeal",
        "record_appeal_outcome",
    ),
    "capability": (
        "start_formal_stage",
        "start_second_stage",
        "arrange_final_review",
        "record_decision",
        "send_outcome_letter",
        "lodge_appeal",
        "record_appeal_outcome",
    ),
    "disciplinary": (
        "refer_to_investigation",
        "submit_report",
        "schedule_hearing",
        "record_decision",
        "send_outcome_letter",
    ),
    "employment_tribunal": ("submit_response", "record_preliminary_hearing", "record_judgment"),
    "enquiry": ("close_with_advice",),
    "flexible_working": (
        "arrange_consultation",
        "refuse",
        "lodge_appeal",
        "grant_on_appeal",
        "send_terms_statement",
    ),
    "freedom_to_speak_up": ("acknowledge", "refer_for_action", "report_findings", "give_feedback"),
    "grievance": (
        "arrange_meeting",
        "record_meeting",
        "send_outcome_letter",
        "lodge_appeal",
        "record_appeal_outcome",
    ),
    "investigation": ("agree_terms_of_reference", "complete_interviews", "submit_report"),
    "sickness": (
        "record_meeting",
        "start_long_term_management",
        "refer_to_occupational_health",
        "returned_to_work",
        "record_interview",
        "escalate_to_stage_1",
        "record_meeting",
        "send_outcome_letter",
        "escalate_to_stage_2",
        "record_meeting",
        "send_outcome_letter",
        "escalate_to_final",
        "record_decision",
        "send_outcome_letter",
    ),
}
"""The usual route from opening to closure, through every stage the case type has."""

ALTERNATIVE_PATHS: dict[str, tuple[str, ...]] = {
    "appeal": ("withdraw",),
    "bullying_harassment": ("resolve_informally", "resolved"),
    "capability": ("start_formal_stage", "refer_to_sickness_absence"),
    "disciplinary": ("informal_resolution",),
    "employment_tribunal": ("submit_response", "settle"),
    "enquiry": ("follow_up_again", "escalate"),
    "flexible_working": ("approve", "send_terms_statement"),
    "freedom_to_speak_up": (
        "acknowledge",
        "resolve",
        "raise_further_concern",
        "resolve",
        "give_feedback",
    ),
    "grievance": ("resolve_informally",),
    "investigation": (
        "agree_terms_of_reference",
        "complete_interviews",
        "reopen_interviews",
        "complete_interviews",
        "submit_report",
    ),
    "sickness": ("close_no_action",),
}
"""An early close, or a loop back, taken after the first stage has been missed."""


def stages_visited(policy: PolicyDefinition, path: Sequence[str]) -> list[str]:
    """The stage keys a path goes through, ending with `closed` if it closes the case."""
    visited = [policy.stages[0].key]
    for key in path:
        action = policy.stage(visited[-1]).action(key)
        if action is None:
            raise ValueError(f"{policy.case_type}: no action '{key}' in stage '{visited[-1]}'")
        visited.append(action.to)
        if action.to == CLOSED:
            break
    return visited


def step_data(policy: PolicyDefinition, action: Action, today: date) -> dict[str, Any]:
    """A value for every key the action requires, of the kind the policy declares."""
    data: dict[str, Any] = {}
    for key in action.requires:
        declared = policy.fields.get(key)
        if declared is not None and declared.type == "date":
            data[key] = today.isoformat()
        elif declared is not None and declared.type == "choice":
            data[key] = declared.choices[0]
        else:
            data[key] = f"{key.replace('_', ' ').capitalize()} (test)"
    if action.notice:
        at_least = duration(action.notice.at_least)
        if isinstance(at_least, WorkingDays):
            earliest = add_working_days(today, at_least.days)
        else:
            earliest = today + as_timedelta(at_least)
        # A day to spare, should the server's clock pass midnight before the step arrives.
        data[action.notice.field] = (earliest + timedelta(days=1)).isoformat()
    return data


async def walk(
    env: WorkflowEnvironment,
    handle: WorkflowHandle[Any, CaseSnapshot],
    policy: PolicyDefinition,
    path: Sequence[str],
) -> list[CaseSnapshot]:
    """Take each step of `path` from the case's current stage; the snapshot after each."""
    state = await handle.query(CaseProcess.state)
    states = []
    for key in path:
        action = policy.stage(state.stage_key).action(key)
        assert action is not None, f"{policy.case_type}: no '{key}' in '{state.stage_key}'"
        today = (await env.get_current_time()).astimezone(LONDON).date()
        request = ActionRequest(key, "alice", step_data(policy, action, today))
        state = await handle.execute_update(CaseProcess.act, request)
        states.append(state)
    return states
