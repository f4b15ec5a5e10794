"""What an upload is, judged by all of its content (services/document_kinds.py, issue 22.9).

Each refused file below is one a penetration test got accepted: a program behind a PDF header,
scripts and web pages as "text", a Word file carrying a program or a part named outside it, a
zip bomb. Each accepted one is a real-shaped document, which keeps its name but downloads under
the extension of what it really is.
"""

import io
import zipfile

import pytest

from services.document_kinds import (
    DOCX,
    JPEG,
    ODT,
    PDF,
    PNG,
    TEXT,
    XLSX,
    Refused,
    document_kind,
    download_name,
)

A_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
A_PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
A_PNG += b"\x00\x00\x00\x00IEND\xaeB`\x82"
A_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 20 + b"\xff\xd9"
CONTENT_TYPES = b'<Types><Default Extension="xml" ContentType="application/xml"/></Types>'


def zipped(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx(**extra: bytes) -> bytes:
    return zipped({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<w/>", **extra})


def test_real_documents_are_told_by_content() -> None:
    assert document_kind(A_PDF, "Outcome letter.pdf") is PDF
    assert document_kind(A_PNG, "photo.png") is PNG
    assert document_kind(A_JPEG, "scan.jpeg") is JPEG
    assert document_kind(docx(), "statement.docx") is DOCX
    xlsx = zipped({"[Content_Types].xml": CONTENT_TYPES, "xl/workbook.xml": b"<workbook/>"})
    assert document_kind(xlsx, "rota.xlsx") is XLSX
    odt = zipped({"mimetype": ODT.media_type.encode(), "content.xml": b"<office/>"})
    assert document_kind(odt, "notes.odt") is ODT
    assert document_kind("Meeting notes: café\n".encode(), "notes.txt") is TEXT
    assert document_kind(b"\xef\xbb\xbfname,date\nPriya,1 May\n", "log.csv") is TEXT
    # A Word file may embed a spreadsheet (a document, not a program).
    assert document_kind(docx(**{"word/embeddings/Sheet1.xlsx": b"PK"}), "a.docx") is DOCX


@pytest.mark.parametrize(
    ("content", "filename", "says"),
    [
        (b"%PDF-1.4\nMZ\x90\x00 and then a program", "payload.exe", "(.exe)"),
        (b"%PDF-1.4\nMZ\x90\x00 and then a program", "payload.pdf", "does not end as a PDF"),
        (A_PDF.replace(b"/Catalog", b"/Catalog /OpenAction << /S /JavaScript >>"), "a.pdf",
         "active content (JavaScript)"),
        (A_PDF.replace(b"/Catalog", b"/Catalog /AA << /Launch (cmd.exe) >>"), "a.pdf",
         "active content (Launch)"),
        (A_PNG + b"MZ\x90\x00", "photo.png", "does not end as a PNG"),
        (A_JPEG + b"<script>", "scan.jpg", "does not end as a JPEG"),
        (b"@echo off\r\ndel /q C:\\*\r\n", "run.bat", "(.bat)"),
        (b"<html><script>alert(1)</script></html>", "page.hta", "(.hta)"),
        (b"<html><script>alert(1)</script></html>", "notes.txt", "Web pages"),
        (b'<?xml version="1.0"?><svg onload="alert(1)"/>', "chart.txt", "Web pages"),
        (b"  <!DOCTYPE html><p>hi", "notes", "Web pages"),
        (b"#!/bin/sh\nrm -rf /\n", "notes.txt", "Scripts"),
        (b"just words", "notes.rtf", "not plain text"),
        (docx(**{"word/media/evil.exe": b"MZ"}), "statement.docx", "evil.exe"),
        (docx(**{"../../evil.txt": b"x"}), "statement.docx", "outside it"),
        (docx(**{"word/embeddings/oleObject1.bin": b"\xd0\xcf"}), "statement.docx",
         "embedded object"),
        (zipped({"[Content_Types].xml": CONTENT_TYPES.replace(b"xml\"", b"macroEnabled\""),
                 "word/document.xml": b"<w/>"}), "macros.docx", "macros"),
        (zipped({"evil.exe": b"MZ"}), "archive.zip", "evil.exe"),
        (zipped({"notes.txt": b"plain"}), "archive.zip", "cannot be attached"),
        (b"PK\x03\x04 not really a zip", "x.docx", "cannot be read"),
        (b"MZ\x90\x00\x03\x00", "report.pdf", "cannot be attached"),
        (b"\x00\x01binary", "data", "cannot be attached"),
    ],
)  # fmt: skip
def test_what_a_computer_would_run_is_refused_with_a_reason(
    content: bytes, filename: str, says: str
) -> None:
    with pytest.raises(Refused) as refused:
        document_kind(content, filename)
    assert says in str(refused.value)


def test_a_zip_bomb_is_refused_without_unpacking_it() -> None:
    # 300 MB of zeros packs into about 300 KB (about 1000:1): over the 200 MB unpacked limit.
    bomb = docx(**{"word/media/zeros.bin": bytes(300 * 1024 * 1024)})
    with pytest.raises(Refused, match="unpacks to far more"):
        document_kind(bomb, "statement.docx")
    # Within the size limit but packed far tighter than any real document (about 1000:1,
    # above the 500:1 allowed).
    tight = docx(**{"word/media/zeros.xml": bytes(50 * 1024 * 1024)})
    with pytest.raises(Refused, match="unpacks to far more"):
        document_kind(tight, "statement.docx")


def test_downloads_carry_the_extension_of_what_the_file_is() -> None:
    assert download_name("payload.exe", PDF) == "payload.pdf"
    assert download_name("Outcome letter.pdf", PDF) == "Outcome letter.pdf"
    assert download_name("scan.jpeg", JPEG) == "scan.jpeg"
    assert download_name("notes", TEXT) == "notes.txt"
    assert download_name("interview.csv", TEXT) == "interview.csv"
    assert download_name("statement.doc", DOCX) == "statement.docx"
