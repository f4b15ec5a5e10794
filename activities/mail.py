"""Case mail as Temporal activities, over the `mail` package (render, recipients, outbox).

Temporal adds what the package leaves to its caller: retries with backoff while SMTP is down
(the workflow gives up after 24 hours and marks what is left undelivered), heartbeats during
a slow send, and non-retryable failures for what no retry can fix.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.types import (
    MARK_MAIL_UNDELIVERED,
    SEND_CASE_NOTIFICATION,
    CaseNotification,
    NotificationOutcome,
    UndeliveredMail,
)
from mail.outbox import Delivery, Letter, Outbox
from mail.recipients import UnknownRole, resolve_recipients, roles_in_words
from mail.render import CASE_KINDS, case_mail_kind, render_mail
from records.database import Database
from records.models import Case
from records.organisation_settings import organisation_settings
from settings import Settings

# The workflow's heartbeat timeout for mail is a few of these: a worker that dies mid-send is
# noticed, and the mail retried on another worker, within seconds instead of the full timeout.
HEARTBEAT_EVERY_SECONDS = 2.0


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


class NotificationActivities:
    def __init__(self, database: Database, settings: Settings):
        self.database = database
        self.settings = settings
        self.outbox = Outbox(database, settings, log=activity.logger)

    @activity.defn(name=SEND_CASE_NOTIFICATION)
    async def send_case_notification(self, notification: CaseNotification) -> NotificationOutcome:
        kind = case_mail_kind(notification.kind, notification.stage_key)
        if kind not in CASE_KINDS:
            raise ApplicationError(f"unknown mail kind {kind!r}", non_retryable=True)
        async with self.database.transaction() as session:
            case = await session.get(Case, notification.case_id)
            if case is None:
                raise ApplicationError(
                    f"case {notification.case_id} does not exist", non_retryable=True
                )
            try:
                recipients = await resolve_recipients(
                    session, case, notification.roles, notification.advisor
                )
            except UnknownRole as error:
                raise ApplicationError(str(error), non_retryable=True) from error
            own = await organisation_settings(session, case.organisation_id, self.settings)
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
                fold=recipient.folds(kind),
                sender_name=own.mail_sender_name,
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
        return await self.outbox.give_up(mail.case_id, mail.event_key)
