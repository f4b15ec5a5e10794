"""Writes the shipped letter templates, policies/letters/<case type>/<key>.docx, from the text
below: `.venv/bin/python -m tools.make_letter_templates`. The DOCX files are committed; this
script makes them reproducible, and a policy owner edits a copy in Word.

The wording is ercase's own, plain and short, following the ACAS Code of Practice on
disciplinary and grievance procedures (the right to be accompanied, s. 10 Employment Relations
Act 1999; the right of appeal) and the Employment Rights Act 1996 ss. 80F-80I for flexible
working. Placeholders are in docs/letters.md. A paragraph is a string: "## " starts a heading,
"- " a bullet point; a paragraph that is only "{%p if name %}" or "{%p endif %}" keeps or
drops the paragraphs between by whether the case has that value.
"""

import io
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

FOLDER = Path(__file__).resolve().parent.parent / "policies" / "letters"

COMPANION = (
    "You have the right to be accompanied by a trade union representative or a work "
    "colleague. Please tell me who will accompany you before the meeting. If they cannot "
    "attend on this date, you may propose another date within five working days of it."
)
CONFIDENTIAL = (
    "Please keep this matter confidential and do not discuss it with colleagues other than "
    "your companion, a trade union representative or our employee assistance programme."
)

TEMPLATES: dict[str, dict[str, tuple[str, list[str]]]] = {
    "disciplinary": {
        "investigation_notice": (
            "Notice of a formal investigation",
            [
                "I am writing to tell you that a formal investigation has begun under the "
                "disciplinary policy into the following concerns:",
                "{{ terms_of_reference }}",
                "{{ investigating_officer }} has been appointed as investigating officer and "
                "will contact you to arrange an investigation meeting. An investigation is a "
                "neutral act to establish the facts; no decision has been made.",
                COMPANION,
                CONFIDENTIAL,
            ],
        ),
        "hearing_invitation": (
            "Invitation to a disciplinary hearing",
            [
                "Following the investigation, you are asked to attend a disciplinary hearing.",
                "## The hearing",
                "- Date: {{ hearing_date }}",
                "- Chaired by: {{ panel_chair }}",
                "- Case reference: {{ reference }}",
                "## The allegations",
                "{{ terms_of_reference }}",
                "## The evidence",
                "The investigation found: {{ report_summary }}",
                "The investigation report and the evidence it relies on are enclosed. If you "
                "wish to submit documents or call witnesses, please send them to me at least "
                "two working days before the hearing.",
                "## Your rights",
                COMPANION,
                "This letter gives you notice of the hearing at least as far ahead as the "
                "policy requires: it was to be sent by {{ notice_date }}. If the allegations "
                "are upheld, a possible outcome is a formal warning or, for gross misconduct, "
                "dismissal.",
            ],
        ),
        "outcome": (
            "Outcome of your disciplinary hearing",
            [
                "Thank you for attending the disciplinary hearing ({{ accompanied | lower }}). "
                "This letter confirms the decision.",
                "## The decision",
                "{{ outcome }}",
                "Sanction: {{ sanction }}.",
                "{%p if warning_expiry %}",
                "This warning will remain on your file until {{ warning_expiry }}. Any further "
                "misconduct during that time may lead to further disciplinary action.",
                "{%p endif %}",
                "## Your right of appeal",
                "You may appeal against this decision. Please write to me setting out your "
                "grounds of appeal by {{ appeal_deadline }}. An appeal will be heard by a "
                "manager not involved in the decision, and you may be accompanied.",
            ],
        ),
        "no_formal_action": (
            "Outcome: no formal disciplinary action",
            [
                "I am writing to tell you the outcome of the concerns raised with you under "
                "the disciplinary policy.",
                "{{ outcome }}",
                "No formal disciplinary action will be taken and nothing will be placed on "
                "your file as a sanction. If you would like to talk about this letter or "
                "any support you need, please contact me.",
            ],
        ),
    },
    "appeal": {
        "hearing_invitation": (
            "Invitation to an appeal hearing",
            [
                "Thank you for your appeal against the decision in case {{ parent_reference }}. "
                "You are asked to attend an appeal hearing.",
                "- Date: {{ hearing_date }}",
                "- Chaired by: {{ panel_chair }}, who was not involved in the original decision",
                "- Appeal reference: {{ reference }}",
                "The hearing will consider the grounds of your appeal. Please send me any "
                "documents you wish the panel to read at least two working days before.",
                COMPANION,
            ],
        ),
        "outcome": (
            "Outcome of your appeal",
            [
                "Thank you for attending the appeal hearing about case {{ parent_reference }}.",
                "Decision: your appeal is {{ appeal_outcome | lower }}.",
                "{{ outcome }}",
                "This decision is final: there is no further right of appeal under the policy.",
            ],
        ),
    },
    "grievance": {
        "meeting_invitation": (
            "Invitation to a grievance meeting",
            [
                "Thank you for raising your grievance in writing. You are invited to a meeting "
                "to discuss it.",
                "- Date: {{ meeting_date }}",
                "- Heard by: {{ chair }}",
                "At the meeting you will be able to explain your grievance and how you think "
                "it should be resolved.",
                COMPANION,
            ],
        ),
        "outcome": (
            "Outcome of your grievance",
            [
                "Thank you for attending the grievance meeting on {{ meeting_held_on }}. This "
                "letter sets out the decision.",
                "Decision: your grievance is {{ decision | lower }}.",
                "{{ outcome }}",
                "## Your right of appeal",
                "If you are not satisfied with this outcome, you may appeal. Please write to me "
                "setting out your grounds by {{ appeal_deadline }}.",
            ],
        ),
        "appeal_outcome": (
            "Outcome of your grievance appeal",
            [
                "Thank you for your appeal. You appealed on these grounds:",
                "{{ grounds }}",
                "Decision: your appeal is {{ appeal_outcome | lower }}. This decision is final.",
            ],
        ),
    },
    "capability": {
        "formal_meeting_invitation": (
            "Invitation to a formal capability meeting",
            [
                "I am writing to invite you to a formal meeting under the capability policy "
                "({{ stage_name | lower }}), because the standard of your work has not yet "
                "reached the level your role needs.",
                "- Date: {{ meeting_date }}",
                "The meeting will agree an improvement plan and the support you will have:",
                "{{ improvement_plan }}",
                COMPANION,
                "This letter was to be sent by {{ notice_date }} to give you the notice the "
                "policy requires.",
            ],
        ),
        "final_review_invitation": (
            "Invitation to a final capability review meeting",
            [
                "Your performance has been reviewed at the end of the formal stages:",
                "{{ review_outcome }}",
                "You are asked to attend a final review meeting on {{ meeting_date }}, chaired "
                "by {{ panel_chair }}. One possible outcome is redeployment, downgrading or "
                "dismissal on notice.",
                COMPANION,
                "This letter was to be sent by {{ notice_date }} to give you the notice the "
                "policy requires.",
            ],
        ),
        "outcome": (
            "Outcome of your final capability review",
            [
                "Decision: {{ decision }}.",
                "{{ outcome }}",
                "## Your right of appeal",
                "You may appeal against this decision. Please write to me setting out your "
                "grounds by {{ appeal_deadline }}.",
            ],
        ),
        "appeal_outcome": (
            "Outcome of your capability appeal",
            [
                "You appealed on these grounds:",
                "{{ grounds }}",
                "Decision: your appeal is {{ appeal_outcome | lower }}. This decision is final.",
            ],
        ),
    },
    "sickness": {
        "informal_meeting_note": (
            "Your informal attendance review meeting",
            [
                "Thank you for meeting me on {{ meeting_date }} to talk about your attendance. "
                "This letter records what we agreed:",
                "{{ outcome }}",
                "Your attendance will be monitored over the coming months. If you need support "
                "or adjustments, please tell your line manager, {{ line_manager_name }}.",
            ],
        ),
        "formal_meeting_outcome": (
            "Outcome of your formal attendance meeting",
            [
                "Thank you for attending the {{ stage_name | lower }} meeting on "
                "{{ meeting_date }}. This letter confirms the outcome and the support agreed:",
                "{{ outcome }}",
                "Your attendance will be monitored for a further period. If it does not "
                "improve, the next stage of the attendance policy may follow.",
            ],
        ),
        "final_outcome": (
            "Outcome of your final attendance review hearing",
            [
                "Decision: {{ decision }}.",
                "{{ outcome }}",
                "## Your right of appeal",
                "You may appeal against this decision. Please write to me setting out your "
                "grounds by {{ appeal_deadline }}.",
            ],
        ),
    },
    "flexible_working": {
        "consultation_invitation": (
            "Meeting about your flexible working request",
            [
                "Thank you for your flexible working request, received on {{ opened_on }}. "
                "Before deciding, I would like to meet you to discuss it.",
                "- Date: {{ meeting_date }}",
                "You may bring a work colleague or a trade union representative with you.",
                "The law requires a decision, including any appeal, by {{ decision_date }}, "
                "unless you agree to a longer period.",
            ],
        ),
        "approval": (
            "Your flexible working request is approved",
            [
                "I am pleased to confirm that your flexible working request is approved.",
                "- New working arrangement: {{ agreed_arrangement }}",
                "- Starting on: {{ starts_on }}",
                "{{ outcome }}",
                "This is a permanent change to your terms and conditions unless we agreed a "
                "trial period.",
            ],
        ),
        "refusal": (
            "Decision on your flexible working request",
            [
                "I have carefully considered your request, received on {{ opened_on }}, and "
                "I am sorry that it cannot be agreed.",
                "- Business reason: {{ refusal_reason }}",
                "{{ explanation }}",
                "## Your right of appeal",
                "You may appeal against this decision. Please write to me with your grounds "
                "by {{ appeal_deadline }}. Any appeal will be decided by {{ decision_date }}, "
                "the end of the statutory decision period, unless you agree to extend it.",
            ],
        ),
        "appeal_outcome": (
            "Outcome of your flexible working appeal",
            [
                "You appealed on these grounds:",
                "{{ grounds }}",
                # Upheld (grant_on_appeal) records how; dismissed (record_appeal_outcome) not.
                "{% if appeal_outcome %}Decision: {{ appeal_outcome }}.{% else %}Decision: your "
                "appeal is dismissed and the refusal of your request stands. This decision is "
                "final.{% endif %}",
                "{{ outcome }}",
            ],
        ),
    },
    "bullying_harassment": {
        "investigation_notice": (
            "Your complaint: a formal investigation",
            [
                "Thank you for raising your complaint. A formal investigation will look into:",
                "{{ terms_of_reference }}",
                "{{ investigating_officer }} will investigate and will contact you to arrange "
                "a meeting. You may be accompanied by a trade union representative or a "
                "colleague.",
                CONFIDENTIAL,
            ],
        ),
        "outcome": (
            "Outcome of your complaint",
            [
                "The investigation of your complaint is complete.",
                "Decision: your complaint is {{ decision | lower }}.",
                "{{ outcome }}",
                "## Your right of appeal",
                "If you are not satisfied with this outcome, you may appeal. Please write to me "
                "setting out your grounds by {{ appeal_deadline }}.",
            ],
        ),
        "appeal_outcome": (
            "Outcome of your appeal",
            [
                "You appealed on these grounds:",
                "{{ grounds }}",
                "Decision: your appeal is {{ appeal_outcome | lower }}. This decision is final.",
            ],
        ),
    },
    "investigation": {
        "investigation_notice": (
            "Notice of an investigation and invitation to interview",
            [
                "A formal investigation has been commissioned into:",
                "{{ terms_of_reference }}",
                "{{ investigating_officer }} is the investigating officer and will contact you "
                "to arrange an interview. An investigation establishes the facts; no decision "
                "has been made.",
                COMPANION,
                CONFIDENTIAL,
            ],
        ),
        "conclusion": (
            "The investigation is complete",
            [
                "The investigation is complete and its report went to the commissioning "
                "manager on {{ report_sent_on }}.",
                "Finding: {{ finding }}.",
                "The commissioning manager will write to you about any next steps.",
            ],
        ),
    },
    "freedom_to_speak_up": {
        "acknowledgement": (
            "Thank you for speaking up",
            [
                "Thank you for raising your concern on {{ opened_on }}; I acknowledged it on "
                "{{ acknowledged_on }}. You chose to speak up {{ confidentiality | lower }}, "
                "and your choice will be respected.",
                "I will agree the next steps with you and keep you informed. If you feel you "
                "are being treated badly because you spoke up, please tell me at once.",
            ],
        ),
        "feedback": (
            "Feedback on the concern you raised",
            [
                "Thank you again for speaking up. I gave you feedback on {{ feedback_given_on }}; "
                "this letter confirms it.",
                "{{ outcome }}",
                "If you have any further concern, or feel you have suffered detriment for "
                "speaking up, please contact me.",
            ],
        ),
    },
}
"""Letter text by case type and key: (title, paragraphs)."""

HEADER = [
    "{{ organisation_name }}",
    "Private and confidential",
    "{{ employee_name }} (employee number {{ employee_id }})",
    "{{ employee_department }}",
    "By email: {{ employee_email }}",
    "",
    "Date: {{ letter_date }}",
    "Our reference: {{ reference }}",
]
SIGN_OFF = [
    "Yours sincerely,",
    "{{ advisor_name }}",
    "Employee relations, {{ organisation_name }} · {{ advisor_email }}",
]


def build(title: str, paragraphs: list[str]) -> bytes:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "Liberation Sans"
    normal.font.size = Pt(11)
    for index, line in enumerate(HEADER):
        paragraph = document.add_paragraph(line)
        if index == 0:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            paragraph.runs[0].bold = True
    document.add_heading(title, level=1)
    document.add_paragraph("Dear {{ employee_name }},")
    for line in paragraphs:
        if line.startswith("## "):
            document.add_heading(line[3:], level=2)
        elif line.startswith("- "):
            document.add_paragraph(line[2:], style="List Bullet")
        else:
            document.add_paragraph(line)
    for line in SIGN_OFF:
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return _reproducible(out.getvalue())


def _reproducible(content: bytes) -> bytes:
    """The same bytes on every run: python-docx stamps no times, but the zip does."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def main() -> None:
    for case_type, letters in TEMPLATES.items():
        for key, (title, paragraphs) in letters.items():
            path = FOLDER / case_type / f"{key}.docx"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(build(title, paragraphs))
            print(path.relative_to(FOLDER.parent.parent))


if __name__ == "__main__":
    main()
