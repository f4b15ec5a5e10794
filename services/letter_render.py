"""Filling a DOCX letter template, and the letter as text and as PDF.

The template is a Word document with Jinja placeholders (`{{ employee_name }}`), filled by
docxtpl. A placeholder the case cannot fill is never printed as blank or as a raw tag: the
letter is rendered once with an `Undefined` that notes every name printed without a value,
and those names refuse the letter. A name only tested (`{% if warning_expiry %}`) is not
missing: the template chose to leave that sentence out.

The PDF is the filled DOCX written out as HTML (paragraph styles, bold and italic runs, line
breaks, tables) and laid out by WeasyPrint: pure Python over pango, offline, no office suite
on the machine (docs/letters.md, "Why WeasyPrint").
"""

import html
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docx
from docx.document import Document as DocxDocument
from docx.table import Table
from docx.text.paragraph import Paragraph
from docxtpl import DocxTemplate, Listing
from jinja2 import Environment, TemplateError, TemplateSyntaxError, Undefined

from services.errors import Invalid


class _Noted(Undefined):
    """An unfilled name: printing it notes it (the letter is then refused); testing it is False."""

    missing: set[str]

    def __str__(self) -> str:
        name = self._undefined_name
        if name is not None:
            self.missing.add(name)
        return f"[{name}]"

    def __iter__(self) -> Iterator[Any]:
        return iter(())


@dataclass(frozen=True)
class FilledLetter:
    docx: bytes
    missing: list[str]


def _environment(missing: set[str]) -> Environment:
    noted = type("Noted", (_Noted,), {"missing": missing})
    # Autoescaped: a value with '<' or '&' is text in the letter, never Word markup.
    return Environment(undefined=noted, autoescape=True)


def letter_value(value: str) -> str | Listing:
    """Text for a placeholder: several lines stay several lines in Word."""
    return Listing(value) if "\n" in value else value


def fill(template: bytes, values: dict[str, Any], name: str) -> FilledLetter:
    """The template filled from `values`, with the names it printed that had none."""
    missing: set[str] = set()
    try:
        document = DocxTemplate(io.BytesIO(template))
        document.render(values, _environment(missing), autoescape=True)
        out = io.BytesIO()
        document.save(out)
    except TemplateSyntaxError as error:
        raise Invalid(
            f"The letter template '{name}' cannot be used: {error.message} (in the text near "
            f"placeholder line {error.lineno}); correct it in Word and publish it again."
        ) from None
    except TemplateError as error:
        raise Invalid(
            f"The letter template '{name}' cannot be used: {error.message or error}; "
            "correct the placeholder in Word and publish it again."
        ) from None
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise Invalid(
            f"The letter template '{name}' is not a Word document (.docx) that can be read."
        ) from None
    return FilledLetter(out.getvalue(), sorted(missing))


def _blocks(document: DocxDocument) -> Iterator[Paragraph | Table]:
    """Paragraphs and tables in the order they stand in the body."""
    for child in document.element.body.iterchildren():
        if child.tag.endswith("}p"):
            yield Paragraph(child, document)
        elif child.tag.endswith("}tbl"):
            yield Table(child, document)


def letter_text(filled: bytes) -> str:
    """The letter's words, paragraph by paragraph (the preview, and what tests read)."""
    lines: list[str] = []
    for block in _blocks(docx.Document(io.BytesIO(filled))):
        if isinstance(block, Paragraph):
            lines.append(block.text)
        else:
            lines += [" | ".join(cell.text for cell in row.cells) for row in block.rows]
    return "\n".join(lines).strip() + "\n"


_TAGS = {"Title": "h1", "Heading 1": "h1", "Heading 2": "h2", "Heading 3": "h3"}
_ALIGN = {1: "center", 2: "right", 3: "justify"}
_STYLE = """
@page { size: A4; margin: 25mm 22mm; @bottom-center { content: counter(page) " of "
  counter(pages); font-size: 8pt; color: #555; } }
body { font-family: "Liberation Sans", "DejaVu Sans", sans-serif; font-size: 11pt;
  line-height: 1.35; }
h1 { font-size: 15pt; margin: 0 0 10pt; } h2 { font-size: 12.5pt; margin: 12pt 0 6pt; }
h3 { font-size: 11pt; margin: 10pt 0 4pt; }
p { margin: 0 0 7pt; } table { border-collapse: collapse; margin: 4pt 0 10pt; }
td { border: 0.5pt solid #888; padding: 3pt 6pt; vertical-align: top; }
"""


def _runs_html(paragraph: Paragraph) -> str:
    parts = []
    for run in paragraph.runs:
        text = html.escape(run.text).replace("\n", "<br>")
        if run.bold:
            text = f"<strong>{text}</strong>"
        if run.italic:
            text = f"<em>{text}</em>"
        parts.append(text)
    return "".join(parts)


def _paragraph_html(paragraph: Paragraph) -> str:
    style = paragraph.style.name if paragraph.style is not None else ""
    tag = _TAGS.get(style or "", "p")
    align = _ALIGN.get(int(paragraph.alignment)) if paragraph.alignment is not None else None
    attribute = f' style="text-align: {align}"' if align else ""
    content = _runs_html(paragraph) or "&nbsp;"
    if style == "List Bullet":
        return f"<ul><li>{content}</li></ul>"
    return f"<{tag}{attribute}>{content}</{tag}>"


def letter_html(filled: bytes) -> str:
    body = []
    for block in _blocks(docx.Document(io.BytesIO(filled))):
        if isinstance(block, Paragraph):
            body.append(_paragraph_html(block))
        else:
            rows = "".join(
                "<tr>"
                + "".join(
                    f"<td>{'<br>'.join(_runs_html(p) for p in cell.paragraphs)}</td>"
                    for cell in row.cells
                )
                + "</tr>"
                for row in block.rows
            )
            body.append(f"<table>{rows}</table>")
    return (
        f'<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><style>{_STYLE}'
        f"</style></head><body>{''.join(body)}</body></html>"
    )


def letter_pdf(filled: bytes) -> bytes:
    # Imported here: WeasyPrint loads pango and its fonts, which only letters need.
    from weasyprint import HTML

    pdf = HTML(string=letter_html(filled)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
