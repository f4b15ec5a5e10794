"""The message on the wire — headers and a stable Message-ID — and the SMTP transaction."""

import hashlib
import re
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from mail.render import RenderedMail
from settings import Settings

MESSAGE_ID_DOMAIN = "ercase"
SMTP_TIMEOUT_SECONDS = 30


def message_id(scope: str, event_key: str, recipient: str) -> str:
    """The same Message-ID for the same (case or organisation, event, recipient), always."""

    def atom(value: str) -> str:
        # Event keys hold ':' and a Message-ID allows only dot-atoms; the digest below keeps
        # two keys that sanitise alike apart.
        return re.sub(r"[^A-Za-z0-9_-]+", ".", value).strip(".")

    digest = hashlib.sha256(f"{scope}\n{event_key}\n{recipient}".encode()).hexdigest()[:12]
    return f"<{atom(scope)}.{atom(event_key)}.{digest}@{MESSAGE_ID_DOMAIN}>"


def build_message(
    settings: Settings,
    *,
    case_id: str | None,
    event_key: str,
    kind: str,
    recipient: str,
    mail: RenderedMail,
    date: datetime,
    scope: str | None = None,
    sender_name: str | None = None,
) -> EmailMessage:
    """One recipient's message: text with an HTML alternative and ercase's headers.

    Mail about one case carries X-Ercase-Case; a digest or report (scope given, no case) not.
    From is the organisation's sender name, if it has one, with the configured address.
    """
    message = EmailMessage()
    message["From"] = (
        formataddr((sender_name, settings.mail_from)) if sender_name else settings.mail_from
    )
    message["To"] = recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(scope or case_id or "", event_key, recipient)
    if case_id is not None:
        message["X-Ercase-Case"] = case_id
    message["X-Ercase-Event"] = kind
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    # A relay inside a trust often has a certificate from the trust's own authority.
    if settings.smtp_ca_file is None:
        return None
    return ssl.create_default_context(cafile=str(settings.smtp_ca_file))


async def send_message(settings: Settings, message: EmailMessage) -> None:
    # start_tls is passed as False, not left as None, so aiosmtplib does not upgrade on its
    # own when a server offers STARTTLS: the configuration alone decides. With STARTTLS the
    # certificate is verified; a login is never sent over a connection that was not upgraded
    # when STARTTLS is configured (aiosmtplib fails before AUTH).
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        use_tls=False,
        start_tls=settings.smtp_starttls,
        tls_context=_tls_context(settings),
        timeout=SMTP_TIMEOUT_SECONDS,
    )
