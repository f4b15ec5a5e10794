"""Case documents: upload (checked by content, size-limited), list, download as an attachment."""

from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, UploadFile, status
from fastapi import Path as UrlPath  # pathlib's Path names the stored files
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.deps import CurrentUser, get_database, get_settings
from api.schemas import DATABASE_INT_MAX
from records.models import Document
from services.access import Principal
from services.documents import CaseDocuments
from services.errors import Invalid

router = APIRouter(prefix="/api/cases", tags=["documents"])


def case_documents(request: Request, principal: Principal) -> CaseDocuments:
    return CaseDocuments(
        database=get_database(request),
        principal=principal,
        folder=get_settings(request).documents_dir,
        client_address=request.client.host if request.client else None,
        max_bytes=get_settings(request).document_max_mb * 1024 * 1024,
    )


def _documents(request: Request, principal: CurrentUser) -> CaseDocuments:
    return case_documents(request, principal)


Documents = Annotated[CaseDocuments, Depends(_documents)]


class DocumentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime

    @classmethod
    def of(cls, document: Document) -> "DocumentOut":
        return cls(
            id=document.id,
            filename=document.filename,
            content_type=document.content_type,
            size=document.size,
            sha256=document.sha256,
            uploaded_by=document.uploaded_by,
            uploaded_at=document.uploaded_at,
        )


async def read_upload(upload: UploadFile, documents: CaseDocuments) -> bytes:
    """At most one byte more than the limit, so an oversized upload is refused, not kept."""
    return await upload.read(documents.max_bytes + 1)


def attachment(document: Document, path: Path) -> FileResponse:
    """The stored bytes as a download that a browser never renders in the page."""
    return FileResponse(
        path,
        media_type=document.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/{case_id}/documents")
async def list_documents(case_id: str, documents: Documents) -> list[DocumentOut]:
    return [DocumentOut.of(document) for document in await documents.list(case_id)]


@router.post("/{case_id}/documents", status_code=status.HTTP_201_CREATED)
async def upload_document(
    case_id: str, documents: Documents, file: Annotated[UploadFile | None, File()] = None
) -> DocumentOut:
    if file is None:
        raise Invalid("Send the document as a multipart form field named 'file'.")
    document = await documents.add(case_id, file.filename, await read_upload(file, documents))
    return DocumentOut.of(document)


@router.get("/{case_id}/documents/{document_id}")
async def download_document(
    case_id: str,
    document_id: Annotated[int, UrlPath(ge=1, le=DATABASE_INT_MAX)],
    documents: Documents,
) -> FileResponse:
    document, path = await documents.open(case_id, document_id)
    return attachment(document, path)
