"""Laying out a case bundle: its parts as PDF pages, merged, stamped "Page N of M", indexed.

Everything happens in memory (no file is written): the sections and the documents ercase lays
out itself (text, images, Word) are HTML rendered by WeasyPrint; PDF documents are merged page
by page with pypdf. The index is rendered last, once every other part's page count is known,
and again if its own page count moved the numbers it prints (two passes, rarely three).

A document that cannot be laid out (a damaged PDF, an unreadable image, a kind of file with no
page rendering) is never dropped: its index entry says it was not included and why.
"""

import base64
import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import docx
from PIL import Image
from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
)

from services.document_kinds import DOCX, JPEG, PDF, PNG, TEXT
from services.letter_render import letter_html

STYLE = """
@page { size: A4; margin: 20mm 20mm 24mm; }
body { font-family: "Liberation Sans", "DejaVu Sans", sans-serif; font-size: 10.5pt;
  line-height: 1.35; }
h1 { font-size: 17pt; margin: 0 0 12pt; } h2 { font-size: 13pt; margin: 14pt 0 6pt; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0 10pt; }
td, th { border: 0.5pt solid #888; padding: 3pt 5pt; vertical-align: top; text-align: left; }
th { background: #eee; } .page { text-align: right; white-space: nowrap; width: 18mm; }
.note { margin: 0 0 10pt; } .meta { color: #444; font-size: 9pt; }
pre { white-space: pre-wrap; font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; }
img { max-width: 100%; max-height: 225mm; image-orientation: from-image; }
.cover { margin-top: 60mm; } .cover td { border: none; padding: 4pt 8pt 4pt 0; }
"""
# A Word document's own page numbers (letter_html's footer) would clash with the bundle's.
NO_FOOTER = "@page { @bottom-center { content: none !important; } }"
# The stamp: Helvetica (a PDF standard font, in every reader), 9 pt, 10 mm above the page's
# foot. Helvetica's widths (1/1000 em) of the characters a stamp uses, to centre it.
STAMP_SIZE = 9
STAMP_RISE = 28.35
HELVETICA_WIDTHS = {"P": 667, "a": 556, "g": 556, "e": 556, "o": 556, "f": 278, " ": 278}
STAMP_FONT = DictionaryObject(
    {
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
        NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
    }
)


class NotIncluded(Exception):
    """A document that cannot be laid out; the message says why, for the index."""


@dataclass(frozen=True)
class Section:
    """A part of the bundle ercase writes: its heading in the index and its HTML body."""

    title: str
    body: str


@dataclass(frozen=True)
class BundleDocument:
    """A case document to lay out: its index entry, detected kind, and bytes (None: missing)."""

    title: str
    content_type: str
    content: bytes | None


@dataclass(frozen=True)
class IndexEntry:
    title: str
    first_page: int | None  # None: not included
    pages: int
    problem: str | None = None


@dataclass(frozen=True)
class Bundle:
    pdf: bytes
    index: list[IndexEntry]
    pages: int


def html_pdf(body: str, stylesheets: Sequence[str] = (), whole: str | None = None) -> bytes:
    # Imported here: WeasyPrint loads pango and its fonts, which only letters and bundles need.
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    page = whole or (
        f'<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><style>{STYLE}'
        f"</style></head><body>{body}</body></html>"
    )
    # Images come inline (data: URLs); a bundle reads nothing from the disk or the network.
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    pdf = HTML(string=page, url_fetcher=fetcher).write_pdf(
        stylesheets=[CSS(string=sheet) for sheet in stylesheets]
    )
    assert pdf is not None
    return bytes(pdf)


def _heading(title: str) -> str:
    return f"<h2>{html.escape(title)}</h2>"


def _text_pdf(title: str, content: bytes) -> bytes:
    text = content.decode("utf-8", errors="replace").removeprefix("\ufeff").replace("\f", "\n")
    return html_pdf(f"{_heading(title)}<pre>{html.escape(text)}</pre>")


def _image_pdf(title: str, content: bytes, media_type: str) -> bytes:
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise NotIncluded("the image could not be read (it is damaged)") from error
    # Inline, so WeasyPrint fetches nothing; a failure to decode is caught above, so it never
    # logs the data.
    source = f"data:{media_type};base64,{base64.b64encode(content).decode()}"
    return html_pdf(f'{_heading(title)}<img src="{source}" alt="">')


def _docx_pdf(title: str, content: bytes) -> bytes:
    try:
        docx.Document(io.BytesIO(content))
        page = letter_html(content)
    except Exception as error:  # python-docx raises many kinds on a damaged package
        raise NotIncluded("the Word document could not be read (it is damaged)") from error
    page = page.replace("<body>", f"<body>{_heading(title)}", 1)
    return html_pdf("", [NO_FOOTER], whole=page)


def _checked_pdf(content: bytes) -> bytes:
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise NotIncluded("the PDF is protected with a password")
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        out = io.BytesIO()
        writer.write(out)
    except NotIncluded:
        raise
    except Exception as error:  # pypdf raises many kinds on a damaged file
        raise NotIncluded("the PDF could not be read (it is damaged or not a PDF)") from error
    if not writer.pages:
        raise NotIncluded("the PDF has no pages")
    return out.getvalue()


def document_pdf(document: BundleDocument) -> bytes:
    """The document as PDF pages, or NotIncluded saying why it cannot be."""
    if document.content is None:
        raise NotIncluded("its stored file is missing")
    kind = document.content_type
    if kind == PDF.media_type:
        return _checked_pdf(document.content)
    if kind in (PNG.media_type, JPEG.media_type):
        return _image_pdf(document.title, document.content, kind)
    if kind == DOCX.media_type:
        return _docx_pdf(document.title, document.content)
    if kind == TEXT.media_type:
        return _text_pdf(document.title, document.content)
    raise NotIncluded(
        "ercase cannot lay this kind of file out on pages; print it to PDF and add that to the case"
    )


def _pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def _stamp(writer: PdfWriter, page: PageObject, text: str) -> None:
    """Draw `text` centred at the page's foot, over whatever the page holds.

    The page's own content is left unparsed (parsing a text-heavy page costs far more than
    laying it out): it is wrapped in q … Q, so nothing it leaves set moves the stamp, and the
    stamp is one more content stream with a font of its own."""
    if page.rotation:
        page.transfer_rotation_to_content()  # parses this page; a rotated page is rare
    box = page.cropbox
    width = sum(HELVETICA_WIDTHS.get(c, 556) for c in text) * STAMP_SIZE / 1000
    x = float(box.left) + (float(box.width) - width) / 2
    y = float(box.bottom) + STAMP_RISE
    resources = page.get(NameObject("/Resources"))
    resources = resources.get_object() if resources is not None else DictionaryObject()
    page[NameObject("/Resources")] = resources
    fonts = resources.get(NameObject("/Font"))
    fonts = fonts.get_object() if fonts is not None else DictionaryObject()
    resources[NameObject("/Font")] = fonts
    fonts[NameObject("/BundleStamp")] = STAMP_FONT
    contents = page.get(NameObject("/Contents"))
    existing = contents.get_object() if contents is not None else ArrayObject()
    streams = list(existing) if isinstance(existing, ArrayObject) else [contents]

    def stream(data: bytes) -> IndirectObject:
        added = DecodedStreamObject()
        added.set_data(data)
        return writer._add_object(added)

    stamp = f"Q q 0 g BT /BundleStamp {STAMP_SIZE} Tf {x:.2f} {y:.2f} Td ({text}) Tj ET Q"
    page[NameObject("/Contents")] = ArrayObject(
        [stream(b"q\n"), *streams, stream(b"\n" + stamp.encode())]
    )


IndexRenderer = Callable[[list[IndexEntry]], str]


def assemble(
    cover: Section,
    sections: Sequence[Section],
    documents: Sequence[BundleDocument],
    index_html: IndexRenderer,
) -> Bundle:
    """The bundle: cover, index, sections, documents, every page stamped "Page N of M"."""
    parts: list[tuple[str, bytes | None, str | None]] = [
        (section.title, html_pdf(section.body), None) for section in sections
    ]
    for document in documents:
        try:
            parts.append((document.title, document_pdf(document), None))
        except NotIncluded as refused:
            parts.append((document.title, None, str(refused)))
    counts = [_pages(pdf) if pdf is not None else 0 for _, pdf, _ in parts]
    cover_pdf = html_pdf(cover.body)
    cover_pages = _pages(cover_pdf)

    def entries(index_pages: int) -> list[IndexEntry]:
        index_at = cover_pages + 1
        listed = [
            IndexEntry(cover.title, 1, cover_pages),
            IndexEntry("Index", index_at, index_pages),
        ]
        page = index_at + index_pages
        for (title, pdf, problem), count in zip(parts, counts, strict=True):
            listed.append(IndexEntry(title, page if pdf is not None else None, count, problem))
            page += count
        return listed

    index_pages = 1
    for _ in range(4):  # the index's own length moves the numbers it prints, rarely twice
        listed = entries(index_pages)
        index_pdf = html_pdf(index_html(listed))
        if _pages(index_pdf) == index_pages:
            break
        index_pages = _pages(index_pdf)
    writer = PdfWriter()
    for pdf in (cover_pdf, index_pdf, *(pdf for _, pdf, _ in parts if pdf is not None)):
        for page in PdfReader(io.BytesIO(pdf)).pages:
            writer.add_page(page)
    total = len(writer.pages)
    for number, page in enumerate(writer.pages, start=1):
        _stamp(writer, page, f"Page {number} of {total}")
    out = io.BytesIO()
    writer.write(out)
    return Bundle(out.getvalue(), listed, total)
