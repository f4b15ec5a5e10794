"""What an uploaded file really is, judged by the whole of its content — never by its name.

Case documents are opened by investigators, panels and tribunals on trust computers, so an
upload that a computer would run is refused however it is dressed (issue 22.9 found a
`payload.exe` beginning `%PDF-`, `.bat` and `.hta` files passing as text, SVG and HTML with
scripts, a `.docx` carrying an `.exe` and a `../` path, and a zip bomb):

- PDF, PNG and JPEG must end as those formats end, so nothing rides behind them; a PDF that
  runs JavaScript, launches programs or carries embedded files is refused (names inside
  compressed object streams are not seen: a limit of checking without a full PDF parser).
- Word, Excel and OpenDocument files are zip containers: every member's name must stay inside
  the container, none may be a program, a script or an embedded OLE object, macro-enabled
  types are refused, and the unpacked size is bounded (a zip bomb is refused before it is
  ever unpacked).
- Plain text may not be markup (HTML, SVG, XML) or a script, whatever its name says, and a
  name that says script or program is refused too.

The accepted file is stored and served under its detected type's extension
(`download_name`), so `payload.exe` that is really a PDF downloads as `payload.pdf`.
"""

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

ALLOWED_KINDS = (
    "PDF, PNG, JPEG, Word (.docx), Excel (.xlsx), OpenDocument text (.odt) or plain text"
)
# Names a computer runs or a browser renders with scripts: refused as a file and inside a
# container.
# fmt: off
RUNNABLE_SUFFIXES = frozenset({
    ".exe", ".dll", ".com", ".bat", ".cmd", ".msi", ".msp", ".scr", ".pif", ".cpl", ".hta",
    ".js", ".jse", ".mjs", ".vbs", ".vbe", ".wsf", ".wsh", ".ps1", ".psm1", ".psd1", ".sh",
    ".bash", ".jar", ".lnk", ".reg", ".app", ".apk", ".py", ".pl", ".php", ".html", ".htm",
    ".xhtml", ".svg", ".shtml", ".mht", ".mhtml", ".url", ".inf"
})
# fmt: on
MAX_MEMBERS = 5000
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_PACKING_RATIO = 500  # unpacked ÷ packed: office XML packs ~10-100:1; zeros deflate ~1000:1
PDF_ACTIVE_CONTENT = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia)\b")
MARKUP_START = re.compile(r"\s*<\s*(!doctype|html|svg|script|\?xml|head|body|iframe)", re.I)


@dataclass(frozen=True)
class Kind:
    media_type: str
    extension: str


PDF = Kind("application/pdf", ".pdf")
PNG = Kind("image/png", ".png")
JPEG = Kind("image/jpeg", ".jpg")
DOCX = Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx")
XLSX = Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
ODT = Kind("application/vnd.oasis.opendocument.text", ".odt")
TEXT = Kind("text/plain; charset=utf-8", ".txt")
TEXT_SUFFIXES = frozenset({".txt", ".csv", ".md", ".log", ".text", ""})


class Refused(ValueError):
    """The upload is not a document ercase keeps; the message says why, for the person."""


def document_kind(content: bytes, filename: str | None = None) -> Kind:
    """The kind the bytes really are, or Refused with a sentence saying why not."""
    suffix = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    if suffix in RUNNABLE_SUFFIXES:
        raise Refused(f"Programs, scripts and web pages ({suffix}) cannot be attached.")
    if content.startswith(b"%PDF-"):
        return _pdf(content)
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        if not content.endswith(b"IEND\xaeB`\x82"):
            raise Refused("The PNG image does not end as a PNG does; save it again and retry.")
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        if not content.rstrip(b"\x00").endswith(b"\xff\xd9"):
            raise Refused("The JPEG image does not end as a JPEG does; save it again and retry.")
        return JPEG
    if content.startswith(b"PK\x03\x04"):
        return _container(content)
    return _text(content, suffix)


def download_name(filename: str, kind: Kind) -> str:
    """The name to download under: the person's name with the detected type's extension."""
    path = PurePosixPath(filename)
    suffix = path.suffix.lower()
    same = suffix == kind.extension or (kind is JPEG and suffix == ".jpeg")
    if same or (kind is TEXT and suffix in TEXT_SUFFIXES - {""}):
        return filename
    return (path.stem if path.suffix else filename) + kind.extension


def _pdf(content: bytes) -> Kind:
    if b"%%EOF" not in content[-1024:]:
        raise Refused("The PDF does not end as a PDF does; save or print it to PDF again.")
    if found := PDF_ACTIVE_CONTENT.search(content):
        raise Refused(
            f"The PDF contains active content ({found.group(1).decode()}); print it to PDF "
            "again without scripts or attachments."
        )
    return PDF


def _container(content: bytes) -> Kind:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            _check_members(members, len(content))
            names = {member.filename for member in members}
            if "[Content_Types].xml" in names:
                types = archive.read("[Content_Types].xml")
                if b"macroEnabled" in types or any(n.endswith("vbaProject.bin") for n in names):
                    raise Refused("Documents with macros cannot be attached; save it as .docx.")
                if "word/document.xml" in names:
                    return DOCX
                if "xl/workbook.xml" in names:
                    return XLSX
            if "mimetype" in names and archive.read("mimetype").strip() == ODT.media_type.encode():
                return ODT
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, EOFError):
        raise Refused(f"This file cannot be read; upload {ALLOWED_KINDS}.") from None
    raise Refused(f"This kind of file cannot be attached; upload {ALLOWED_KINDS}.")


def _check_members(members: list[zipfile.ZipInfo], packed: int) -> None:
    if len(members) > MAX_MEMBERS:
        raise Refused("The document holds too many parts to be a real document.")
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES or unpacked > MAX_PACKING_RATIO * max(packed, 1):
        raise Refused("The document unpacks to far more than its size: it cannot be attached.")
    for member in members:
        name = member.filename
        parts = PurePosixPath(name).parts
        if name.startswith("/") or "\\" in name or ".." in parts or re.match(r"[A-Za-z]:", name):
            raise Refused(f"The document has a part named {name!r} outside it: refused.")
        if member.flag_bits & 0x1:
            raise Refused("The document has encrypted parts; save it without a password.")
        suffix = PurePosixPath(name).suffix.lower()
        if suffix in RUNNABLE_SUFFIXES or (suffix == ".bin" and "embeddings" in parts):
            raise Refused(f"The document carries a program or embedded object ({name}): refused.")


def _text(content: bytes, suffix: str) -> Kind:
    try:
        text = content.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise Refused(f"This kind of file cannot be attached; upload {ALLOWED_KINDS}.") from None
    # Tabs, line breaks and form feeds are text; other control characters mean a binary file.
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text):
        raise Refused(f"This kind of file cannot be attached; upload {ALLOWED_KINDS}.")
    if MARKUP_START.match(text):
        raise Refused("Web pages, SVG and XML cannot be attached: a browser would run them.")
    if text.startswith("#!"):
        raise Refused("Scripts cannot be attached.")
    if suffix not in TEXT_SUFFIXES:
        raise Refused(f"A {suffix} file is not plain text; upload {ALLOWED_KINDS}.")
    return TEXT
