"""Case mail: render with Jinja2, send with aiosmtplib, at least once and deduplicated.

Every (case, event, recipient) has one outbox row and one stable Message-ID, so a retried
activity finds what it already sent and does not send it again. Mail carries the case
reference, the deadline and a link, never the summary or the employee's name: whatever
is sensitive stays behind the link, where reading it is audited.
"""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import SEND_CASE_NOTIFICATION, CaseNotification, NotificationOutcome
from policies.calendar import LONDON
from records.database import Database
from records.models import Case, OutboxMessage, Staff, User, utcnow
from settings import Settings

MAIL_KINDS = ("reminder", "breach", "escalation")

# How each role reads in a sentence such as "Now also told: managers and the HR director".
ROLE_WORDS = {
    "advisor": "the case advisor",
    "manager": "managers",
    "hr_director": "the HR director",
    "line_manager": "the employee's line manager",
}

MESSAGE_ID_DOMAIN = "ercase"
SMTP_TIMEOUT_SECONDS = 30
SUBJECT_MAX = 300  # OutboxMessage.subject


def format_london(moment: datetime) -> str:
    """'Friday 4 December 2026, 23:59': how a deadline reads to people in the UK."""
    local = moment.astimezone(LONDON)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M}"


_templates = Environment(
    loader=PackageLoader("activities", "templates/mail"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_templates.filters["london"] = format_london


@dataclass
class RenderedMail:
    subject: str
    text: str
    html: str


def render_mail(kind: str, context: dict[str, Any]) -> RenderedMail:
    """Render `<kind>.txt` and `<kind>.html`.

    The context holds `case_id`, `stage` (a stage name or "whole case"), `due_at` (aware
    datetime), `level`, `told` (who this message goes to, in words) and `case_url`.
    The subject is set in the text template, so all the wording lives in templates.
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


def message_id(case_id: str, event_key: str, recipient: str) -> str:
    """The same Message-ID for the same (case, event, recipient), every time it is sent."""

    def atom(value: str) -> str:
        # Event keys hold ':' and a Message-ID allows only dot-atoms; the digest below keeps
        # two keys that sanitise alike apart.
        return re.sub(r"[^A-Za-z0-9_-]+", ".", value).strip(".")

    digest = hashlib.sha256(f"{case_id}\n{event_key}\n{recipient}".encode()).hexdigest()[:12]
    return f"<{atom(case_id)}.{atom(event_key)}.{digest}@{MESSAGE_ID_DOMAIN}>"


def build_message(
    settings: Settings,
    *,
    case_id: str,
    event_key: str,
    kind: str,
    recipient: str,
    mail: RenderedMail,
    date: datetime,
) -> EmailMessage:
    """One recipient's message: text with an HTML alternative and ercase's headers."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(case_id, event_key, recipient)
    message["X-Ercase-Case"] = case_id
    message["X-Ercase-Event"] = kind
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


async def send_message(settings: Settings, message: EmailMessage) -> None:
    # start_tls is passed as False, not left as None, so aiosmtplib does not upgrade on its
    # own when a server offers STARTTLS: the configuration alone decides.
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        use_tls=False,
        start_tls=settings.smtp_starttls,
        timeout=SMTP_TIMEOUT_SECONDS,
    )


async def _users_with_role(session: AsyncSession, organisation_id: int, role: str) -> list[str]:
    users = await session.scalars(
        select(User)
        .where(User.organisation_id == organisation_id, User.active.is_(True))
        .order_by(User.username)
    )
    # roles is a JSON list, which SQLite and PostgreSQL query differently: filter here.
    return [user.email for user in users if role in user.roles]


async def _advisor(session: AsyncSession, case: Case) -> list[str]:
    email = await session.scalar(
        select(User.email).where(
            User.organisation_id == case.organisation_id,
            User.username == case.advisor,
            User.active.is_(True),
        )
    )
    return [email] if email else []


async def _staff(session: AsyncSession, organisation_id: int, employee_id: str) -> Staff | None:
    return await session.scalar(
        select(Staff).where(
            Staff.organisation_id == organisation_id, Staff.employee_id == employee_id
        )
    )


async def _line_manager(session: AsyncSession, case: Case) -> list[str]:
    employee = await _staff(session, case.organisation_id, case.employee_id)
    if employee is None or not employee.line_manager_id:
        return []
    manager = await _staff(session, case.organisation_id, employee.line_manager_id)
    return [manager.email] if manager is not None and manager.email else []


async def resolve_recipients(session: AsyncSession, case: Case, roles: Iterable[str]) -> list[str]:
    """The addresses of the people in these roles for the case, within its organisation."""
    addresses: dict[str, str] = {}
    for role in roles:
        if role == "advisor":
            found = await _advisor(session, case)
        elif role == "line_manager":
            found = await _line_manager(session, case)
        elif role in ("manager", "hr_director"):
            found = await _users_with_role(session, case.organisation_id, role)
        else:
            raise ApplicationError(f"no one can be mailed for role {role!r}", non_retryable=True)
        for address in (found_address.strip() for found_address in found):
            if address:
                addresses.setdefault(address.lower(), address)
    return list(addresses.values())


class NotificationActivities:
    def __init__(self, database: Database, settings: Settings):
        self.database = database
        self.settings = settings

    @activity.defn(name=SEND_CASE_NOTIFICATION)
    async def send_case_notification(self, notification: CaseNotification) -> NotificationOutcome:
        if notification.kind not in MAIL_KINDS:
            raise ApplicationError(f"unknown mail kind {notification.kind!r}", non_retryable=True)
        async with self.database.transaction() as session:
            case = await session.get(Case, notification.case_id)
            if case is None:
                raise ApplicationError(
                    f"case {notification.case_id} does not exist", non_retryable=True
                )
            recipients = await resolve_recipients(session, case, notification.roles)
        mail = render_mail(
            notification.kind,
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
        sent = 0
        for recipient in recipients:
            if await self._deliver(notification, recipient, mail):
                sent += 1
        return NotificationOutcome(
            recipients=recipients, sent=sent, already_sent=len(recipients) - sent
        )

    async def _deliver(
        self, notification: CaseNotification, recipient: str, mail: RenderedMail
    ) -> bool:
        """Send to one recipient unless the outbox says it went already; True if sent now."""
        async with self.database.transaction() as session:
            row = await self._outbox_row(session, notification, recipient, mail)
            if row.status == "sent":
                return False
            # The pending row is committed before sending, so a failure has a row to record on.
            message = build_message(
                self.settings,
                case_id=notification.case_id,
                event_key=notification.event_key,
                kind=notification.kind,
                recipient=recipient,
                mail=mail,
                date=row.created_at,
            )
        try:
            await send_message(self.settings, message)
        except Exception as error:
            await self._record_attempt(row.id, error)
            raise  # Temporal retries with backoff while SMTP is down
        # A crash between sending and this commit sends again on retry (at least once);
        # the same Message-ID lets mail clients fold the duplicate away.
        await self._record_attempt(row.id, None)
        return True

    async def _outbox_row(
        self,
        session: AsyncSession,
        notification: CaseNotification,
        recipient: str,
        mail: RenderedMail,
    ) -> OutboxMessage:
        row = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.case_id == notification.case_id,
                OutboxMessage.event_key == notification.event_key,
                OutboxMessage.recipient == recipient,
            )
        )
        if row is None:
            # Two concurrent runs of one activity would collide on the unique constraint
            # here; the loser fails and its retry finds this row.
            row = OutboxMessage(
                message_id=message_id(notification.case_id, notification.event_key, recipient),
                case_id=notification.case_id,
                event_key=notification.event_key,
                event_kind=notification.kind,
                recipient=recipient,
                subject=mail.subject,
                created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
        return row

    async def _record_attempt(self, row_id: int, error: Exception | None) -> None:
        async with self.database.transaction() as session:
            row = await session.get_one(OutboxMessage, row_id)
            row.attempts += 1
            if error is None:
                row.status = "sent"
                row.sent_at = utcnow()
            else:
                row.last_error = f"{type(error).__name__}: {error}"
