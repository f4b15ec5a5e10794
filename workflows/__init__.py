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
}


def workflow_id(case_id: str) -> str:
    """Workflow ids are not encrypted: they carry the case reference, never a name."""
    return f"case-{case_id}"
