"""Mail: render with Jinja2, send with aiosmtplib through an outbox, at most one per recipient.

Every (case, event, recipient) — or, for digests and reports, (organisation, period,
recipient) — has one outbox row and one stable Message-ID. What that guarantees:

- A retried activity finds a row "sent" (or "folded" into a digest) and sends nothing.
- A row is marked "sending" (committed) before the SMTP transaction and "sent" right after
  the server accepts. A worker that dies inside that window leaves the row "sending"; the
  retry cannot know whether the server queued the message (SMTP has no way to ask), so it
  sends again with the same Message-ID, which mail clients and Exchange fold into one. So:
  exactly once for every failure but a crash in the milliseconds between the server's
  "250 accepted" and our commit; there, at least once with an identical Message-ID.
- A recipient the server refuses for good (5xx) is marked "undelivered" at once; while the
  server is down or answers 4xx the activity fails and Temporal retries with backoff, and the
  workflow marks what is left "undelivered" when it gives up (after 24 hours).

Mail carries the case reference, the deadline and a link, never the summary or the employee's
name: whatever is sensitive stays behind the link, where reading it is audited.
"""

import asyncio
import contextlib
import hashlib
import re
import ssl
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from enum import Enum
from typing import Any

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import (
    MARK_MAIL_UNDELIVERED,
    SEND_CASE_NOTIFICATION,
    CaseNotification,
    NotificationOutcome,
    UndeliveredMail,
)
from policies.calendar import LONDON
from records.database import Database
from records.models import Case, OutboxMessage, Staff, User, utcnow
from settings import Settings

CASE_KINDS = (
    "assigned",
    "reminder",
    "breach",
    "escalation",
    "outcome_letter_due",
    "suspension_review",
)
MAIL_KINDS = (*CASE_KINDS, "digest", "weekly_report")
# Kinds a person who chose the daily digest gets in it instead of one by one. Breaches,
# escalations and new assignments always go at once.
DIGESTIBLE = frozenset({"reminder", "outcome_letter_due", "suspension_review"})
# A reminder before these stages' deadlines gets its own wording.
REMINDER_KIND_FOR_STAGE = {
    "outcome_letter": "outcome_letter_due",
    "suspension_review": "suspension_review",
}

# How each role reads in a sentence such as "Now also told: managers and the HR director".
ROLE_WORDS = {
    "advisor": "the case advisor",
    "manager": "managers",
    "hr_director": "the HR director",
    "line_manager": "the employee's line manager",
}

MESSAGE_ID_DOMAIN = "ercase"
SMTP_TIMEOUT_SECONDS = 30
# The workflow's heartbeat timeout for mail is a few of these: a worker that dies mid-send is
# noticed, and the mail retried on another worker, within seconds instead of the full timeout.
HEARTBEAT_EVERY_SECONDS = 2.0
SUBJECT_MAX = 300  # OutboxMessage.subject

# Outbox row states. A row in a final state is never sent again.
PENDING, SENDING, SENT = "pending", "sending", "sent"
FOLDED, DIGESTED, UNDELIVERED = "folded", "digested", "undelivered"
FINAL = frozenset({SENT, FOLDED, DIGESTED, UNDELIVERED})


def format_london(moment: datetime) -> str:
    """'Friday 4 December 2026, 23:59': how a deadline reads to people in the UK."""
    local = moment.astimezone(LONDON)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M}"


def format_date(moment: datetime) -> str:
    local = moment.astimezone(LONDON)
    return f"{local:%a} {local.day} {local:%b %Y}"


_templates = Environment(
    loader=PackageLoader("activities", "templates/mail"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_templates.filters["london"] = format_london
_templates.filters["day"] = format_date


@dataclass
class RenderedMail:
    subject: str
    text: str
    html: str


def render_mail(kind: str, context: dict[str, Any]) -> RenderedMail:
    """Render `<kind>.txt` and `<kind>.html`.

    Case mail takes `case_id`, `stage` (a stage name or "whole case"), `due_at` (aware
    datetime or None), `level`, `told` (who this message goes to, in words) and `case_url`;
    the digest and the weekly report take what activities/reports.py gives them. The subject
    is set in the text template, so all the wording lives in templates.
    """
    if kind not in MAIL_KINDS:
        raise ValueError(f"unknown mail kind {kind!r}; expected one of {', '.join(MAIL_KINDS)}")
    text_module = _templates.get_template(f"{kind}.txt").make_module(context)
    # `{% set subject %}` in the text template exports it; a subject is one header line,
    # whatever the stage name holds.
    exported_subject = text_module.subject  # type: ignore[attr-defined]
    subject = " ".join(str(exported_subject).split())[:SUBJECT_MAX]
    html = _templates.get_template(f"{kind}.html").render(context, subject=subject)
    return RenderedMail(subject=subject, text=str(text_module).strip() + "\n", html=html)


def roles_in_words(roles: Iterable[str]) -> str:
    words = [ROLE_WORDS[role] for role in dict.fromkeys(roles)]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def message_id(scope: str, event_key: str, recipient: str) -> str:
    """The same Message-ID for the same (case or organisation, event, recipient), always."""

    def atom(value: str) -> str:
        # Event keys hold ':' and a Message-ID allows only dot-atoms; the digest below keeps
        # two keys that sanitise alike apart.
        return re.sub(r"[^A-Za-z0-9_-]+", ".", value).strip(".")

    digest = hashlib.sha256(f"{scope}\n{event_key}\n{recipient}".encode()).hexdigest()[:12]
    return f"<{atom(scope)}.{atom(event_key)}.{digest}@{MESSAGE_ID_DOMAIN}>"


def organisation_scope(organisation_id: int) -> str:
    """The Message-ID scope of mail about an organisation rather than one case."""
    return f"org{organisation_id}"


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
) -> EmailMessage:
    """One recipient's message: text with an HTML alternative and ercase's headers.

    Mail about one case carries X-Ercase-Case; a digest or report (scope given, no case) not.
    """
    message = EmailMessage()
    message["From"] = settings.mail_from
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


# ---- recipients ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    address: str
    digest: bool = False  # takes reminders in the daily digest instead of one by one


def _person(user: User) -> Recipient:
    return Recipient(user.email, digest=user.mail_preference == "digest")


async def _users_with_role(
    session: AsyncSession, organisation_id: int, role: str
) -> list[Recipient]:
    users = await session.scalars(
        select(User)
        .where(User.organisation_id == organisation_id, User.active.is_(True))
        .order_by(User.username)
    )
    # roles is a JSON list, which SQLite and PostgreSQL query differently: filter here.
    return [_person(user) for user in users if role in user.roles]


async def _advisor(session: AsyncSession, case: Case, username: str) -> list[Recipient]:
    user = await session.scalar(
        select(User).where(
            User.organisation_id == case.organisation_id,
            User.username == username,
            User.active.is_(True),
        )
    )
    return [_person(user)] if user is not None else []


async def _staff(session: AsyncSession, organisation_id: int, employee_id: str) -> Staff | None:
    return await session.scalar(
        select(Staff).where(
            Staff.organisation_id == organisation_id, Staff.employee_id == employee_id
        )
    )


async def _line_manager(session: AsyncSession, case: Case) -> list[Recipient]:
    employee = await _staff(session, case.organisation_id, case.employee_id)
    if employee is None or not employee.line_manager_id:
        return []
    manager = await _staff(session, case.organisation_id, employee.line_manager_id)
    # Line managers are staff, not ercase users: they have no digest, so mail goes at once.
    return [Recipient(manager.email)] if manager is not None and manager.email else []


async def resolve_recipients(
    session: AsyncSession, case: Case, roles: Iterable[str], advisor: str | None = None
) -> list[Recipient]:
    """The people in these roles for the case, within its organisation, each once.

    `advisor` is the case's advisor when the event happened; without it, the case row's.
    """
    found_by_address: dict[str, Recipient] = {}
    for role in roles:
        if role == "advisor":
            found = await _advisor(session, case, advisor or case.advisor)
        elif role == "line_manager":
            found = await _line_manager(session, case)
        elif role in ("manager", "hr_director"):
            found = await _users_with_role(session, case.organisation_id, role)
        else:
            raise ApplicationError(f"no one can be mailed for role {role!r}", non_retryable=True)
        for recipient in found:
            address = recipient.address.strip()
            if address:
                found_by_address.setdefault(address.lower(), Recipient(address, recipient.digest))
    return list(found_by_address.values())


# ---- the outbox ---------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One message to one recipient, before the outbox has seen it."""

    scope: str  # the case id, or organisation_scope(...) for digests and reports
    case_id: str | None
    event_key: str
    kind: str
    recipient: str
    mail: RenderedMail
    fold: bool = False  # held for the recipient's digest instead of sent

    @property
    def message_id(self) -> str:
        return message_id(self.scope, self.event_key, self.recipient)


class Delivery(Enum):
    SENT = "sent"  # sent by this call
    ALREADY = "already"  # sent before (or given up on before)
    FOLDED = "folded"  # held for the digest
    REFUSED = "refused"  # the server refused the recipient for good


class Outbox:
    def __init__(self, database: Database, settings: Settings):
        self.database = database
        self.settings = settings

    async def prepare(self, letters: list[Letter]) -> None:
        """Create the missing rows, all in one transaction, before anything is sent.

        Then every recipient has a row from the first attempt on, and giving up can mark each
        one undelivered — even those the failed attempts never reached.
        """
        async with self.database.transaction() as session:
            known = set(
                await session.scalars(
                    select(OutboxMessage.message_id).where(
                        OutboxMessage.message_id.in_([letter.message_id for letter in letters])
                    )
                )
            )
            for letter in letters:
                if letter.message_id in known:
                    continue
                # Two concurrent runs of one activity would collide on the unique Message-ID
                # here; the loser fails and its retry finds these rows.
                session.add(
                    OutboxMessage(
                        message_id=letter.message_id,
                        case_id=letter.case_id,
                        event_key=letter.event_key,
                        event_kind=letter.kind,
                        recipient=letter.recipient,
                        subject=letter.mail.subject,
                        status=FOLDED if letter.fold else PENDING,
                        created_at=utcnow(),
                    )
                )

    async def send(self, letter: Letter) -> Delivery:
        """Send one prepared letter unless its row says it is settled."""
        async with self.database.transaction() as session:
            row = await session.scalar(
                select(OutboxMessage).where(OutboxMessage.message_id == letter.message_id)
            )
            if row is None:
                raise RuntimeError(f"{letter.message_id} was not prepared")
            if row.status == FOLDED:
                return Delivery.FOLDED
            if row.status in FINAL:
                return Delivery.ALREADY
            if row.status == SENDING:
                activity.logger.warning(
                    "%s: an earlier attempt died mid-send; sending again with the same "
                    "Message-ID, which receivers de-duplicate",
                    letter.message_id,
                )
            row.status = SENDING
            row.attempts += 1
            row_id, created_at = row.id, row.created_at
        message = build_message(
            self.settings,
            case_id=letter.case_id,
            event_key=letter.event_key,
            kind=letter.kind,
            recipient=letter.recipient,
            mail=letter.mail,
            date=created_at,
            scope=letter.scope,
        )
        try:
            await send_message(self.settings, message)
        except aiosmtplib.SMTPRecipientsRefused as refused:
            if all(reason.code >= 500 for reason in refused.recipients):
                # No mailbox, or a policy refusal: retrying for a day changes nothing.
                await self._settle(row_id, UNDELIVERED, refused)
                return Delivery.REFUSED
            await self._settle(row_id, PENDING, refused)
            raise
        except Exception as error:
            await self._settle(row_id, PENDING, error)
            raise  # Temporal retries with backoff while SMTP is down
        await self._settle(row_id, SENT, None)
        return Delivery.SENT

    async def _settle(self, row_id: int, status: str, error: Exception | None) -> None:
        async with self.database.transaction() as session:
            row = await session.get_one(OutboxMessage, row_id)
            row.status = status
            if status == SENT:
                row.sent_at = utcnow()
            if error is not None:
                row.last_error = f"{type(error).__name__}: {error}"[:2000]


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Tell Temporal this activity is alive while the block runs (an SMTP send can be slow)."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY_SECONDS)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


def mail_kind(notification: CaseNotification) -> str:
    if notification.kind == "reminder":
        return REMINDER_KIND_FOR_STAGE.get(notification.stage_key or "", "reminder")
    return notification.kind


class NotificationActivities:
    def __init__(self, database: Database, settings: Settings):
        self.database = database
        self.settings = settings
        self.outbox = Outbox(database, settings)

    @activity.defn(name=SEND_CASE_NOTIFICATION)
    async def send_case_notification(self, notification: CaseNotification) -> NotificationOutcome:
        kind = mail_kind(notification)
        if kind not in CASE_KINDS:
            raise ApplicationError(f"unknown mail kind {kind!r}", non_retryable=True)
        async with self.database.transaction() as session:
            case = await session.get(Case, notification.case_id)
            if case is None:
                raise ApplicationError(
                    f"case {notification.case_id} does not exist", non_retryable=True
                )
            recipients = await resolve_recipients(
                session, case, notification.roles, notification.advisor
            )
        mail = render_mail(
            kind,
            {
                "case_id": case.id,
                "stage": notification.subject_stage,
                "due_at": notification.due_at,
                "level": notification.level,
                "told": roles_in_words(notification.roles),
                "case_url": f"{self.settings.public_url.rstrip('/')}/cases/{case.id}",
            },
        )
        if not recipients:
            activity.logger.warning(
                "no one to mail for %s %s (roles %s)",
                notification.case_id,
                notification.event_key,
                ", ".join(notification.roles),
            )
        letters = [
            Letter(
                scope=case.id,
                case_id=case.id,
                event_key=notification.event_key,
                kind=kind,
                recipient=recipient.address,
                mail=mail,
                fold=recipient.digest and kind in DIGESTIBLE,
            )
            for recipient in recipients
        ]
        async with heartbeating():
            await self.outbox.prepare(letters)
            results = [await self.outbox.send(letter) for letter in letters]
        return NotificationOutcome(
            recipients=[recipient.address for recipient in recipients],
            sent=results.count(Delivery.SENT),
            already_sent=results.count(Delivery.ALREADY),
            folded=results.count(Delivery.FOLDED),
            undelivered=results.count(Delivery.REFUSED),
        )

    @activity.defn(name=MARK_MAIL_UNDELIVERED)
    async def mark_mail_undelivered(self, mail: UndeliveredMail) -> int:
        """Give up on an event's unsent mail; how many of its messages are now undelivered."""
        async with self.database.transaction() as session:
            of_this_event = (
                OutboxMessage.case_id == mail.case_id,
                OutboxMessage.event_key == mail.event_key,
            )
            await session.execute(
                update(OutboxMessage)
                .where(*of_this_event, OutboxMessage.status.in_([PENDING, SENDING]))
                .values(status=UNDELIVERED)
            )
            rows = await session.scalars(
                select(OutboxMessage.id).where(*of_this_event, OutboxMessage.status == UNDELIVERED)
            )
            return len(list(rows))
