"""The case bundle through the API, on SQLite and PostgreSQL: a case walked through three steps
with notes, a call log and ten documents of mixed kinds, read back with pypdf.

What a bundle must be (issue 20.4, and the way employment tribunal bundles are paginated —
the Employment Tribunals' Presidential Guidance on bundles: one index, every page numbered
continuously): the index names each section and document with the page it begins on, and the
page it names really begins with it; every page says "Page N of M"; the chronology has every
step; a document that cannot be laid out is named in the index as not included, with why.
"""

import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import docx
import pypdf
import pytest_asyncio
from PIL import Image
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from policies.calendar import LONDON
from policies.loader import shipped_policies
from records.database import Database
from records.models import AuditEntry
from records.people import create_user
from services.bundle_pdf import html_pdf
from tests.support.catalogue import MAIN_PATHS, step_data
from tests.support.people import DEMO_HASH
from tests.support.smtp import SmtpServer
from tests.support.stack import ApiStack, api_stack_on
from workflows import workflow_id


@pytest_asyncio.fixture
async def stack(
    dev_server_env: WorkflowEnvironment, database: Database, smtp_server: SmtpServer
) -> AsyncIterator[ApiStack]:
    async with api_stack_on(dev_server_env, database, smtp_server) as running:
        yield running


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_of(marker: str, pages: int) -> bytes:
    """A real PDF of `pages` pages, each beginning with the marker and its page."""
    body = "".join(
        f'<h1 style="page-break-after: always">{marker} sheet {n}</h1>' for n in range(1, pages)
    )
    return html_pdf(f"{body}<h1>{marker} sheet {pages}</h1>")


def image_of(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (30, 90, 160)).save(out, kind)
    return out.getvalue()


def docx_of(words: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(words)
    document.add_paragraph("The second paragraph of the statement.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# The ten documents, in the order they are uploaded, with the pages each must take: a PDF
# keeps its own pages; an image, a short Word document and a short text take one page each.
DOCUMENTS: list[tuple[str, bytes, int]] = [
    ("investigation-report.pdf", pdf_of("Investigation report", 3), 3),
    ("witness-a.pdf", pdf_of("Witness A", 2), 2),
    ("rota.png", image_of("PNG"), 1),
    ("ward-photo.jpg", image_of("JPEG"), 1),
    ("statement.docx", docx_of("Statement of Sam Jones about the handover."), 1),
    ("call-notes.txt", b"Call notes typed at the time.\nSecond line.", 1),
    ("damaged.pdf", b"%PDF-1.4\nthis is not really a PDF at all\n%%EOF\n", 0),
    ("timeline.txt", "Timeline kept by the manager \u2014 UTF-8.".encode(), 1),
    ("policy-extract.pdf", pdf_of("Policy extract", 1), 1),
    ("witness-b.docx", docx_of("Statement of the second witness."), 1),
]
# How each laid-out document's first page begins: a PDF with its own first words; what
# ercase lays out itself with the document's index entry as a heading.
BEGINS = {
    "investigation-report.pdf": "Investigation report sheet 1",
    "witness-a.pdf": "Witness A sheet 1",
    "policy-extract.pdf": "Policy extract sheet 1",
}


async def walked_case(stack: ApiStack, auth: dict[str, str]) -> tuple[str, list[str]]:
    """A disciplinary case three steps in, with a note, a call log and the ten documents."""
    http = stack.http
    opened = await http.post(
        "/api/cases",
        json={"case_type": "disciplinary", "employee_id": "E1001", "summary": "Handovers"},
        headers=auth,
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    policy = shipped_policies()["disciplinary"]
    today = datetime.now(UTC).astimezone(LONDON).date()
    stage, labels = policy.stages[0].key, []
    for key in MAIN_PATHS["disciplinary"][:3]:
        action = policy.stage(stage).action(key)
        assert action is not None
        labels.append(action.label)
        step = await http.post(
            f"/api/cases/{case_id}/actions/{key}",
            json={"data": step_data(policy, action, today)},
            headers=auth,
        )
        assert step.status_code == 200, step.text
        stage = step.json()["stage"]["key"]
    for kind, text in (("note", "Spoke to the ward sister."), ("call", "Rang the employee.")):
        note = await http.post(
            f"/api/cases/{case_id}/notes", json={"text": text, "kind": kind}, headers=auth
        )
        assert note.status_code == 201, note.text
    for name, content, _ in DOCUMENTS:
        uploaded = await http.post(
            f"/api/cases/{case_id}/documents", files={"file": (name, content)}, headers=auth
        )
        assert uploaded.status_code == 201, (name, uploaded.text)
    return case_id, labels


async def test_a_bundle_of_ten_documents_has_a_true_index_and_numbered_pages(
    stack: ApiStack, dev_server_env: WorkflowEnvironment
) -> None:
    alice = await stack.token("alice")
    case_id, labels = await walked_case(stack, alice)
    reply = await stack.http.get(f"/api/cases/{case_id}/bundle", headers=alice)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.headers["content-disposition"].startswith("attachment;")
    assert "no-store" in reply.headers["cache-control"]
    pages = [flat(page.extract_text()) for page in pypdf.PdfReader(io.BytesIO(reply.content)).pages]
    total = len(pages)

    # Every page stamped, continuously.
    for number, text in enumerate(pages, start=1):
        assert text.endswith(f"Page {number} of {total}"), (number, text[-60:])

    cover = pages[0]
    for words in (case_id, "Disciplinary", "North Trust", "Priya Patel (E1001)", "Alice Advisor"):
        assert words in cover, words

    index = pages[1]
    assert index.startswith("Index")

    def entry(title: str) -> tuple[int, int]:
        # A document's entry goes on to the day it was added, in brackets, before its pages.
        rest = r"[^)]*\)" if "(added by" in title else ""
        found = re.search(re.escape(title) + rest + r" (\d+)(?:-(\d+))? ", index)
        assert found, (title, index)
        first = int(found.group(1))
        return first, int(found.group(2) or first)

    assert entry("Cover") == (1, 1)
    assert entry("Index") == (2, 2)
    chronology_first, chronology_last = entry("Chronology")
    assert chronology_first == 3
    assert pages[2].startswith("Chronology")
    for label in labels:
        assert label in " ".join(pages[2:chronology_last]), label
    notes_first, notes_last = entry("Notes and call logs")
    assert notes_first == chronology_last + 1
    notes = pages[notes_first - 1]
    assert notes.startswith("Notes and call logs")
    assert "Spoke to the ward sister." in notes and "Phone call" in notes
    assert "Rang the employee." in notes

    # Each document begins where the index says, takes its pages, and follows the one before.
    expected_next = notes_last + 1
    for number, (name, _, count) in enumerate(DOCUMENTS, start=1):
        title = f"{number}. {name} (added by alice"
        if count == 0:
            assert re.search(
                re.escape(title)
                + r"[^)]*\) Not included: the PDF could not be read \(it is damaged or not a "
                r"PDF\)\.",
                index,
            ), index
            continue
        first, last = entry(title)
        assert (first, last - first + 1) == (expected_next, count), name
        begins = BEGINS.get(name, title)
        assert pages[first - 1].startswith(begins), (name, pages[first - 1][:80])
        expected_next = last + 1
    assert expected_next - 1 == total
    assert "Statement of Sam Jones about the handover." in " ".join(pages)
    assert "Timeline kept by the manager — UTF-8." in " ".join(pages)

    # Audited once, naming what it holds; nothing of it reached the case's workflow.
    async with stack.database.sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "case.bundle.produce", AuditEntry.case_id == case_id
                )
            )
        )
    assert len(rows) == 1 and rows[0].username == "alice"
    assert rows[0].detail["pages"] == total
    assert len(rows[0].detail["documents"]) == 9 and len(rows[0].detail["not_included"]) == 1
    raw = await Client.connect(stack.settings.temporal_address, namespace="default")
    history = (await raw.get_workflow_handle(workflow_id(case_id)).fetch_history()).to_json()
    assert "Witness A" not in history and "Priya Patel" not in history


async def test_who_may_produce_it(stack: ApiStack) -> None:
    http = stack.http
    alice, mark = await stack.token("alice"), await stack.token("mark")
    async with stack.database.transaction() as session:
        await create_user(
            session,
            stack.people.organisation,
            "wendy",
            DEMO_HASH,
            ["hr_director"],
            "Wendy Witness",
            "wendy@north.example",
            staff_employee_id="E1002",
        )
    cases = []
    for summary in ("restricted", "conflicted"):
        opened = await http.post(
            "/api/cases",
            json={"case_type": "disciplinary", "employee_id": "E1001", "summary": summary},
            headers=alice,
        )
        assert opened.status_code == 201, opened.text
        cases.append(opened.json()["id"])
    restricted, conflicted = cases
    named = await http.put(
        f"/api/cases/{restricted}/restriction",
        json={"restricted": True, "people": ["bob"]},
        headers=mark,
    )
    assert named.status_code == 200, named.text
    witness = await http.post(
        f"/api/cases/{conflicted}/parties",
        json={"employee_id": "E1002", "role": "witness"},
        headers=alice,
    )
    assert witness.status_code == 201, witness.text

    async def status(case_id: str, username: str) -> int:
        reply = await http.get(f"/api/cases/{case_id}/bundle", headers=await stack.token(username))
        return reply.status_code

    # Not named on the restricted case: as if it did not exist, like every case route.
    assert await status(restricted, "alice") == 404
    assert await status(restricted, "hannah") == 404
    assert await status(restricted, "bob") == 200
    # wendy is a witness on the conflicted case: her role reaches it, the conflict does not.
    assert await status(conflicted, "wendy") == 404
    assert await status(conflicted, "hannah") == 200
    assert await status(conflicted, "oscar") == 404  # another trust
    assert await status(conflicted, "polly") == 404  # a policy owner sees no case content
    refused = await http.get(f"/api/cases/{restricted}/bundle", headers=alice)
    assert refused.json() == {"detail": f"There is no case {restricted} that you can see."}
    async with stack.database.sessions() as session:
        produced = list(
            await session.scalars(
                select(AuditEntry.username).where(AuditEntry.action == "case.bundle.produce")
            )
        )
    assert sorted(str(name) for name in produced) == ["bob", "hannah"]
