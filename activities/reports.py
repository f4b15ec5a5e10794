"""The daily advisor digest and the weekly HR-director report: read-model queries, sent by mail.

Both read the database (the projection), never Temporal, and send through the outbox, keyed by
the organisation, the day and the recipient: a retried or re-triggered run for the same day
sends nothing twice.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.types import (
    LIST_DIGEST_RECIPIENTS,
    LIST_REPORT_ORGANISATIONS,
    SEND_DIGEST,
    SEND_WEEKLY_REPORT,
    DigestOutcome,
    DigestRecipient,
    DigestRequest,
    ReportRequest,
)
from mail.outbox import Delivery, Letter, Outbox, organisation_scope
from mail.render import RenderedMail, render_mail
from policies.calendar import LONDON
from records.database import Database
from records.memberships import Member, member_in, members_of
from records.models import Case, Organisation, User
from records.organisation_settings import organisation_settings
from settings import Settings

DIGEST_HORIZON = timedelta(days=7)
# Suspensions longer than this are listed in the weekly report.
LONG_SUSPENSION = timedelta(weeks=4)
LONGEST_RUNNING = 10


@dataclass
class Deadline:
    """One deadline of one case, as the digest and the report list it."""

    case_id: str
    case_type: str
    division: str
    stage: str
    what: str  # the stage's name, or "whole case"
    due_at: datetime
    url: str

    def late_by(self, as_of: datetime) -> str:
        late = as_of - self.due_at
        if late >= timedelta(days=1):
            return f"{late.days} day{'s' if late.days != 1 else ''}"
        hours = int(late.total_seconds() // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}" if hours else "under an hour"


def _deadlines(case: Case, public_url: str) -> list[Deadline]:
    found = []
    for what, due in ((case.stage_name, case.stage_due_at), ("whole case", case.due_at)):
        if due is not None:
            found.append(
                Deadline(
                    case.id,
                    case.case_type,
                    case.division or "no division",
                    case.stage_name,
                    what,
                    due,
                    f"{public_url}/cases/{case.id}",
                )
            )
    return found


def _day_key(moment: datetime) -> str:
    return moment.astimezone(LONDON).date().isoformat()


async def _active_people(
    session: AsyncSession, role: str, organisation_id: int | None = None
) -> list[Member]:
    """Those with the role and an address, in each organisation (or in the one given): a
    member of two organisations with the role in both is in each one's list."""
    if organisation_id is None:
        organisations = list(
            await session.scalars(select(Organisation.id).order_by(Organisation.id))
        )
    else:
        organisations = [organisation_id]
    # roles is a JSON list, which SQLite and PostgreSQL query differently: filter here.
    return [
        person
        for each in organisations
        for person in await members_of(session, each)
        if role in person.roles and person.user.email.strip()
    ]


class ReportActivities:
    def __init__(self, database: Database, settings: Settings):
        self.database = database
        self.settings = settings
        self.public_url = settings.public_url.rstrip("/")
        self.outbox = Outbox(database, settings, log=activity.logger)

    # ---- the daily digest -------------------------------------------------------------

    @activity.defn(name=LIST_DIGEST_RECIPIENTS)
    async def list_digest_recipients(self) -> list[DigestRecipient]:
        async with self.database.sessions() as session:
            advisors = await _active_people(session, "advisor")
        return [DigestRecipient(person.organisation_id, person.username) for person in advisors]

    @activity.defn(name=SEND_DIGEST)
    async def send_digest(self, request: DigestRequest) -> DigestOutcome:
        """One advisor's open cases due within 7 days, overdue first, and the held reminders.

        Nothing due and nothing held: no mail (an empty digest every morning teaches people
        to ignore it).
        """
        async with self.database.sessions() as session:
            person = await member_in(session, request.organisation_id, request.username)
            if person is None or not person.user.email.strip():
                return DigestOutcome(sent=0, cases=0)
            user = person.user
            cases = await session.scalars(
                select(Case).where(
                    Case.organisation_id == request.organisation_id,
                    Case.advisor == request.username,
                    Case.status == "open",
                )
            )
            horizon = request.as_of + DIGEST_HORIZON
            due = sorted(
                (
                    deadline
                    for case in cases
                    for deadline in _deadlines(case, self.public_url)
                    if deadline.due_at <= horizon
                ),
                key=lambda deadline: deadline.due_at,  # the most overdue first
            )
        held = await self.outbox.held_for_digest(request.organisation_id, user.email, request.as_of)
        if not due and not held:
            return DigestOutcome(sent=0, cases=0)
        mail = render_mail(
            "digest",
            {
                "as_of": request.as_of,
                "cases": [
                    {**vars(deadline), "breached": deadline.due_at < request.as_of}
                    for deadline in due
                ],
                "breached": sum(deadline.due_at < request.as_of for deadline in due),
                "held": [{"subject": message.subject} for message in held],
                "cases_url": f"{self.public_url}/cases?advisor={request.username}",
            },
        )
        delivery = await self._send(
            request.organisation_id, f"digest:{_day_key(request.as_of)}", "digest", user, mail
        )
        if held:
            # Only once the digest went: a digest that never arrives must not swallow them.
            await self.outbox.mark_digested(held)
        return DigestOutcome(
            sent=int(delivery == Delivery.SENT), cases=len({d.case_id for d in due})
        )

    # ---- the weekly report ------------------------------------------------------------

    @activity.defn(name=LIST_REPORT_ORGANISATIONS)
    async def list_report_organisations(self) -> list[int]:
        """Organisations with at least one HR director to send the report to."""
        async with self.database.sessions() as session:
            directors = await _active_people(session, "hr_director")
        return sorted({person.organisation_id for person in directors})

    @activity.defn(name=SEND_WEEKLY_REPORT)
    async def send_weekly_report(self, request: ReportRequest) -> DigestOutcome:
        async with self.database.sessions() as session:
            organisation = await session.get_one(Organisation, request.organisation_id)
            directors = [
                person.user
                for person in await _active_people(session, "hr_director", request.organisation_id)
            ]
            context = await self._report(session, organisation, request.as_of)
        mail = render_mail("weekly_report", context)
        event_key = f"weekly-report:{_day_key(request.as_of)}"
        sent = 0
        for director in directors:
            delivery = await self._send(
                request.organisation_id, event_key, "weekly_report", director, mail
            )
            sent += delivery == Delivery.SENT
        return DigestOutcome(sent=sent, cases=context["open_total"])

    async def _report(
        self, session: AsyncSession, organisation: Organisation, as_of: datetime
    ) -> dict[str, Any]:
        week_start = as_of - timedelta(days=7)
        in_org = Case.organisation_id == organisation.id
        not_closed = list(
            await session.scalars(select(Case).where(in_org, Case.status != "closed"))
        )
        counts: dict[tuple[str, str], int] = {}
        for case in not_closed:
            key = (case.case_type, case.division or "no division")
            counts[key] = counts.get(key, 0) + 1
        breaches = sorted(
            (
                deadline
                for case in not_closed
                for deadline in _deadlines(case, self.public_url)
                if deadline.due_at < as_of
            ),
            key=lambda deadline: deadline.due_at,
        )
        longest = sorted(not_closed, key=lambda case: case.opened_at)[:LONGEST_RUNNING]
        new = await session.scalar(
            select(func.count()).where(in_org, Case.opened_at >= week_start, Case.opened_at < as_of)
        )
        closed = await session.scalar(
            select(func.count()).where(in_org, Case.closed_at >= week_start, Case.closed_at < as_of)
        )
        return {
            "organisation": organisation.name,
            "week_start": week_start,
            "as_of": as_of,
            "open_total": len(not_closed),
            "by_type_division": [
                {"case_type": case_type, "division": division, "count": count}
                for (case_type, division), count in sorted(counts.items())
            ],
            "new_this_week": new or 0,
            "closed_this_week": closed or 0,
            "breaches": [
                {**vars(deadline), "late": deadline.late_by(as_of)} for deadline in breaches
            ],
            "longest": [
                {
                    "case_id": case.id,
                    "case_type": case.case_type,
                    "division": case.division or "no division",
                    "stage": case.stage_name,
                    "age_days": (as_of - case.opened_at).days,
                    "url": f"{self.public_url}/cases/{case.id}",
                }
                for case in longest
            ],
            "suspensions": [
                {
                    "case_id": case.id,
                    "weeks": (as_of - case.suspended_since).days // 7,
                    "url": f"{self.public_url}/cases/{case.id}",
                }
                for case in sorted(not_closed, key=lambda case: case.suspended_since or as_of)
                if case.suspended_since is not None
                and as_of - case.suspended_since > LONG_SUSPENSION
            ],
            "cases_url": f"{self.public_url}/cases",
        }

    async def _send(
        self, organisation_id: int, event_key: str, kind: str, user: User, mail: RenderedMail
    ) -> Delivery:
        async with self.database.sessions() as session:
            own = await organisation_settings(session, organisation_id, self.settings)
        letter = Letter(
            scope=organisation_scope(organisation_id),
            case_id=None,
            event_key=event_key,
            kind=kind,
            recipient=user.email.strip(),
            mail=mail,
            sender_name=own.mail_sender_name,
        )
        return await self.outbox.send_one(letter)
