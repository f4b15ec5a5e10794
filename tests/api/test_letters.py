"""Letters through the API: every shipped case type's letters for a real walk through the case,
on SQLite and PostgreSQL, read back from the PDF (pypdf) and the DOCX (python-docx) they became;
a placeholder the case cannot fill and a broken template refused with a sentence; who may;
nothing of a letter in the case's Temporal history.

The dates are checked against the rules worked out here, apart from ercase's calendar:

- working days skip Saturdays, Sundays and England & Wales bank holidays (the `holidays`
  package's list for England, gov.uk/bank-holidays), and "N working days after X" does not
  count X;
- the appeal deadline of every shipped letter that has one is 10 working days after the day
  the window opens, which in a walk taken today is today (the outcome letter written before
  the step recording it as sent, or the appeal-window stage entered today);
- the disciplinary notice date is the last day d from which the hearing date is at least 5
  working days away (the hearing is set one day after the earliest allowed);
- a final written warning stays live 24 months after the day the sanction was recorded;
- a flexible working request's decision date is the last day of "two months beginning with"
  the day it was received (Employment Rights Act 1996 s. 80G(1B)): the day before the same
  date two months on.
"""

import calendar
import io
import logging
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import holidays
import pypdf
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from policies.calendar import LONDON
from policies.loader import shipped_policies
from policies.schema import PolicyDefinition
from records.database import Database
from records.models import AuditEntry
from records.people import StaffEntry, upsert_staff
from tests.support.catalogue import ALTERNATIVE_PATHS, MAIN_PATHS, step_data
from tests.support.smtp import SmtpServer
from tests.support.stack import ApiStack, api_stack_on
from workflows import workflow_id

BANK_HOLIDAYS = holidays.country_holidays("GB", subdiv="ENG", years=range(2024, 2032))


def working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in BANK_HOLIDAYS


def working_days_after(day: date, count: int) -> date:
    while count:
        day += timedelta(days=1)
        count -= working_day(day)
    return day


def same_date_later(day: date, months: int) -> tuple[date, bool]:
    year, month = day.year + (day.month - 1 + months) // 12, (day.month - 1 + months) % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last)), day.day <= last


def written(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def flat(text: str) -> str:
    """Words separated by single spaces: a PDF breaks lines wherever the page does."""
    return " ".join(text.split())


def pdf_text(content: bytes) -> str:
    """The words of every page, less the page number each ends with ("1 of 2")."""
    pages = pypdf.PdfReader(io.BytesIO(content)).pages
    # List bullets are layout, which pypdf may read out of place.
    texts = [flat(page.extract_text().replace("•", " ")) for page in pages]
    for number, text in enumerate(texts, start=1):
        assert text.endswith(f" {number} of {len(pages)}"), text[-40:]
    return " ".join(text.rsplit(" ", 3)[0] for text in texts)


def docx_text(content: bytes) -> str:
    return flat(" ".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs))


@pytest_asyncio.fixture
async def stack(
    dev_server_env: WorkflowEnvironment, database: Database, smtp_server: SmtpServer
) -> AsyncIterator[ApiStack]:
    async with api_stack_on(dev_server_env, database, smtp_server) as running:
        yield running


def london_today() -> date:
    return datetime.now(UTC).astimezone(LONDON).date()


class Walk:
    """One case walked through the API, every letter offered on the way generated."""

    def __init__(self, stack: ApiStack, auth: dict[str, str], tmp: Path):
        self.stack, self.auth = stack, auth
        self.generated: dict[tuple[str, str], str] = {}  # (case type, key) → the letter's text
        self.made = 0
        stack.settings.documents_dir = tmp / "documents"

    async def open(self, case_type: str, **extra: Any) -> str:
        body = {"case_type": case_type, "employee_id": "E1001", "summary": "Letters walk"}
        reply = await self.stack.http.post("/api/cases", json=body | extra, headers=self.auth)
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    async def letters_now(self, case_id: str, case_type: str) -> None:
        http = self.stack.http
        offered = await http.get(f"/api/cases/{case_id}/letters", headers=self.auth)
        assert offered.status_code == 200, offered.text
        for letter in offered.json():
            assert set(letter) == {"key", "name"}
            texts = []
            for form, read in (("pdf", pdf_text), ("docx", docx_text)):
                made = await http.post(
                    f"/api/cases/{case_id}/letters",
                    json={"template": letter["key"], "format": form},
                    headers=self.auth,
                )
                assert made.status_code == 201, (case_type, letter, made.text)
                self.made += 1
                document = made.json()
                assert document["filename"] == f"{case_id} {letter['name']}.{form}"
                listed = await http.get(f"/api/cases/{case_id}/documents", headers=self.auth)
                assert document in listed.json()
                download = await http.get(
                    f"/api/cases/{case_id}/documents/{document['id']}", headers=self.auth
                )
                texts.append(read(download.content))
            # The PDF says what the Word document says.
            assert texts[0] == texts[1], (case_type, letter["key"])
            self.generated[(case_type, letter["key"])] = texts[1]

    async def walk(
        self, case_id: str, policy: PolicyDefinition, path: tuple[str, ...], **data: Any
    ) -> None:
        today = london_today()
        await self.letters_now(case_id, policy.case_type)
        stage = policy.stages[0].key
        for key in path:
            action = policy.stage(stage).action(key)
            assert action is not None, (policy.case_type, stage, key)
            body = step_data(policy, action, today) | {
                name: value for name, value in data.items() if name in action.requires
            }
            reply = await self.stack.http.post(
                f"/api/cases/{case_id}/actions/{key}", json={"data": body}, headers=self.auth
            )
            assert reply.status_code == 200, (policy.case_type, key, reply.text)
            stage = reply.json()["stage"]["key"]
            await self.letters_now(case_id, policy.case_type)


@pytest.mark.slow
async def test_every_case_types_letters_for_a_walk_through_the_case(
    stack: ApiStack, tmp_path: Path
) -> None:
    alice = await stack.token("alice")
    walk = Walk(stack, alice, tmp_path)
    policies = shipped_policies()
    opened: dict[str, str] = {}
    for case_type, path in MAIN_PATHS.items():
        if case_type == "appeal":
            continue  # an appeal is opened from a closed case, below
        case_id = opened[case_type] = await walk.open(case_type)
        await walk.walk(case_id, policies[case_type], path, sanction="Final written warning")
    for case_type in ("disciplinary", "flexible_working"):  # letters after other steps
        case_id = await walk.open(case_type)
        await walk.walk(case_id, policies[case_type], ALTERNATIVE_PATHS[case_type])
    appealed = await stack.http.post(
        f"/api/cases/{opened['disciplinary']}/appeal",
        json={"grounds": "The sanction was too severe"},
        headers=alice,
    )
    assert appealed.status_code == 201, appealed.text
    appeal_id = appealed.json()["id"]
    await walk.walk(appeal_id, policies["appeal"], MAIN_PATHS["appeal"])

    # Every letter every shipped case type has was generated somewhere on the walks.
    assert set(walk.generated) == {
        (case_type, template.key)
        for case_type, policy in policies.items()
        for template in policy.letters.templates
    }
    today = london_today()
    for (case_type, key), text in walk.generated.items():
        for words in ("North Trust", "Priya Patel", "E1001", "Alice Advisor", written(today)):
            assert words in text, (case_type, key, words)
        assert "[" not in text and "{{" not in text and "{%" not in text, (case_type, key)

    appeal_by = f"by {written(working_days_after(today, 10))}"
    for case_type, key in [
        ("disciplinary", "outcome"),
        ("grievance", "outcome"),
        ("capability", "outcome"),
        ("sickness", "final_outcome"),
        ("flexible_working", "refusal"),
        ("bullying_harassment", "outcome"),
    ]:
        assert appeal_by in walk.generated[(case_type, key)], (case_type, key)

    hearing = working_days_after(today, 5) + timedelta(days=1)
    latest = hearing
    while working_days_after(latest, 5) > hearing or not working_day(latest):
        latest -= timedelta(days=1)
    invitation = walk.generated[("disciplinary", "hearing_invitation")]
    assert f"Date: {written(hearing)}" in invitation
    assert f"it was to be sent by {written(latest)}" in invitation

    expires, _ = same_date_later(today, 24)
    outcome = walk.generated[("disciplinary", "outcome")]
    assert "Sanction: Final written warning." in outcome
    assert f"will remain on your file until {written(expires)}" in outcome

    corresponding, exists = same_date_later(today, 2)
    decided_by = corresponding - timedelta(days=1) if exists else corresponding
    for key in ("consultation_invitation", "refusal"):
        assert written(decided_by) in walk.generated[("flexible_working", key)], key
    appeal_invitation = walk.generated[("appeal", "hearing_invitation")]
    assert f"the decision in case {opened['disciplinary']}" in appeal_invitation
    assert "Lena Line" in walk.generated[("sickness", "informal_meeting_note")]

    # Generating a letter is audited with its template, never its words.
    async with stack.database.sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "case.letter.generate")
            )
        )
    assert len(rows) == walk.made
    assert all(set(row.detail) == {"template", "format", "document"} for row in rows)


async def test_what_the_case_cannot_fill_is_named_and_nothing_is_stored(
    stack: ApiStack, tmp_path: Path
) -> None:
    alice = await stack.token("alice")
    http = stack.http
    walk = Walk(stack, alice, tmp_path)
    # A member of staff the directory knows without an email or a department.
    async with stack.database.transaction() as session:
        await upsert_staff(session, stack.people.organisation.id, [StaffEntry("E3001", "Nia New")])
    case_id = await walk.open("grievance", employee_id="E3001")
    url = f"/api/cases/{case_id}/letters"
    assert (await http.get(url, headers=alice)).json() == []
    refused = await http.post(url, json={"template": "meeting_invitation"}, headers=alice)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        f"'meeting_invitation' is not a letter offered at this point of case {case_id} "
        "(offered now: none)."
    )
    data = {"meeting_date": london_today().isoformat(), "chair": "Ms Ode"}
    step = await http.post(
        f"/api/cases/{case_id}/actions/arrange_meeting", json={"data": data}, headers=alice
    )
    assert step.status_code == 200, step.text
    offered = (await http.get(url, headers=alice)).json()
    assert offered == [{"key": "meeting_invitation", "name": "Invitation to a grievance meeting"}]
    refused = await http.post(url, json={"template": "meeting_invitation"}, headers=alice)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "The letter 'Invitation to a grievance meeting' needs what case "
        f"{case_id} does not record yet: employee_department, employee_email. Record them with "
        "the case's steps first."
    )
    bad_format = await http.post(
        url, json={"template": "meeting_invitation", "format": "rtf"}, headers=alice
    )
    assert bad_format.status_code == 422
    listed = await http.get(f"/api/cases/{case_id}/documents", headers=alice)
    assert listed.json() == []


async def test_a_broken_template_is_refused_with_a_sentence(
    api_stack: ApiStack, tmp_path: Path
) -> None:
    templates = tmp_path / "letters"
    shutil.copytree(api_stack.settings.letter_templates_dir, templates)
    document = docx.Document(str(templates / "grievance" / "meeting_invitation.docx"))
    document.add_paragraph("See you on {{ meeting_date }")
    document.save(str(templates / "grievance" / "meeting_invitation.docx"))
    api_stack.settings.letter_templates_dir = templates
    alice = await api_stack.token("alice")
    walk = Walk(api_stack, alice, tmp_path)
    case_id = await walk.open("grievance")
    data = {"meeting_date": london_today().isoformat(), "chair": "Ms Ode"}
    step = await api_stack.http.post(
        f"/api/cases/{case_id}/actions/arrange_meeting", json={"data": data}, headers=alice
    )
    assert step.status_code == 200, step.text
    refused = await api_stack.http.post(
        f"/api/cases/{case_id}/letters", json={"template": "meeting_invitation"}, headers=alice
    )
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith(
        "The letter template 'grievance/meeting_invitation.docx' cannot be used: unexpected '}'"
    )
    assert detail.endswith("correct it in Word and publish it again.")

    # Publishing a version that names a file the folder does not have is refused too.
    polly = await api_stack.token("polly")
    grievance = shipped_policies()["grievance"].model_dump(mode="json")
    grievance["letters"]["templates"][0]["file"] = "grievance/nowhere.docx"
    published = await api_stack.http.post(
        "/api/policies/grievance/versions", json=grievance, headers=polly
    )
    assert published.status_code == 422
    assert (
        "letters.templates[0].file: there is no template 'grievance/nowhere.docx'"
        in (published.json()["detail"])
    )


async def test_who_may_and_nothing_reaches_the_workflow(
    api_stack: ApiStack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every log line of the API and the worker is kept
    alice = await api_stack.token("alice")
    http = api_stack.http
    walk = Walk(api_stack, alice, tmp_path)
    case_id = await walk.open("grievance")
    data = {"meeting_date": london_today().isoformat(), "chair": "Ms Ode"}
    step = await http.post(
        f"/api/cases/{case_id}/actions/arrange_meeting", json={"data": data}, headers=alice
    )
    assert step.status_code == 200, step.text
    url = f"/api/cases/{case_id}/letters"
    body = {"template": "meeting_invitation", "format": "pdf"}
    oscar = await api_stack.token("oscar")  # another trust
    assert (await http.get(url, headers=oscar)).status_code == 404
    assert (await http.post(url, json=body, headers=oscar)).status_code == 404
    hannah = await api_stack.token("hannah")  # reads every case, adds no documents
    assert (await http.get(url, headers=hannah)).status_code == 200
    forbidden = await http.post(url, json=body, headers=hannah)
    assert forbidden.status_code == 403
    assert forbidden.json()["detail"] == "Your role cannot add letters to cases."
    made = await http.post(url, json=body, headers=alice)
    assert made.status_code == 201, made.text

    # The letter never went near the case's workflow: no update or activity after the step.
    raw = await Client.connect(api_stack.settings.temporal_address, namespace="default")
    history = await raw.get_workflow_handle(workflow_id(case_id)).fetch_history()
    updates = [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(updates) == 1  # arrange_meeting
    as_json = history.to_json()
    letter_words = ("Priya Patel", "Invitation to a grievance meeting", "priya@north.example")
    assert [words for words in letter_words if words in as_json] == []
    # Nor in the logs.
    assert caplog.records, "the logs were not captured"
    logged = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert [words for words in letter_words if words in logged] == []
