"""Each advisor's private calendar feed: their open cases' deadlines as iCalendar (RFC 5545).

The URL carries a random token (users.calendar_token); replacing or clearing the token revokes
the old URL at once. Events have stable UIDs and the case's event sequence as SEQUENCE, so a
deadline that moves (a pause, a new stage) moves in Outlook or Google Calendar on its next
refresh rather than appearing twice. Like mail, an event holds the case reference, what is due
and a link — never the summary or the employee's name.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from policies.calendar import END_OF_DAY, LONDON
from records.audit import append_audit
from records.database import Database
from records.models import Case, User
from services.access import Principal, principal_of, visible_cases

TOKEN_BYTES = 32  # 43 URL-safe characters; the column holds 64
REFRESH = "PT1H"
LINE_OCTETS = 75


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def feed_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/calendar/{token}.ics"


async def feed_token(database: Database, principal: Principal, *, fresh: bool) -> str:
    """The person's feed token: a new one if `fresh` or they have none yet (the old URL stops
    working at once)."""
    async with database.transaction() as session:
        user = await _own(session, principal)
        token = None if fresh else user.calendar_token
        if token is None:
            token = await _set_token(session, user)
    assert token is not None
    return token


async def revoke_token(database: Database, principal: Principal) -> None:
    """No feed URL at all until the person asks for one again."""
    async with database.transaction() as session:
        await _set_token(session, await _own(session, principal), revoke_only=True)


async def _own(session: AsyncSession, principal: Principal) -> User:
    user = await session.scalar(select(User).where(User.username == principal.username))
    assert user is not None  # the principal was loaded from this row a moment ago
    return user


async def _set_token(session: AsyncSession, user: User, *, revoke_only: bool = False) -> str | None:
    """Give the user a fresh token (or none): the old URL stops working either way."""
    user.calendar_token = None if revoke_only else new_token()
    append_audit(
        session,
        organisation_id=user.organisation_id,
        username=user.username,
        action="calendar.revoked" if revoke_only else "calendar.token_issued",
    )
    return user.calendar_token


@dataclass
class FeedEvent:
    uid: str
    sequence: int
    summary: str
    due_at: datetime
    url: str


async def feed_for_token(
    database: Database, token: str, public_url: str, client_address: str | None
) -> str | None:
    """The feed for this token, or None if no active user holds it. Each read is audited."""
    async with database.transaction() as session:
        return await _feed(session, token, public_url, client_address)


async def _feed(
    session: AsyncSession, token: str, public_url: str, client_address: str | None
) -> str | None:
    user = await session.scalar(
        select(User).where(User.calendar_token == token, User.active.is_(True))
    )
    if user is None:
        return None
    principal = principal_of(user)
    cases = list(
        await session.scalars(
            visible_cases(principal)
            .where(Case.advisor == user.username, Case.status == "open")
            .order_by(Case.id)
        )
    )
    append_audit(
        session,
        organisation_id=user.organisation_id,
        username=user.username,
        action="calendar.feed",
        client_address=client_address,
        detail={"cases": [case.id for case in cases]},
    )
    base = public_url.rstrip("/")
    return render_feed(
        f"ercase deadlines ({user.username})",
        (event for case in cases for event in case_events(case, base)),
        datetime.now(UTC),
    )


def case_events(case: Case, public_url: str) -> list[FeedEvent]:
    """The case's stage deadline and whole-case target; paused cases are left out, since
    their deadlines move on every minute of the pause."""
    url = f"{public_url}/cases/{case.id}"
    events = []
    if case.stage_due_at is not None:
        events.append(
            FeedEvent(
                uid=f"{case.id}-stage-{case.stage_key}@ercase",
                sequence=case.last_seq,
                summary=f"{case.id}: {case.stage_name} due",
                due_at=case.stage_due_at,
                url=url,
            )
        )
    if case.due_at is not None:
        events.append(
            FeedEvent(
                uid=f"{case.id}-target@ercase",
                sequence=case.last_seq,
                summary=f"{case.id}: whole case due",
                due_at=case.due_at,
                url=url,
            )
        )
    return events


def render_feed(name: str, events: Iterable[FeedEvent], now: datetime) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//ercase//deadlines//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(name)}",
        "X-WR-TIMEZONE:Europe/London",
        f"REFRESH-INTERVAL;VALUE=DURATION:{REFRESH}",
        f"X-PUBLISHED-TTL:{REFRESH}",
    ]
    for event in events:
        local = event.due_at.astimezone(LONDON)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{_text(event.uid)}",
            f"DTSTAMP:{_utc(now)}",
            f"SEQUENCE:{event.sequence}",
        ]
        if local.time() == END_OF_DAY:
            # A day-based deadline (the end of that day): an all-day event on its day.
            lines += [
                f"DTSTART;VALUE=DATE:{local:%Y%m%d}",
                f"DTEND;VALUE=DATE:{local.date() + timedelta(days=1):%Y%m%d}",
            ]
        else:
            lines.append(f"DTSTART:{_utc(event.due_at)}")
        due_words = f"{local:%A} {local.day} {local:%B %Y, %H:%M}"
        lines += [
            f"SUMMARY:{_text(event.summary)}",
            f"DESCRIPTION:{_text(f'Due by {due_words} (UK time). Open the case: {event.url}')}",
            f"URL:{event.url}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and newlines escaped."""
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after CRLF and a space."""
    parts: list[str] = []
    current = b""
    for char in line:
        encoded = char.encode()
        limit = LINE_OCTETS if not parts else LINE_OCTETS - 1
        if len(current) + len(encoded) > limit:
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)
