"""Case documents: checked by what they contain, stored under a random name, every touch audited.

The bytes live under ERCASE_DOCUMENTS_DIR with a random name and no extension, so nothing a
person uploads chooses where it is written or how a server might run it; the original file
name is kept only as a label for the download.
"""

import hashlib
import io
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from records.audit import append_audit
from records.database import Database
from records.models import Document
from services.access import CASE_WORKERS, Principal, visible_case
from services.errors import Forbidden, Invalid, NotFound

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
ALLOWED_KINDS = (
    "PDF, PNG, JPEG, Word (.docx), Excel (.xlsx), OpenDocument text (.odt) or plain text"
)

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
TEXT = "text/plain; charset=utf-8"


def _zip_kind(content: bytes) -> str | None:
    """DOCX, XLSX or ODT, told apart by the parts every such file has; other zips are refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                return DOCX
            if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
                return XLSX
            if "mimetype" in names and archive.read("mimetype").strip() == ODT.encode():
                return ODT
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError):
        return None
    return None


def _is_plain_text(content: bytes) -> bool:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # Tabs, line breaks and form feeds are text; other control characters mean a binary file.
    return not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text)


def content_kind(content: bytes) -> str | None:
    """The media type the bytes really are (not what the name or browser claims), or None."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"PK\x03\x04"):
        return _zip_kind(content)
    if _is_plain_text(content):
        return TEXT
    return None


def clean_filename(name: str | None) -> str:
    """The last part of the name a browser sent, without control characters, at most 200 long."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    return base[-200:] or "document"


@dataclass
class CaseDocuments:
    """Documents of the cases one signed-in person may see."""

    database: Database
    principal: Principal
    folder: Path
    client_address: str | None = None
    max_bytes: int = MAX_DOCUMENT_BYTES

    async def list(self, case_id: str) -> list[Document]:
        async with self.database.transaction() as session:
            await visible_case(session, self.principal, case_id)
            rows = list(
                await session.scalars(
                    select(Document)
                    .where(Document.case_id == case_id)
                    .order_by(Document.uploaded_at)
                )
            )
            append_audit(
                session,
                organisation_id=self.principal.organisation_id,
                username=self.principal.username,
                action="case.documents.read",
                case_id=case_id,
                client_address=self.client_address,
                detail={"documents": [row.id for row in rows]},
            )
            return rows

    async def add(self, case_id: str, filename: str | None, content: bytes) -> Document:
        # A case this person may not see is a 404 before any question of role (not a 403).
        async with self.database.transaction() as session:
            await visible_case(session, self.principal, case_id)
        if not self.principal.has_any(CASE_WORKERS):
            raise Forbidden("Your role cannot add documents to cases.")
        if not content:
            raise Invalid("The file is empty; choose the document to upload.")
        if len(content) > self.max_bytes:
            limit = self.max_bytes // (1024 * 1024)
            raise Invalid(f"The file is larger than {limit} MB; upload a smaller one.")
        kind = content_kind(content)
        if kind is None:
            raise Invalid(f"This kind of file cannot be attached; upload {ALLOWED_KINDS}.")
        stored_name = secrets.token_hex(20)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / stored_name
        async with self.database.transaction() as session:
            await visible_case(session, self.principal, case_id)
            document = Document(
                case_id=case_id,
                filename=clean_filename(filename),
                content_type=kind,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                stored_name=stored_name,
                uploaded_by=self.principal.username,
            )
            session.add(document)
            await session.flush()
            self._audit(session, "case.document.add", case_id, document)
            # The file is written inside the transaction: if it cannot be, no row points at it.
            path.write_bytes(content)
        return document

    async def open(self, case_id: str, document_id: int) -> tuple[Document, Path]:
        """The document and where its bytes are; the download is audited."""
        async with self.database.transaction() as session:
            await visible_case(session, self.principal, case_id)
            document = await session.scalar(
                select(Document).where(Document.id == document_id, Document.case_id == case_id)
            )
            path = self.folder / document.stored_name if document else None
            if document is None or path is None or not path.is_file():
                raise NotFound(f"Case {case_id} has no document {document_id}.")
            self._audit(session, "case.document.download", case_id, document)
        return document, path

    def _audit(self, session: AsyncSession, action: str, case_id: str, document: Document) -> None:
        append_audit(
            session,
            organisation_id=self.principal.organisation_id,
            username=self.principal.username,
            action=action,
            case_id=case_id,
            client_address=self.client_address,
            detail={"document": document.id, "filename": document.filename},
        )
