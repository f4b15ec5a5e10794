"""A leaver's cases handed over: after the admin deactivates the advisor and reassigns their
open cases (services/case_handover.py, through the case's own assignment step), the case's next
reminder goes to the new advisor and never to the leaver — in the time-skipping server with the
real activities, SQLite and SMTP (the harness the reminder tests use)."""

from datetime import datetime, timedelta

from sqlalchemy import select
from temporalio.client import Client

from policies.calendar import LONDON, add_working_days
from records.models import AuditEntry, Organisation, User
from records.people import create_user
from services.access import principal_of
from services.case_context import CaseContext
from services.case_handover import CaseHandover
from services.organisation_accounts import AccountChanges, OrganisationAccounts
from tests.support.configuration import make_settings
from tests.support.harness import Harness, at_instants
from tests.support.people import DEMO_HASH
from workflows.cases import DisciplinaryCase


def assessment_due(opened_at: datetime) -> datetime:
    # The disciplinary policy's assessment stage: 5 working days after the day of opening, at
    # the end of that day in London (policies/definitions/disciplinary.yaml, `due`).
    day = add_working_days(opened_at.astimezone(LONDON).date(), 5)
    return datetime.combine(day, datetime.max.time().replace(microsecond=0), tzinfo=LONDON)


async def test_after_a_handover_the_next_reminder_goes_to_the_new_advisor(
    harness: Harness,
) -> None:
    async with harness.db.transaction() as session:
        organisation = await session.get_one(Organisation, harness.org_id)
        adam = await create_user(
            session, organisation, "adam", DEMO_HASH, ["admin"], "Adam", "a@n.ex"
        )
        admin = principal_of(adam)
    handle, opened_at = await harness.open_case()
    due = assessment_due(opened_at)
    settings = make_settings("sqlite://", smtp_port=harness.smtp.port)

    await OrganisationAccounts(harness.db, settings, admin).update(
        "alice", AccountChanges(active=False)
    )

    async def client() -> Client:
        return harness.env.client

    context = CaseContext(harness.db, client, harness.task_queue, admin)
    handed = await CaseHandover(context).reassign_all("alice", "bob")
    assert (handed.to, handed.cases, handed.hidden) == ("bob", [harness.case_id], 0)
    assert (await handle.query(DisciplinaryCase.state)).advisor == "bob"

    # The reminders before the assessment deadline: 2 days and 1 day before it (the policy's
    # `reminders: [P2D, P1D]`).
    await harness.env.sleep(due - opened_at - timedelta(hours=1))

    reminders = await harness.events("reminder")
    assert at_instants(
        [event.at for event in reminders], [due - timedelta(days=2), due - timedelta(days=1)]
    )
    assert harness.mail_to("reminder") == ["bob@north.example", "bob@north.example"]
    assert harness.mail_to("assigned") == ["bob@north.example"]
    assert "alice@north.example" not in [to for tos, _ in harness.smtp.messages for to in tos]
    assert [event.actor for event in await harness.events("assigned")] == ["adam"]
    async with harness.db.sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.in_(["case.assign", "user.cases_reassigned"]))
                .order_by(AuditEntry.id)
            )
        )
        alice = await session.scalar(select(User).where(User.username == "alice"))
    assert [(row.action, row.username, row.case_id) for row in rows] == [
        ("case.assign", "adam", harness.case_id),
        ("user.cases_reassigned", "adam", None),
    ]
    assert rows[1].detail == {"account": "alice", "to": "bob", "cases": [harness.case_id]}
    assert alice is not None and not alice.active  # deactivated, not deleted
