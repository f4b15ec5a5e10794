"""Time producing one case bundle of about 50 pages (goal: under 3 s), through the service
GET /api/cases/{id}/bundle calls: read the case and its documents, lay it all out, merge,
stamp every page, audit.

A private SQLite database (in a temporary folder) holds one trust, its advisor, the employee
and a disciplinary case with steps and notes recorded, and ten documents stored as uploads
are (PDFs of 38 pages in all, a PNG, a JPEG, Word documents and text). The first bundle of a
process includes loading WeasyPrint's fonts once; the rest are what an advisor waits for.

    .venv/bin/python -m bench.bundle [--bundles 3]
"""

import argparse
import asyncio
import io
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import docx
from PIL import Image

from bench.letters import CASE, setup
from records.database import Database
from records.migrate import upgrade
from records.models import Document, Note
from services.access import Principal
from services.bundle_pdf import html_pdf
from services.case_bundle import CaseBundles
from services.case_context import CaseContext
from services.document_kinds import DOCX, JPEG, PDF, PNG, TEXT


async def no_temporal() -> NoReturn:
    raise RuntimeError("a bundle never reaches the case's workflow")


def pdf_of(pages: int) -> bytes:
    sheet = "<p>" + "Statement text for the panel. " * 120 + "</p>"
    return html_pdf(
        "".join(f'<div style="page-break-after: always">{sheet}</div>' for _ in range(pages))
    )


def image_of(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (30, 90, 160)).save(out, kind)
    return out.getvalue()


def docx_of() -> bytes:
    document = docx.Document()
    for _ in range(12):
        document.add_paragraph("A paragraph of the witness's statement. " * 8)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def documents() -> list[tuple[str, str, bytes]]:
    return [
        ("report.pdf", PDF.media_type, pdf_of(20)),
        ("statements.pdf", PDF.media_type, pdf_of(12)),
        ("policy.pdf", PDF.media_type, pdf_of(6)),
        ("rota.png", PNG.media_type, image_of("PNG")),
        ("ward.jpg", JPEG.media_type, image_of("JPEG")),
        ("witness-a.docx", DOCX.media_type, docx_of()),
        ("witness-b.docx", DOCX.media_type, docx_of()),
        ("call.txt", TEXT.media_type, b"Notes of the call.\n" * 40),
        ("timeline.txt", TEXT.media_type, b"A day of the timeline.\n" * 40),
        ("emails.txt", TEXT.media_type, b"An email quoted.\n" * 40),
    ]


async def store(database: Database, folder: Path, principal: Principal) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    async with database.transaction() as session:
        for number, (name, kind, content) in enumerate(documents()):
            stored = secrets.token_hex(20)
            (folder / stored).write_bytes(content)
            session.add(
                Document(
                    case_id=CASE, filename=name, content_type=kind, size=len(content),
                    sha256="0" * 64, stored_name=stored, uploaded_by=principal.username,
                    uploaded_at=now + timedelta(seconds=number),
                )
            )  # fmt: skip
        for number in range(8):
            session.add(Note(case_id=CASE, author="alice", kind="call", body=f"Call {number}."))


async def bench(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        database = Database(url)
        try:
            principal = await setup(database)
            await store(database, Path(folder) / "documents", principal)
            context = CaseContext(database, no_temporal, "bench", principal)
            bundles = CaseBundles(context, Path(folder) / "documents")
            times, pages = [], 0
            for _ in range(count):
                started = time.perf_counter()
                pages = (await bundles.produce(CASE)).pages
                times.append(time.perf_counter() - started)
        finally:
            await database.dispose()
    warm = times[1:] or times
    print(f"bundle of {pages} pages, first (fonts loaded once per process) {times[0]:6.2f} s")
    print(f"bundle of {pages} pages, median of {len(warm):<3} {statistics.median(warm):6.2f} s")
    print("goal: under 3 s each:", "met" if max(times) < 3 else "NOT MET")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=3)
    asyncio.run(bench(parser.parse_args().bundles))


if __name__ == "__main__":
    main()
