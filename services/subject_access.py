"""A subject access request (UK GDPR art. 15): everything held about one member of staff.

One zip a person can read without ercase: README.txt saying what is in it, staff.json,
cases.json (each case with its timeline, notes and the list of its documents), cases.csv,
and the documents themselves under documents/<case>/. Audited.
"""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from records.audit import append_audit
from records.database import Database
from records.models import Case, CaseEvent, Document, Note, Staff
from services.access import Principal
from services.errors import Forbidden, NotFound

SUBJECT_ACCESS = frozenset({"hr_director", "admin"})
CASE_COLUMNS = ("id", "case_type", "status", "opened_at", "closed_at", "stage_name", "outcome")


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
        cases = list(
            await session.scalars(
                select(Case)
                .where(
                    Case.organisation_id == principal.organisation_id,
                    Case.employee_id == employee_id,
                )
                .order_by(Case.opened_at, Case.id)
            )
        )
        ids = [case.id for case in cases]
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
            detail={"employee_id": employee_id, "cases": ids},
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
    writer = csv.writer(table)
    writer.writerow(CASE_COLUMNS)
    for record in case_records:
        writer.writerow([record[column] for column in CASE_COLUMNS])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("README.txt", _readme(staff_record, case_records))
        zipped.writestr("staff.json", json.dumps(staff_record, indent=2))
        zipped.writestr("cases.json", json.dumps(case_records, indent=2, default=str))
        zipped.writestr("cases.csv", table.getvalue())
        for document in documents:
            path = documents_dir / document.stored_name
            if path.exists():
                name = f"documents/{document.case_id}/{document.id}-{document.filename}"
                zipped.write(path, name)
    return archive.getvalue()


def _readme(staff: dict[str, Any], cases: list[dict[str, Any]]) -> str:
    lines = [
        f"Subject access request: information held about {staff['name'] or staff['employee_id']}",
        f"(employee id {staff['employee_id']}), produced {datetime.now(UTC):%d %B %Y %H:%M} UTC.",
        "",
        "staff.json   the staff directory entry",
        "cases.json   every case about this person: summary, timeline, notes, documents",
        "cases.csv    the same cases, one line each",
        "documents/   the documents attached to those cases, by case",
        "",
        f"Cases ({len(cases)}):",
        *(f"  {c['id']}  {c['case_type']}  {c['status']}  opened {c['opened_at']}" for c in cases),
    ]
    return "\n".join(lines) + "\n"
