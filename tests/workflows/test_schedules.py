"""The daily digest and the weekly report: their contents (run directly in the time-skipping
server, which has no schedules), and the schedules themselves on the real dev server."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage

import pytest_asyncio
from sqlalchemy import update
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    WorkflowExecutionStatus,
)
from temporalio.testing import WorkflowEnvironment

from policies.calendar import LONDON
from policies.loader import shipped_policies
from records.database import Database
from records.models import Case, OutboxMessage, User
from schedules import bank_holidays, describe_schedules, ensure_schedules, trigger_schedule
from tests.support.configuration import make_settings
from tests.support.database import insert_case_row
from tests.support.people import add_people
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually
from worker import build_worker
from workflows.digests import DailyDigest, WeeklyReport

POLICY = shipped_policies()["disciplinary"]


@dataclass
class Trust:
    db: Database
    smtp: SmtpServer
    org_id: int
    other_org_id: int

    async def case(
        self,
        case_id: str,
        *,
        opened: datetime,
        stage_due: datetime | None = None,
        due: datetime | None = None,
        advisor: str = "alice",
        status: str = "open",
        division: str = "Medicine",
        org_id: int | None = None,
        closed: datetime | None = None,
    ) -> None:
        await insert_case_row(self.db, case_id, org_id or self.org_id, opened, POLICY)
        async with self.db.transaction() as session:
            await session.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(
                    stage_due_at=stage_due,
                    due_at=due,
                    advisor=advisor,
                    status=status,
                    division=division,
                    closed_at=closed,
                )
            )

    def mail_to(self, address: str, event: str) -> list[EmailMessage]:
        return [
            message
            for recipients, message in self.smtp.messages
            if recipients == [address] and message["X-Ercase-Event"] == event
        ]


async def trust(db: Database, smtp: SmtpServer) -> Trust:
    people = await add_people(db)
    return Trust(db, smtp, people.organisation.id, people.other_organisation.id)


def text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")  # SMTP sends CRLF lines


@pytest_asyncio.fixture
async def worker_client(
    time_skipping_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> AsyncIterator[tuple[Client, str]]:
    task_queue = f"digests-{uuid.uuid4()}"
    settings = make_settings("sqlite://", smtp_port=smtp_server.port, public_url="https://er.x")
    async with build_worker(
        time_skipping_env.client,
        sqlite_database,
        settings,
        task_queue,
        workflow_failure_exception_types=[Exception],
    ):
        yield time_skipping_env.client, task_queue


async def test_the_digest_lists_each_advisors_cases_due_this_week_overdue_first(
    worker_client: tuple[Client, str],
    time_skipping_env: WorkflowEnvironment,
    sqlite_database: Database,
    smtp_server: SmtpServer,
) -> None:
    client, task_queue = worker_client
    north = await trust(sqlite_database, smtp_server)
    now = await time_skipping_env.get_current_time()
    opened = now - timedelta(days=20)
    await north.case("DIS-A", opened=opened, stage_due=now - timedelta(days=2))
    await north.case("DIS-B", opened=opened, stage_due=now + timedelta(days=3))
    await north.case("DIS-C", opened=opened, stage_due=now + timedelta(days=10))
    await north.case("DIS-D", opened=opened, stage_due=now + timedelta(days=1), status="closed")
    await north.case("DIS-E", opened=opened, stage_due=now + timedelta(days=1), status="paused")
    await north.case("DIS-F", opened=opened, due=now + timedelta(days=1), advisor="bob")
    await north.case(
        "DIS-G", opened=opened, stage_due=now, advisor="oscar", org_id=north.other_org_id
    )
    async with sqlite_database.transaction() as session:
        session.add(
            OutboxMessage(
                message_id="<held@ercase>",
                case_id="DIS-B",
                event_key="stage0:assessment:reminder:0",
                event_kind="reminder",
                recipient="alice@north.example",
                subject="Reminder: DIS-B Pre-formal assessment due soon",
                status="folded",
                created_at=now - timedelta(hours=3),
            )
        )

    sent = await client.execute_workflow(
        DailyDigest.run, id=f"digest-{uuid.uuid4()}", task_queue=task_queue
    )

    assert sent == 3  # alice, bob, and oscar of the other trust; each only their own cases
    [alice] = north.mail_to("alice@north.example", "digest")
    body = text(alice)
    assert alice["X-Ercase-Case"] is None
    assert alice["Subject"].endswith(": 2 due, 1 overdue")
    assert body.index("DIS-A") < body.index("OVERDUE") < body.index("DIS-B")
    assert "Reminders held for this digest:\n  - Reminder: DIS-B" in body
    for absent in ("DIS-C", "DIS-D", "DIS-E", "DIS-F", "DIS-G", "Timesheets", "Priya"):
        assert absent not in alice.as_string()
    assert "https://er.x/cases/DIS-A" in body
    [bob] = north.mail_to("bob@north.example", "digest")
    assert "DIS-F" in text(bob) and "whole case by" in text(bob)
    [oscar] = north.mail_to("oscar@south.example", "digest")
    assert "DIS-G" in text(oscar) and "DIS-A" not in text(oscar)
    async with sqlite_database.sessions() as session:
        held = await session.get_one(OutboxMessage, 1)
    assert held.status == "digested"


async def test_an_advisor_with_nothing_due_gets_no_digest(
    worker_client: tuple[Client, str], sqlite_database: Database, smtp_server: SmtpServer
) -> None:
    client, task_queue = worker_client
    await trust(sqlite_database, smtp_server)

    sent = await client.execute_workflow(
        DailyDigest.run, id=f"digest-{uuid.uuid4()}", task_queue=task_queue
    )

    assert sent == 0 and smtp_server.messages == []


async def test_the_weekly_report_holds_what_a_trust_assembled_by_hand(
    worker_client: tuple[Client, str],
    time_skipping_env: WorkflowEnvironment,
    sqlite_database: Database,
    smtp_server: SmtpServer,
) -> None:
    client, task_queue = worker_client
    north = await trust(sqlite_database, smtp_server)
    now = await time_skipping_env.get_current_time()
    await north.case(
        "DIS-OLD", opened=now - timedelta(days=90), stage_due=now - timedelta(days=3, hours=2)
    )
    await north.case(
        "DIS-NEW",
        opened=now - timedelta(days=2),
        stage_due=now + timedelta(days=5),
        division="Surgery",
    )
    await north.case(
        "DIS-MID", opened=now - timedelta(days=30), due=now - timedelta(hours=5), status="paused"
    )
    await north.case(
        "DIS-DONE",
        opened=now - timedelta(days=40),
        status="closed",
        closed=now - timedelta(days=1),
    )
    await north.case(
        "DIS-SOUTH", opened=now - timedelta(days=1), stage_due=now, org_id=north.other_org_id
    )
    async with sqlite_database.transaction() as session:
        # Suspended for over five weeks, and for ten days (not yet "over 4 weeks").
        for case_id, days in (("DIS-OLD", 37), ("DIS-NEW", 10)):
            await session.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(suspended_since=now - timedelta(days=days))
            )
        # A second HR director: each gets the report.
        await session.execute(
            update(User).where(User.username == "mark").values(roles=["manager", "hr_director"])
        )

    sent = await client.execute_workflow(
        WeeklyReport.run, id=f"report-{uuid.uuid4()}", task_queue=task_queue
    )

    assert sent == 2  # hannah and mark; the other trust has no HR director
    [report] = north.mail_to("hannah@north.example", "weekly_report")
    assert len(north.mail_to("mark@north.example", "weekly_report")) == 1
    assert report["Subject"].endswith(": 3 open, 2 breached")
    body = text(report)
    assert "OPEN CASES BY TYPE AND DIVISION (3 open)\n" in body
    assert "  disciplinary / Medicine: 2\n  disciplinary / Surgery: 1\n" in body
    assert "New cases:    1\n  Closed cases: 1\n" in body
    breaches = body.split("BREACHES (2)\n")[1].split("\n\n")[0].splitlines()
    assert breaches[0].startswith("  DIS-OLD (disciplinary, Medicine): Pre-formal assessment")
    assert breaches[0].endswith(", 3 days late")
    assert breaches[1].startswith("  DIS-MID (disciplinary, Medicine): whole case")
    assert breaches[1].endswith(", 5 hours late")
    longest = body.split("LONGEST-RUNNING OPEN CASES\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in longest] == ["DIS-OLD", "DIS-MID", "DIS-NEW"]
    assert "open 90 days" in longest[0]
    assert "SUSPENSIONS OVER 4 WEEKS\n  DIS-OLD: suspended 5 weeks\n\n" in body
    assert "DIS-SOUTH" not in report.as_string() and "DIS-DONE" not in breaches


def test_bank_holidays_to_skip_are_weekday_holidays_only() -> None:
    skipped = bank_holidays(date(2026, 12, 1), timedelta(days=40))

    # Christmas Day is a Friday; Boxing Day a Saturday, so its substitute is Monday the 28th.
    assert skipped == [date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)]


async def test_schedules_are_created_once_listed_and_triggered_on_the_dev_server(
    dev_server_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> None:
    client = dev_server_env.client
    north = await trust(sqlite_database, smtp_server)
    now = await dev_server_env.get_current_time()
    await north.case("DIS-T", opened=now - timedelta(days=3), stage_due=now + timedelta(days=1))
    task_queue = f"schedules-{uuid.uuid4()}"
    settings = make_settings("sqlite://", smtp_port=smtp_server.port)
    today = now.astimezone(LONDON).date()

    await ensure_schedules(client, task_queue, today)
    await ensure_schedules(client, task_queue, today)  # a second worker start changes nothing
    try:
        states = await describe_schedules(client, task_queue)
        assert [(s.name, s.exists) for s in states] == [
            ("daily-digest", True),
            ("weekly-report", True),
            ("retention-purge", True),
        ]
        daily, weekly, purge = (
            [run.astimezone(LONDON) for run in state.next_runs] for state in states
        )
        assert all((run.hour, run.minute) == (8, 0) for run in daily + weekly + purge)
        # The purge runs every day, weekends included: the next three runs are three days.
        assert len({run.date() for run in purge}) == 3
        assert all(run.weekday() < 5 for run in daily)
        assert all(run.weekday() == 0 for run in weekly)
        spec = (await client.get_schedule_handle(states[0].schedule_id).describe()).schedule.spec
        assert spec.time_zone_name == "Europe/London"
        assert len(spec.skip) == len(bank_holidays(today)) > 10

        async with build_worker(client, sqlite_database, settings, task_queue):
            await trigger_schedule(client, task_queue, "daily-digest")

            async def digest_arrived() -> bool:
                return len(north.mail_to("alice@north.example", "digest")) == 1

            await eventually(digest_arrived, 20)
            # An operator triggers it again the same day: that run sends nothing twice. (A
            # schedule names its runs by the second, so a trigger within the same second as
            # the last run is refused as already started: wait past it.)
            await asyncio.sleep(1.1)
            await trigger_schedule(client, task_queue, "daily-digest")
            handle = client.get_schedule_handle(states[0].schedule_id)

            async def second_run_finished() -> bool:
                runs = (await handle.describe()).info.recent_actions
                if len(runs) < 2:
                    return False
                started = runs[-1].action
                assert isinstance(started, ScheduleActionExecutionStartWorkflow)
                run = client.get_workflow_handle(started.workflow_id)
                return (await run.describe()).status == WorkflowExecutionStatus.COMPLETED

            await eventually(second_run_finished, 20)
        [digest] = north.mail_to("alice@north.example", "digest")
        assert "DIS-T" in text(digest)
    finally:
        for state in await describe_schedules(client, task_queue):
            await client.get_schedule_handle(state.schedule_id).delete()
