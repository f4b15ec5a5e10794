"""Delivery when things go wrong: a worker killed mid-send, SMTP down for an hour or a day.

The crash tests kill a real process (SIGKILL: no cleanup, the SMTP connection just drops)
that is running the mail activity against the same database and a real SMTP server, then
run the activity again as Temporal's retry would. The outage tests run whole cases in the
time-skipping server, with their real activities, SQLite and aiosmtpd.
"""

import asyncio
import json
import os
import signal
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.mail import NotificationActivities
from activities.types import CaseNotification, CaseSnapshot
from policies.calendar import LONDON
from policies.schema import validate_policy
from records.database import Database
from records.models import Case, CaseEvent, OutboxMessage
from tests.support.configuration import make_settings
from tests.support.database import insert_case_row
from tests.support.keys import TEST_PAYLOAD_KEY
from tests.support.people import add_people
from tests.support.ports import free_port
from tests.support.smtp import HOST, SmtpServer
from tests.support.stack import ApiStack
from tests.support.waiting import eventually
from worker import build_worker
from workflows.cases import CaseWorkflow, DisciplinaryCase
from workflows.types import AssignRequest, CaseInput

PROJECT = Path(__file__).resolve().parents[2]
CASE_ID = "DIS-2026-0001"


async def outbox(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# ---- a worker killed mid-send ------------------------------------------------------------

# The mail activity, alone in a process, as a worker would run it; settings from ERCASE_*.
CHILD = """
import asyncio, json, sys
from datetime import datetime
from temporalio.testing import ActivityEnvironment
from activities.mail import NotificationActivities
from activities.types import CaseNotification
from records.database import Database
from settings import Settings

fields = json.loads(sys.argv[1])
fields["due_at"] = datetime.fromisoformat(fields["due_at"])
settings = Settings()
activities = NotificationActivities(Database(settings.database_url), settings)
note = CaseNotification(**fields)
asyncio.run(ActivityEnvironment().run(activities.send_case_notification, note))
"""


class HoldingRelay:
    """Records what it accepts, like a relay; holds the first client at one point until told.

    "rcpt": mid-transaction, before the message was handed over (the server has nothing).
    "data": after the server has queued the message but before it answers 250.
    """

    def __init__(self, hold_at: str):
        self.hold_at = hold_at
        self.messages: list[EmailMessage] = []
        self.reached = threading.Event()
        self.release = threading.Event()

    async def _hold(self, point: str) -> None:
        if point == self.hold_at and not self.reached.is_set():
            self.reached.set()
            await asyncio.to_thread(self.release.wait, 30)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        await self._hold("rcpt")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        await self._hold("data")
        return "250 Message accepted for delivery"


@pytest.fixture(params=["rcpt", "data"])
def holding_relay(request: pytest.FixtureRequest) -> Iterator[tuple[HoldingRelay, int]]:
    relay, port = HoldingRelay(request.param), free_port()
    controller = Controller(relay, hostname=HOST, port=port)
    controller.start()
    yield relay, port
    relay.release.set()
    controller.stop()


async def test_a_worker_killed_mid_send_leaves_one_message_per_message_id(
    sqlite_database: Database, holding_relay: tuple[HoldingRelay, int]
) -> None:
    relay, port = holding_relay
    people = await add_people(sqlite_database)
    opened = datetime(2026, 11, 27, 9, 30, tzinfo=LONDON)
    await insert_case_row(
        sqlite_database, CASE_ID, people.organisation.id, opened, _policy("P5D", ["P2D"])
    )
    note = CaseNotification(
        CASE_ID, "stage0:assessment:breach", "breach", ["advisor"], "Assessment", opened
    )
    url = str(sqlite_database.engine.url).replace("+aiosqlite", "")
    settings = make_settings(url, smtp_port=port)
    env = {
        **os.environ,
        "ERCASE_DATABASE_URL": url,
        "ERCASE_SMTP_HOST": HOST,
        "ERCASE_SMTP_PORT": str(port),
        "ERCASE_PAYLOAD_KEY": TEST_PAYLOAD_KEY,
        "ERCASE_SECRET_KEY": "test",
    }
    fields = {**vars(note), "due_at": note.due_at.isoformat() if note.due_at else None}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, json.dumps(fields), cwd=PROJECT, env=env
    )
    assert await asyncio.to_thread(relay.reached.wait, 30), "the send never reached the relay"
    os.kill(child.pid, signal.SIGKILL)
    await child.wait()
    relay.release.set()

    [row] = await outbox(sqlite_database)
    assert (row.status, row.attempts) == ("sending", 1)  # the outcome is unknown to us

    activities = NotificationActivities(sqlite_database, settings)
    retried = await ActivityEnvironment().run(activities.send_case_notification, note)
    again = await ActivityEnvironment().run(activities.send_case_notification, note)

    assert (retried.sent, again.sent, again.already_sent) == (1, 0, 1)
    [row] = await outbox(sqlite_database)
    assert (row.status, row.attempts) == ("sent", 2)
    ids = [message["Message-ID"] for message in relay.messages]
    assert set(ids) == {row.message_id}
    if relay.hold_at == "rcpt":
        # Killed before the message was handed over: the retry sends the only copy.
        assert len(ids) == 1
    else:
        # Killed after the server queued it but before its "250": no SMTP client can tell
        # this from a loss, so the retry sends again — with the same Message-ID, which mail
        # clients fold into one. This is the one window where a second copy can exist.
        assert len(ids) == 2


# A case whose stage is breached two seconds in; the breach mail goes to the advisor only.
BREACH_SOON_POLICY = validate_policy(
    {
        "case_type": "disciplinary",
        "name": "Breached at once (test)",
        "reference_prefix": "BDIS",
        "stages": [
            {
                "key": "assessment",
                "name": "Assessment",
                "due": "PT2S",
                "escalations": [{"after": "PT0S", "notify": ["advisor"]}],
                "actions": [{"key": "close", "to": "closed"}],
            }
        ],
    }
)


@pytest.mark.slow
async def test_a_whole_worker_killed_mid_send_is_replaced_and_the_mail_goes_once(
    dev_server_env: WorkflowEnvironment,
    sqlite_database: Database,
    holding_relay: tuple[HoldingRelay, int],
) -> None:
    """`ercase worker` as operators run it, SIGKILLed while its SMTP send is in flight.

    Temporal notices the silent worker by the mail activity's missing heartbeats and gives
    the send to the next worker, which finds the outbox row "sending" and sends it again.
    """
    relay, port = holding_relay
    people = await add_people(sqlite_database)
    url = str(sqlite_database.engine.url).replace("+aiosqlite", "")
    settings = make_settings(url, smtp_port=port, task_queue=f"killed-{uuid.uuid4()}")
    case_id = f"BDIS-{uuid.uuid4().hex[:6]}"
    opened_at = await dev_server_env.get_current_time()
    await insert_case_row(
        sqlite_database, case_id, people.organisation.id, opened_at, BREACH_SOON_POLICY
    )
    env = {
        **os.environ,
        "ERCASE_DATABASE_URL": url,
        "ERCASE_TEMPORAL_ADDRESS": dev_server_env.client.service_client.config.target_host,
        "ERCASE_TASK_QUEUE": settings.task_queue,
        "ERCASE_SMTP_HOST": HOST,
        "ERCASE_SMTP_PORT": str(port),
        "ERCASE_PAYLOAD_KEY": TEST_PAYLOAD_KEY,
        "ERCASE_SECRET_KEY": settings.secret_key,
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "worker",
        cwd=PROJECT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        handle = await dev_server_env.client.start_workflow(
            DisciplinaryCase.run,
            CaseInput(
                case_id,
                people.organisation.id,
                BREACH_SOON_POLICY,
                1,
                opened_at,
                "alice",
                "routine",
            ),
            id=f"case-{case_id}",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=5),
        )
        assert await asyncio.to_thread(relay.reached.wait, 60), "the send never reached the relay"
    finally:
        if worker.returncode is None:
            worker.kill()  # SIGKILL: no cleanup, the SMTP connection just drops
        await worker.wait()
    relay.release.set()

    [row] = await outbox(sqlite_database)
    assert (row.status, row.attempts) == ("sending", 1)

    async def settled() -> bool:
        [row] = await outbox(sqlite_database)
        return row.status == "sent"

    async with build_worker(dev_server_env.client, sqlite_database, settings, settings.task_queue):
        await eventually(settled, 45)
        await handle.terminate("test finished")

    [row] = await outbox(sqlite_database)
    assert row.attempts == 2
    copies = [message for message in relay.messages if message["X-Ercase-Case"] == case_id]
    assert {message["Message-ID"] for message in copies} == {row.message_id}
    assert {message["X-Ercase-Event"] for message in copies} == {"breach"}
    # As with the activity alone above: one copy, or — killed after the relay queued it but
    # before its "250" reached us — a second with the same Message-ID, which receivers fold.
    assert len(copies) == (1 if relay.hold_at == "rcpt" else 2)


# ---- whole cases while SMTP is down --------------------------------------------------------


def _policy(due: str, reminders: list[str]) -> Any:
    return validate_policy(
        {
            "case_type": "disciplinary",
            "name": "Short disciplinary (test)",
            "reference_prefix": "SDIS",
            "stages": [
                {
                    "key": "assessment",
                    "name": "Assessment",
                    "due": due,
                    "reminders": reminders,
                    "escalations": [{"after": "PT0S", "notify": ["advisor", "manager"]}],
                    "actions": [{"key": "close", "to": "closed"}],
                }
            ],
        }
    )


SHORT_POLICY = _policy("PT72H", ["PT48H"])  # a reminder one day in, the breach on day three


class Harness:
    def __init__(self, env: WorkflowEnvironment, db: Database, smtp: SmtpServer, org_id: int):
        self.env, self.db, self.smtp, self.org_id = env, db, smtp, org_id
        self.task_queue = f"notify-{uuid.uuid4()}"
        self.case_id = f"SDIS-{uuid.uuid4().hex[:6]}"

    async def open_case(self) -> WorkflowHandle[CaseWorkflow, CaseSnapshot]:
        opened_at = await self.env.get_current_time()
        await insert_case_row(self.db, self.case_id, self.org_id, opened_at, SHORT_POLICY)
        handle = await self.env.client.start_workflow(
            DisciplinaryCase.run,
            CaseInput(self.case_id, self.org_id, SHORT_POLICY, 1, opened_at, "alice", "routine"),
            id=f"case-{self.case_id}",
            task_queue=self.task_queue,
            execution_timeout=timedelta(days=30),
        )
        await eventually(self._opened, 10)
        return handle

    async def _opened(self) -> bool:
        return await self.event_kinds() == ["opened"]

    async def event_kinds(self) -> list[str]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(CaseEvent.kind)
                .where(CaseEvent.case_id == self.case_id)
                .order_by(CaseEvent.seq)
            )
            return list(rows)

    def received(self) -> list[tuple[str, str]]:
        return sorted(
            (message["X-Ercase-Event"], recipients[0])
            for recipients, message in self.smtp.messages
            if message["X-Ercase-Case"] == self.case_id
        )


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> AsyncIterator[Harness]:
    people = await add_people(sqlite_database)
    harness = Harness(time_skipping_env, sqlite_database, smtp_server, people.organisation.id)
    settings = make_settings("sqlite://", smtp_port=smtp_server.port)
    async with build_worker(
        time_skipping_env.client,
        sqlite_database,
        settings,
        harness.task_queue,
        workflow_failure_exception_types=[Exception],
    ):
        yield harness


async def test_smtp_down_for_an_hour_then_back_delivers_everything_once(harness: Harness) -> None:
    await harness.open_case()
    harness.smtp.stop()
    # Past the reminder (day one) by an hour of failed, backed-off attempts.
    await harness.env.sleep(timedelta(days=1, hours=1))
    [reminder] = await outbox(harness.db)
    assert reminder.status == "pending" and reminder.attempts > 3
    assert reminder.last_error and "SMTPConnectError" in reminder.last_error

    harness.smtp.start()
    await harness.env.sleep(timedelta(minutes=15))  # longer than the largest backoff (10 min)
    assert harness.received() == [("reminder", "alice@north.example")]
    # Then the breach, with SMTP up, to the advisor and the manager; nothing twice.
    await harness.env.sleep(timedelta(days=2))
    assert harness.received() == [
        ("breach", "alice@north.example"),
        ("breach", "mark@north.example"),
        ("reminder", "alice@north.example"),
    ]
    assert {row.status for row in await outbox(harness.db)} == {"sent"}
    assert "mail_undelivered" not in await harness.event_kinds()


async def test_after_a_day_of_smtp_down_the_case_shows_the_mail_undelivered(
    harness: Harness,
) -> None:
    await harness.open_case()
    harness.smtp.stop()
    await harness.env.sleep(timedelta(days=1, hours=1))
    assert "mail_undelivered" not in await harness.event_kinds()

    await harness.env.sleep(timedelta(hours=24))

    async with harness.db.sessions() as session:
        [event] = await session.scalars(
            select(CaseEvent).where(
                CaseEvent.case_id == harness.case_id, CaseEvent.kind == "mail_undelivered"
            )
        )
    assert event.detail == {
        "key": "stage0:assessment:reminder:0",
        "mail": "reminder",
        "undelivered": 1,
    }
    [reminder] = [row for row in await outbox(harness.db) if row.event_kind == "reminder"]
    assert reminder.status == "undelivered"
    assert harness.smtp.messages == []


async def test_a_new_advisor_is_told_of_the_assignment_but_not_who_assigned_themselves(
    harness: Harness,
) -> None:
    handle = await harness.open_case()
    await handle.execute_update(DisciplinaryCase.assign, AssignRequest("bob", "mark"))
    await handle.execute_update(DisciplinaryCase.assign, AssignRequest("alice", "alice"))

    async def bob_told() -> bool:
        return harness.received() == [("assigned", "bob@north.example")]

    await eventually(bob_told, 10)
    [(_, message)] = harness.smtp.messages
    assert message["Subject"] == f"Assigned to you: {harness.case_id} (Assessment)"
    assert await harness.event_kinds() == ["opened", "assigned", "assigned"]


# ---- the API shows undelivered mail ----------------------------------------------------------


async def test_the_api_shows_and_filters_cases_with_undelivered_mail(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    opened = []
    for _ in range(2):
        response = await api_stack.http.post(
            "/api/cases",
            headers=alice,
            json={"case_type": "disciplinary", "employee_id": "E1001", "summary": "Timesheets"},
        )
        assert response.status_code == 201, response.text
        opened.append(response.json()["id"])
    async with api_stack.database.transaction() as session:
        session.add(
            OutboxMessage(
                message_id="<x@ercase>",
                case_id=opened[0],
                event_key="stage0:assessment:escalation:0",
                event_kind="breach",
                recipient="mark@north.example",
                subject="Overdue",
                status="undelivered",
            )
        )

    flagged = (await api_stack.http.get("/api/cases?undelivered=true", headers=alice)).json()
    clear = (await api_stack.http.get("/api/cases?undelivered=false", headers=alice)).json()
    one = (await api_stack.http.get(f"/api/cases/{opened[0]}", headers=alice)).json()

    assert [(case["id"], case["undelivered"]) for case in flagged["items"]] == [(opened[0], 1)]
    assert [(case["id"], case["undelivered"]) for case in clear["items"]] == [(opened[1], 0)]
    assert one["undelivered"] == 1
    async with api_stack.database.sessions() as session:
        assert await session.get(Case, opened[0]) is not None
