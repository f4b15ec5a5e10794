"""A real SMTP server (aiosmtpd) on a free loopback port, for tests that send mail."""

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.ports import LOOPBACK

HOST = LOOPBACK


class _Recorder:
    def __init__(self, messages: list[tuple[list[str], EmailMessage]]):
        self.messages = messages

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class SmtpServer:
    """Keeps its port across stop() and start(), so a test can take SMTP down and back."""

    def __init__(self, port: int, **smtp_options: Any):
        self.host = HOST
        self.port = port
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._smtp_options = smtp_options
        self._controller: Controller | None = None

    def start(self) -> None:
        # A stopped Controller has closed its event loop, so each start needs a new one.
        self._controller = Controller(
            _Recorder(self.messages), hostname=self.host, port=self.port, **self._smtp_options
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
