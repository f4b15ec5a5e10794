"""A real SMTP server (aiosmtpd) on a free loopback port, for tests that send mail."""

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


def free_port() -> int:
    # The OS picks a free port for a socket bound to port 0; aiosmtpd's Controller cannot
    # take port=0 itself (it connects to its own port to check that it is up).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


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


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()
