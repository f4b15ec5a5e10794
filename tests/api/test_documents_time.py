"""Documents and time entries through the JSON API: checked by content, size-limited, stored
under a random name, downloaded as an attachment, audited; time by date, minutes and code."""

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from records.models import AuditEntry, Document
from services.documents import MAX_DOCUMENT_BYTES
from tests.support.stack import ApiStack

CASE = {"case_type": "disciplinary", "employee_id": "E1001", "summary": "Timesheets"}
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"


async def open_case(stack: ApiStack) -> tuple[str, dict[str, str]]:
    auth = await stack.token("alice")
    reply = await stack.http.post("/api/cases", json=CASE, headers=auth)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"]), auth


async def test_documents_upload_refusals_download_and_audit(
    api_stack: ApiStack, tmp_path: Path
) -> None:
    # The app reads its settings per request: this test's documents stay in its own folder.
    api_stack.settings.documents_dir = tmp_path / "documents"
    case_id, auth = await open_case(api_stack)
    url = f"/api/cases/{case_id}/documents"

    for name, content, words in (
        ("report.pdf", b"MZ\x90\x00 a program named .pdf", "cannot be attached"),
        ("big.txt", b"a" * (MAX_DOCUMENT_BYTES + 1), "larger than"),
        ("empty.txt", b"", "empty"),
    ):
        reply = await api_stack.http.post(url, files={"file": (name, content)}, headers=auth)
        assert reply.status_code == 422, reply.text
        assert words in reply.json()["detail"]
    folder = Path(api_stack.settings.documents_dir)
    assert not folder.exists() or not any(folder.iterdir())  # nothing refused was kept

    reply = await api_stack.http.post(
        url, files={"file": ("../../etc/Outcome letter.pdf", PDF, "text/html")}, headers=auth
    )
    assert reply.status_code == 201, reply.text
    document = reply.json()
    assert document["filename"] == "Outcome letter.pdf"
    assert document["content_type"] == "application/pdf"  # what it is, not what was claimed

    listed = (await api_stack.http.get(url, headers=auth)).json()
    assert [d["id"] for d in listed] == [document["id"]]

    download = await api_stack.http.get(f"{url}/{document['id']}", headers=auth)
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''Outcome%20letter.pdf"
    )
    assert download.headers["x-content-type-options"] == "nosniff"

    async with api_stack.database.sessions() as session:
        stored = await session.scalar(select(Document))
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.case_id == case_id)
                .order_by(AuditEntry.id)
            )
        )
    assert stored is not None and "." not in stored.stored_name
    assert (folder / stored.stored_name).read_bytes() == PDF
    assert "case.document.add" in actions and "case.document.download" in actions

    # Another organisation, and a policy owner, cannot know the document exists.
    for username in ("oscar", "polly"):
        other = await api_stack.token(username)
        reply = await api_stack.http.get(f"{url}/{document['id']}", headers=other)
        assert reply.status_code == 404, reply.text

    # Kept, and downloaded, under the extension of what the file is (issue 22.9).
    renamed = await api_stack.http.post(url, files={"file": ("scan", PDF)}, headers=auth)
    assert renamed.status_code == 201 and renamed.json()["filename"] == "scan.pdf", renamed.text
    refused = await api_stack.http.post(url, files={"file": ("payload.exe", PDF)}, headers=auth)
    assert refused.status_code == 422 and "(.exe)" in refused.json()["detail"]


async def test_time_entries_and_notes_listing(api_stack: ApiStack) -> None:
    case_id, auth = await open_case(api_stack)
    url = f"/api/cases/{case_id}/time"
    today = date.today()
    good = {"worked_on": today.isoformat(), "minutes": 45, "activity_code": "advice"}
    reply = await api_stack.http.post(
        url, json={**good, "note": "Call with ward manager"}, headers=auth
    )
    assert reply.status_code == 201, reply.text
    for bad, words in (
        ({**good, "activity_code": "golf"}, "not an activity code"),
        ({**good, "minutes": 0}, "minutes"),
        ({**good, "worked_on": (today + timedelta(days=2)).isoformat()}, "future"),
        ({**good, "worked_on": (today - timedelta(days=30)).isoformat()}, "before case"),
    ):
        reply = await api_stack.http.post(url, json=bad, headers=auth)
        assert reply.status_code == 422, reply.text
        assert words in reply.json()["detail"], reply.text
    sheet = (await api_stack.http.get(url, headers=auth)).json()
    assert sheet["total_minutes"] == 45
    assert [(e["activity_code"], e["note"]) for e in sheet["items"]] == [
        ("advice", "Call with ward manager")
    ]

    notes = f"/api/cases/{case_id}/notes"
    await api_stack.http.post(notes, json={"text": "Rang HR", "kind": "call"}, headers=auth)
    listed = (await api_stack.http.get(notes, headers=auth)).json()
    assert [(n["kind"], n["text"]) for n in listed] == [("call", "Rang HR")]
    other = await api_stack.token("oscar")
    assert (await api_stack.http.get(notes, headers=other)).status_code == 404
    assert (await api_stack.http.get(url, headers=other)).status_code == 404
