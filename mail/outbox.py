"""The outbox: one row and one stable Message-ID per message, so a retry never sends twice.

Every (case, event, recipient) — or, for digests and reports, (organisation, period,
recipient) — has one outbox row. What that guarantees:

- A retried send finds a row "sent" (or "folded" into a digest) and sends nothing.
- A row is marked "sending" (committed) before the SMTP transaction and "sent" right after
  the server accepts. A worker that dies inside that window leaves the row "sending"; the
  retry cannot know whether the server queued the message (SMTP has no way to ask), so it
  sends again with the same Message-ID, which mail clients and Exchange fold into one. So:
  exactly once for every failure but a crash in the milliseconds between the server's
  "250 accepted" and our commit; there, at least once with an identical Message-ID.
- A recipient the server refuses for good (5xx) is marked "undelivered" at once; while the
  server is down or answers 4xx the send raises, so that the caller retries with backoff, and
  `give_up` marks what is left "undelivered" when the caller stops retrying.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import aiosmtplib
from sqlalchemy import select, update

from mail.render import RenderedMail
from mail.smtp import build_message, message_id, send_message
from records.database import Database
from records.models import Case, OutboxMessage, utcnow
from settings import Settings

# Outbox row states. A row in a final state is never sent again.
PENDING, SENDING, SENT = "pending", "sending", "sent"
FOLDED, DIGESTED, UNDELIVERED = "folded", "digested", "undelivered"
FINAL = frozenset({SENT, FOLDED, DIGESTED, UNDELIVERED})


def organisation_scope(organisation_id: int) -> str:
    """The Message-ID scope of mail about an organisation rather than one case."""
    return f"org{organisation_id}"


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
    sender_name: str | None = None  # the organisation's, shown in From

    @property
    def message_id(self) -> str:
        return message_id(self.scope, self.event_key, self.recipient)


@dataclass(frozen=True)
class HeldMail:
    """A message folded into a recipient's digest, waiting for it."""

    row_id: int
    subject: str


class Delivery(Enum):
    SENT = "sent"  # sent by this call
    ALREADY = "already"  # sent before (or given up on before)
    FOLDED = "folded"  # held for the digest
    REFUSED = "refused"  # the server refused the recipient for good


class Outbox:
    """`log` is where a resend after a crash is reported: an activity passes its own logger,
    so the line carries which activity and workflow it was."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    ):
        self.database = database
        self.settings = settings
        self.log = log or logging.getLogger(__name__)

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
        """Send one prepared letter unless its row says it is settled.

        Raises while the server is down or refuses for now (4xx): the caller retries.
        """
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
                self.log.warning(
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
            sender_name=letter.sender_name,
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
            raise  # the caller retries with backoff while SMTP is down
        await self._settle(row_id, SENT, None)
        return Delivery.SENT

    async def send_one(self, letter: Letter) -> Delivery:
        """Prepare and send a single letter (a digest or a report to one person)."""
        await self.prepare([letter])
        return await self.send(letter)

    async def give_up(self, case_id: str, event_key: str) -> int:
        """Mark an event's unsent mail undelivered; how many of its messages now are."""
        async with self.database.transaction() as session:
            of_this_event = (
                OutboxMessage.case_id == case_id,
                OutboxMessage.event_key == event_key,
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

    async def held_for_digest(
        self, organisation_id: int, recipient: str, as_of: datetime
    ) -> list[HeldMail]:
        """The case mail folded for this recipient's digest by `as_of`, oldest first."""
        async with self.database.sessions() as session:
            rows = await session.execute(
                select(OutboxMessage.id, OutboxMessage.subject)
                .join(Case, Case.id == OutboxMessage.case_id)
                .where(
                    Case.organisation_id == organisation_id,
                    OutboxMessage.recipient == recipient,
                    OutboxMessage.status == FOLDED,
                    OutboxMessage.created_at <= as_of,
                )
                .order_by(OutboxMessage.created_at)
            )
            return [HeldMail(row_id, subject) for row_id, subject in rows]

    async def mark_digested(self, held: list[HeldMail]) -> None:
        """Held mail has gone out in a digest: call only once the digest was sent, so that a
        digest that never arrives does not swallow it."""
        async with self.database.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_([mail.row_id for mail in held]),
                    OutboxMessage.status == FOLDED,
                )
                .values(status=DIGESTED)
            )

    async def _settle(self, row_id: int, status: str, error: Exception | None) -> None:
        async with self.database.transaction() as session:
            row = await session.get_one(OutboxMessage, row_id)
            row.status = status
            if status == SENT:
                row.sent_at = utcnow()
            if error is not None:
                row.last_error = f"{type(error).__name__}: {error}"[:2000]
