"""The case bundle: one PDF of a case for a hearing panel, an appeal or an employment tribunal.

A cover page, an index with page numbers, the chronology (every step, each stage's deadline as
set and as met or missed, computed as the case page computes it), the notes and call logs, and
every document, paginated continuously (services/bundle_pdf.py lays it out).

Who may produce it is who may see the case (services/access.py): any other case is the same 404.
Producing it is audited (`case.bundle.produce`, with the documents it holds), once it is made
and before it is handed out. It is made in memory in the API process and never stored: nothing
of it reaches the case's workflow or a log.
"""

import asyncio
import html
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from policies.calendar import LONDON
from policies.schema import PolicyDefinition
from records.cases import find_staff, policy_version, timeline
from records.models import Case, CaseEvent, Document, Note, Organisation, User
from services.bundle_pdf import Bundle, BundleDocument, IndexEntry, Section, assemble
from services.case_chronology import NOTE_KINDS, describe_event, stage_visits
from services.case_context import CaseContext
from services.errors import NotFound

# One bundle at a time per process: WeasyPrint's fonts (pango) are shared, and a bundle is
# CPU-bound work better queued than interleaved on two cores.
_LAYING_OUT = threading.Lock()


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(LONDON)
    return f"{local.day} {local:%B %Y, %H:%M}"


def _e(text: object) -> str:
    return html.escape(str(text))


@dataclass(frozen=True)
class _CaseFile:
    case: Case
    policy: PolicyDefinition
    events: list[CaseEvent]
    notes: list[Note]
    documents: list[Document]
    organisation: str
    employee: str
    producer: str


def cover(file: _CaseFile, produced: datetime) -> Section:
    case = file.case
    rows = [
        ("Case", case.id),
        ("Type", file.policy.name),
        ("Organisation", file.organisation),
        ("Employee", file.employee),
        ("Status", f"{case.status}, stage {case.stage_name}"),
        ("Produced", when(produced)),
        ("Produced by", file.producer),
    ]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    body = (
        f'<div class="cover"><h1>Case bundle: {_e(case.id)}</h1><table>{table}</table>'
        "<p>Confidential: for the hearing panel, appeal or tribunal it was produced for.</p></div>"
    )
    return Section("Cover", body)


def index_html(entries: list[IndexEntry]) -> str:
    rows = []
    for entry in entries:
        if entry.first_page is None:
            pages = "—"
            title = f"{_e(entry.title)}<br><em>Not included: {_e(entry.problem)}.</em>"
        else:
            last = entry.first_page + entry.pages - 1
            pages = (
                str(entry.first_page) if last == entry.first_page else f"{entry.first_page}-{last}"
            )
            title = _e(entry.title)
        rows.append(f'<tr><td>{title}</td><td class="page">{pages}</td></tr>')
    return f"<h1>Index</h1><table><tr><th>Section</th><th>Pages</th></tr>{''.join(rows)}</table>"


def chronology(file: _CaseFile, now: datetime) -> Section:
    case, policy = file.case, file.policy
    visits = []
    for visit in stage_visits(case, policy, file.events, now):
        if visit.due is None:
            met = "no deadline"
        elif visit.breached:
            met = "missed"
        elif visit.ended_at is None:
            met = "running"
        else:
            met = "met"
        visits.append(
            f"<tr><td>{_e(visit.name)}</td><td>{when(visit.started_at)}</td>"
            f"<td>{when(visit.planned_due)}</td><td>{when(visit.due)}</td>"
            f"<td>{when(visit.ended_at)}</td><td>{met}</td></tr>"
        )
    steps = []
    for event in file.events:
        item = describe_event(event, policy)
        details = "".join(f"<br>{_e(k)}{': ' if k else ''}{_e(v)}" for k, v in item.details)
        steps.append(
            f"<tr><td>{when(item.at)}</td><td>{_e(item.actor or 'ercase')}</td>"
            f"<td>{_e(item.title)}{details}</td></tr>"
        )
    target = f"Opened {when(case.opened_at)}; whole-case target {when(case.due_at)}"
    if case.closed_at is not None:
        target += f"; closed {when(case.closed_at)}"
    body = (
        f"<h1>Chronology</h1><p>{_e(target)}.</p><h2>Stages and their deadlines</h2>"
        "<table><tr><th>Stage</th><th>Began</th><th>Deadline as set</th>"
        "<th>Deadline after pauses</th><th>Ended</th><th>Deadline</th></tr>"
        f"{''.join(visits)}</table><h2>Every step</h2>"
        f"<table><tr><th>When</th><th>Who</th><th>What</th></tr>{''.join(steps)}</table>"
    )
    return Section("Chronology", body)


def notes(file: _CaseFile) -> Section:
    items = [
        f'<div class="note"><p class="meta">{_e(NOTE_KINDS.get(note.kind, note.kind))}, '
        f"{when(note.created_at)}, by {_e(note.author)}</p><pre>{_e(note.body)}</pre></div>"
        for note in file.notes
    ]
    return Section(
        "Notes and call logs", "<h1>Notes and call logs</h1>" + ("".join(items) or "<p>None.</p>")
    )


def document_title(number: int, document: Document) -> str:
    added = document.uploaded_at.astimezone(LONDON)
    return f"{number}. {document.filename} (added by {document.uploaded_by}, {added:%d %b %Y})"


def lay_out(file: _CaseFile, contents: Sequence[bytes | None], now: datetime) -> Bundle:
    documents = [
        BundleDocument(document_title(n, d), d.content_type, content)
        for n, (d, content) in enumerate(zip(file.documents, contents, strict=True), start=1)
    ]
    with _LAYING_OUT:
        return assemble(
            cover(file, now), [chronology(file, now), notes(file)], documents, index_html
        )


@dataclass(frozen=True)
class CaseBundles:
    context: CaseContext
    documents_dir: Path

    async def produce(self, case_id: str) -> Bundle:
        file = await self._read(case_id)
        contents = [self._stored(document) for document in file.documents]
        now = datetime.now(UTC)
        # In a thread: laying out takes seconds, which the API's other requests must not wait.
        bundle = await asyncio.to_thread(lay_out, file, contents, now)
        async with self.context.database.transaction() as session:
            await self.context.visible(session, case_id)
            # The documents' entries close the index, in the documents' order.
            entries = bundle.index[len(bundle.index) - len(file.documents) :]
            placed = [entry.first_page is not None for entry in entries]
            self.context.audit(
                session,
                "case.bundle.produce",
                case_id,
                {
                    "pages": bundle.pages,
                    "documents": [d.id for d, ok in zip(file.documents, placed, strict=True) if ok],
                    "not_included": [
                        d.id for d, ok in zip(file.documents, placed, strict=True) if not ok
                    ],
                },
            )
        return bundle

    def _stored(self, document: Document) -> bytes | None:
        # The bytes as the download route serves them (services/documents.py).
        path = self.documents_dir / document.stored_name
        return path.read_bytes() if path.is_file() else None

    async def _read(self, case_id: str) -> _CaseFile:
        principal = self.context.principal
        async with self.context.database.transaction() as session:
            case = await self.context.visible(session, case_id)
            row = await policy_version(
                session, case.organisation_id, case.case_type, case.policy_version
            )
            if row is None:
                raise NotFound(f"The policy of case {case_id} cannot be found.")
            events, case_notes = await timeline(session, case_id)
            documents = list(
                await session.scalars(
                    select(Document)
                    .where(Document.case_id == case_id)
                    .order_by(Document.uploaded_at, Document.id)
                )
            )
            organisation = await session.get(Organisation, case.organisation_id)
            staff = await find_staff(session, case.organisation_id, case.employee_id)
            producer = await session.scalar(select(User).where(User.username == principal.username))
        employee = (
            f"{staff.name} ({case.employee_id})" if staff and staff.name else case.employee_id
        )
        return _CaseFile(
            case=case,
            policy=PolicyDefinition.model_validate(row.definition),
            events=events,
            notes=case_notes,
            documents=documents,
            organisation=organisation.name if organisation else "",
            employee=employee,
            producer=f"{producer.full_name} ({principal.username})"
            if producer
            else principal.username,
        )
