"""The development SMTP sink that `ercase up` runs: it keeps mail instead of delivering it.

Each message received is written as one .eml file; the dev-only web page lists them,
newest first, so people trying ercase can see the reminders and escalations it sends.
"""

import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

DEFAULT_MAIL_FOLDER = Path("var/mail")


class FolderHandler:
    """An aiosmtpd handler that stores each message as `<nanoseconds>-<random>.eml`."""

    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        # Zero-padded nanoseconds make name order arrival order; the random part keeps two
        # messages in the same instant apart.
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        # Written aside and renamed, so the web page never reads half a message.
        partial = self.folder / f".{name}.part"
        partial.write_bytes(content)
        os.replace(partial, self.folder / name)
        return "250 Message accepted for delivery"


def start_mail_sink(host: str, port: int, folder: Path = DEFAULT_MAIL_FOLDER) -> Controller:
    """Start the sink in its own thread; call `.stop()` on the result to end it."""
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(FolderHandler(folder), hostname=host, port=port)
    controller.start()
    return controller


@dataclass
class SinkMessage:
    file_name: str
    message_id: str | None
    to: str | None
    subject: str | None
    date: datetime | None
    event: str | None
    case: str | None
    text: str


def _text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def _date(message: EmailMessage) -> datetime | None:
    header = message["Date"]
    # policy.default parses Date into a header object that carries the datetime.
    return getattr(header, "datetime", None) if header is not None else None


def read_sink_message(path: Path) -> SinkMessage:
    with path.open("rb") as file:
        message = BytesParser(policy=policy.default).parse(file)
    assert isinstance(message, EmailMessage)  # policy.default always builds EmailMessage

    def header(name: str) -> str | None:
        value = message[name]
        # A long header is folded onto the next line; its value then starts with whitespace.
        return str(value).strip() if value is not None else None

    return SinkMessage(
        file_name=path.name,
        message_id=header("Message-ID"),
        to=header("To"),
        subject=header("Subject"),
        date=_date(message),
        event=header("X-Ercase-Event"),
        case=header("X-Ercase-Case"),
        text=_text_body(message),
    )


def list_sink_messages(folder: Path = DEFAULT_MAIL_FOLDER, limit: int = 100) -> list[SinkMessage]:
    """The newest `limit` messages in the sink's folder, newest first."""
    if not folder.is_dir():
        return []
    newest = sorted(folder.glob("*.eml"), reverse=True)[:limit]
    return [read_sink_message(path) for path in newest]
