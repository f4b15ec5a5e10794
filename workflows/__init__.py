"""Case processes as Temporal workflows. Deterministic code only: no database, mail or API."""

# The workflow type that runs each case type; the API starts cases by these names.
WORKFLOW_FOR_CASE_TYPE = {
    "appeal": "AppealCase",
    "bullying_harassment": "BullyingHarassmentCase",
    "capability": "CapabilityCase",
    "disciplinary": "DisciplinaryCase",
    "employment_tribunal": "EmploymentTribunalCase",
    "enquiry": "EnquiryCase",
    "flexible_working": "FlexibleWorkingCase",
    "freedom_to_speak_up": "FreedomToSpeakUpCase",
    "grievance": "GrievanceCase",
    "investigation": "InvestigationCase",
    "sickness": "SicknessCase",
}


def workflow_id(case_id: str) -> str:
    """Workflow ids are not encrypted: they carry the case reference, never a name."""
    return f"case-{case_id}"


def attendance_workflow_id(organisation_id: int, employee_id: str) -> str:
    """One attendance monitor per employee: the organisation's id and the employee id, no name."""
    return f"attendance-{organisation_id}-{employee_id}"
