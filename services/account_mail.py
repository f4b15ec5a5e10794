"""The set-password link by mail: to a new account, again when an admin resends it, and when
someone uses "Forgot password?". The link travels in the body only: the outbox row keeps the
subject, so nothing stored opens the account."""

import logging
from dataclasses import dataclass
from datetime import datetime

import aiosmtplib

from mail.outbox import Delivery, Letter, Outbox, organisation_scope
from mail.render import render_mail
from records.database import Database
from records.models import User
from services.user_admin import IssuedLink
from settings import Settings

log = logging.getLogger(__name__)

INVITE, RESET = "account_invite", "password_reset"


@dataclass(frozen=True)
class LinkMail:
    """One link to one person, rendered once it is sent (after its link's transaction)."""

    organisation_id: int
    kind: str  # INVITE or RESET
    link_id: int
    recipient: str
    full_name: str
    username: str
    organisation: str
    link: str
    expires_at: datetime


@dataclass(frozen=True)
class MailResult:
    sent_to: str
    delivered: bool
    detail: str  # a sentence for whoever asked for the link


def link_mail(kind: str, user: User, organisation: str, link: IssuedLink) -> LinkMail:
    return LinkMail(
        organisation_id=user.organisation_id,
        kind=kind,
        link_id=link.link_id,
        recipient=user.email,
        full_name=user.full_name,
        username=user.username,
        organisation=organisation,
        link=link.url,
        expires_at=link.expires_at,
    )


async def send_link_mail(database: Database, settings: Settings, mail: LinkMail) -> MailResult:
    """Send it now through the outbox (one Message-ID per link); an SMTP failure is answered,
    not raised: the link stays valid and an admin can send a new one."""
    context = {
        "full_name": mail.full_name,
        "username": mail.username,
        "organisation": mail.organisation,
        "link": mail.link,
        "expires_at": mail.expires_at,
    }
    letter = Letter(
        scope=organisation_scope(mail.organisation_id),
        case_id=None,
        event_key=f"{mail.kind}:{mail.link_id}",
        kind=mail.kind,
        recipient=mail.recipient,
        mail=render_mail(mail.kind, context),
    )
    try:
        delivery = await Outbox(database, settings, log).send_one(letter)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        # The error names the relay, never the person.
        log.warning("set-password mail %s not sent: %s", letter.message_id, error)
        return MailResult(
            mail.recipient,
            False,
            f"The mail to {mail.recipient} could not be sent (the mail server did not answer or "
            "refused it for now); send the link again later.",
        )
    if delivery is Delivery.REFUSED:
        return MailResult(
            mail.recipient,
            False,
            f"The mail server refused the address {mail.recipient}; correct the address and "
            "send the link again.",
        )
    return MailResult(mail.recipient, True, f"A set-password link was sent to {mail.recipient}.")
