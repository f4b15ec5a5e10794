"""Case documents: checked by what they contain (document_kinds.py), stored under a random
name, every touch audited.

The bytes live under ERCASE_DOCUMENTS_DIR with a random name and no extension, so nothing a
person uploads chooses where it is written or how a server might run it; the original file
name is kept only as a label for the download.
"""

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from records.audit import append_audit
from records.database import Database
from records.models import Document
from services.access import CASE_WORKERS, Principal, visible_case
from services.document_kinds import Refused, document_kind, download_name
from services.errors import Forbidden, Invalid, NotFound

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


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
        try:
            kind = document_kind(content, filename)
        except Refused as refused:
            raise Invalid(str(refused)) from None
        stored_name = secrets.token_hex(20)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / stored_name
        async with self.database.transaction() as session:
            await visible_case(session, self.principal, case_id)
            document = Document(
                case_id=case_id,
                filename=download_name(clean_filename(filename), kind),
                content_type=kind.media_type,
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
