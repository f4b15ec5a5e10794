"""A subject access request (UK GDPR art. 15): everything held about one member of staff.

One zip a person can read without ercase: README.txt saying what is in it, staff.json,
cases.json (each case with its timeline, notes and the list of its documents), cases.csv,
and the documents themselves under documents/<case>/. Audited.

The export holds only the cases the requester may see (services/access.py): a case restricted
to people they are not among, or one they are a party to (the subject's line manager, a
witness), is withheld. README.txt and withheld.json say how many were withheld and why, without
their content, so the organisation knows who must complete the request.
"""

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from records.audit import append_audit
from records.database import Database
from records.models import Case, CaseEvent, Document, Note, Staff
from records.spreadsheet_csv import SpreadsheetWriter
from services.access import Principal, party_to_case, visible_cases
from services.errors import Forbidden, NotFound

SUBJECT_ACCESS = frozenset({"hr_director", "admin"})
CASE_COLUMNS = ("id", "case_type", "status", "opened_at", "closed_at", "stage_name", "outcome")
# Why a case about the person is left out of the export, and who can complete that part.
WITHHELD_REASONS = {
    "party": (
        "you are a party to it (its subject, the subject's line manager, or a recorded "
        "complainant or witness)",
        "an HR director or administrator who is not a party to it",
    ),
    "restricted": (
        "it is restricted to the people named on it, and you are not one of them",
        "one of the people named on the case",
    ),
}


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


async def subject_access_archive(
    database: Database,
    principal: Principal,
    employee_id: str,
    documents_dir: Path,
    client_address: str | None,
) -> bytes:
    if not principal.has_any(SUBJECT_ACCESS):
        raise Forbidden(
            "Only an HR director or an administrator can answer a subject access request."
        )
    async with database.transaction() as session:
        staff = await session.scalar(
            select(Staff).where(
                Staff.organisation_id == principal.organisation_id,
                Staff.employee_id == employee_id,
            )
        )
        if staff is None:
            raise NotFound(f"There is no member of staff with id '{employee_id}'.")
        about_them = select(Case).where(
            Case.organisation_id == principal.organisation_id, Case.employee_id == employee_id
        )
        cases = list(
            await session.scalars(
                visible_cases(principal)
                .where(Case.employee_id == employee_id)
                .order_by(Case.opened_at, Case.id)
            )
        )
        ids = [case.id for case in cases]
        withheld = await _withheld(
            session, principal, list(await session.scalars(about_them.where(Case.id.not_in(ids))))
        )
        events = list(
            await session.scalars(
                select(CaseEvent).where(CaseEvent.case_id.in_(ids)).order_by(CaseEvent.seq)
            )
        )
        notes = list(
            await session.scalars(select(Note).where(Note.case_id.in_(ids)).order_by(Note.id))
        )
        documents = list(
            await session.scalars(
                select(Document).where(Document.case_id.in_(ids)).order_by(Document.id)
            )
        )
        append_audit(
            session,
            organisation_id=principal.organisation_id,
            username=principal.username,
            action="staff.subject_access",
            client_address=client_address,
            detail={"employee_id": employee_id, "cases": ids, "withheld": withheld},
        )
    staff_record = {
        column: getattr(staff, column)
        for column in (
            "employee_id", "name", "email", "division", "department",
            "line_manager_id", "band", "ethnic_group", "disability",
        )
    }  # fmt: skip
    case_records: list[dict[str, Any]] = []
    for case in cases:
        record = {column: _plain(getattr(case, column)) for column in CASE_COLUMNS}
        record["summary"] = case.summary
        record["timeline"] = [
            {"at": _plain(e.at), "kind": e.kind, "by": e.actor, "detail": e.detail}
            for e in events
            if e.case_id == case.id
        ]
        record["notes"] = [
            {"at": _plain(n.created_at), "by": n.author, "kind": n.kind, "text": n.body}
            for n in notes
            if n.case_id == case.id
        ]
        record["documents"] = [
            {
                "file": f"documents/{case.id}/{d.id}-{d.filename}",
                "uploaded_at": _plain(d.uploaded_at),
            }
            for d in documents
            if d.case_id == case.id
        ]
        case_records.append(record)
    table = io.StringIO()
    writer = SpreadsheetWriter(table)
    writer.writerow(CASE_COLUMNS)
    for record in case_records:
        writer.writerow([record[column] for column in CASE_COLUMNS])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("README.txt", _readme(staff_record, case_records, withheld))
        zipped.writestr("withheld.json", json.dumps(_withheld_record(withheld), indent=2))
        zipped.writestr("staff.json", json.dumps(staff_record, indent=2))
        zipped.writestr("cases.json", json.dumps(case_records, indent=2, default=str))
        zipped.writestr("cases.csv", table.getvalue())
        for document in documents:
            path = documents_dir / document.stored_name
            if path.exists():
                name = f"documents/{document.case_id}/{document.id}-{document.filename}"
                zipped.write(path, name)
    return archive.getvalue()


async def _withheld(
    session: AsyncSession, principal: Principal, cases: list[Case]
) -> dict[str, int]:
    """How many of the cases left out are withheld for each reason (a case that is both is
    counted as the requester's own party to it: that is the one they cannot fix by naming)."""
    parties: set[str] = set()
    if principal.staff_employee_id and cases:
        parties = set(
            await session.scalars(
                select(Case.id).where(
                    Case.id.in_([case.id for case in cases]),
                    party_to_case(principal.staff_employee_id),
                )
            )
        )
    counts: dict[str, int] = {}
    for case in cases:
        reason = "party" if case.id in parties else "restricted"
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def _withheld_record(withheld: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "cases": count,
            "reason": WITHHELD_REASONS[reason][0],
            "completed_by": WITHHELD_REASONS[reason][1],
        }
        for reason, count in sorted(withheld.items())
    ]


def _readme(staff: dict[str, Any], cases: list[dict[str, Any]], withheld: dict[str, int]) -> str:
    lines = [
        f"Subject access request: information held about {staff['name'] or staff['employee_id']}",
        f"(employee id {staff['employee_id']}), produced {datetime.now(UTC):%d %B %Y %H:%M} UTC.",
        "",
        "staff.json   the staff directory entry",
        "cases.json   every case about this person: summary, timeline, notes, documents",
        "cases.csv    the same cases, one line each",
        "documents/   the documents attached to those cases, by case",
        "withheld.json  the cases about this person left out of this export, and why",
        "",
        f"Cases ({len(cases)}):",
        *(f"  {c['id']}  {c['case_type']}  {c['status']}  opened {c['opened_at']}" for c in cases),
    ]
    if withheld:
        lines += ["", f"Withheld from this export ({sum(withheld.values())}):"]
        lines += [
            f"  {count} case(s): {WITHHELD_REASONS[reason][0]}. To complete the request, "
            f"{WITHHELD_REASONS[reason][1]} must export it."
            for reason, count in sorted(withheld.items())
        ]
    return "\n".join(lines) + "\n"
