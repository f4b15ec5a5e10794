"""Case mail against a real SMTP server (aiosmtpd) and real databases (SQLite and PostgreSQL)."""

import base64
import ipaddress
import re
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.mail import NotificationActivities
from activities.types import CaseNotification, NotificationOutcome, UndeliveredMail
from mail.render import render_mail
from mail.smtp import build_message, message_id, send_message
from mail_sink import list_sink_messages, start_mail_sink
from policies.calendar import LONDON
from records.cases import CaseFilters, list_page, undelivered_counts
from records.database import Database
from records.models import Case, OutboxMessage, User
from settings import Settings
from tests.support.people import add_people
from tests.support.ports import free_port
from tests.support.smtp import HOST, SmtpServer

CASE_ID = "DIS-2026-0001"
SUMMARY = "Alleged falsification of timesheets on ward 7"
EMPLOYEE_NAME = "Priya Patel"  # E1001 in the staff directory
STAGE = "Pre-formal assessment"
DUE = datetime(2026, 12, 4, 23, 59, 59, tzinfo=LONDON)
DUE_IN_WORDS = "Friday 4 December 2026, 23:59"
PUBLIC_URL = "https://ercase.north.example"
EVERY_ROLE = ["advisor", "manager", "hr_director", "line_manager"]
EVERYONE_IN_RXA = {
    "alice@north.example",
    "mark@north.example",
    "hannah@north.example",
    "lena@north.example",
}


def mail_settings(port: int, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "smtp_host": HOST,
        "smtp_port": port,
        "smtp_username": None,
        "smtp_password": None,
        "smtp_starttls": False,
        "mail_from": "ercase@north.example",
        "public_url": PUBLIC_URL,
        # Given, so that Settings does not generate keys into var/ for a test.
        "payload_key": base64.b64encode(bytes(32)).decode(),
        "secret_key": "test",
    }
    return Settings(**(options | overrides))


@pytest.fixture
def settings(smtp_server: SmtpServer) -> Settings:
    return mail_settings(smtp_server.port)


async def add_case(db: Database) -> None:
    people = await add_people(db)
    opened = datetime(2026, 11, 27, 9, 30, tzinfo=LONDON)
    async with db.transaction() as session:
        session.add(
            Case(
                id=CASE_ID,
                organisation_id=people.organisation.id,
                case_type="disciplinary",
                policy_version=1,
                employee_id="E1001",
                summary=SUMMARY,
                risk="routine",
                advisor="alice",
                division="Medicine",
                department="Cardiology",
                opened_by="alice",
                status="open",
                stage_key="assessment",
                stage_name=STAGE,
                stage_started_at=opened,
                stage_due_at=DUE,
                due_at=datetime(2026, 12, 29, 23, 59, 59, tzinfo=LONDON),
                opened_at=opened,
                actions=["refer_to_investigation", "informal_resolution"],
            )
        )


def notification(
    kind: str = "reminder",
    roles: list[str] | None = None,
    event_key: str = "stage0:assessment:reminder:0",
    stage: str = STAGE,
    level: int = 0,
) -> CaseNotification:
    return CaseNotification(
        case_id=CASE_ID,
        event_key=event_key,
        kind=kind,
        roles=roles if roles is not None else ["advisor"],
        subject_stage=stage,
        due_at=DUE,
        level=level,
    )


async def send(
    database: Database, settings: Settings, note: CaseNotification
) -> NotificationOutcome:
    activities = NotificationActivities(database, settings)
    return await ActivityEnvironment().run(activities.send_case_notification, note)


async def outbox(database: Database) -> list[OutboxMessage]:
    async with database.transaction() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


KIND_WORDING = {
    "reminder": ("Reminder: DIS-2026-0001", "will be recorded as breached"),
    "breach": ("Overdue: DIS-2026-0001", "now overdue and has been escalated"),
    "escalation": ("Escalation level 2: DIS-2026-0001", "escalated to level 2"),
}


@pytest.mark.parametrize("kind", sorted(KIND_WORDING))
async def test_each_kind_reaches_everyone_in_its_roles_and_says_what_is_due(
    database: Database, smtp_server: SmtpServer, settings: Settings, kind: str
) -> None:
    await add_case(database)
    event_key = f"stage0:assessment:{kind}:2"

    outcome = await send(
        database, settings, notification(kind, EVERY_ROLE, event_key=event_key, level=2)
    )

    assert set(outcome.recipients) == EVERYONE_IN_RXA  # never oscar, of the other trust
    assert (outcome.sent, outcome.already_sent) == (4, 0)
    assert {tuple(rcpts) for rcpts, _ in smtp_server.messages} == {
        (address,) for address in EVERYONE_IN_RXA
    }
    subject_start, consequence = KIND_WORDING[kind]
    for rcpts, message in smtp_server.messages:
        assert message["To"] == rcpts[0]
        assert message["From"] == "ercase@north.example"
        assert message["Subject"].startswith(subject_start)
        assert message["Message-ID"] == message_id(CASE_ID, event_key, rcpts[0])
        assert message["X-Ercase-Case"] == CASE_ID
        assert message["X-Ercase-Event"] == kind
        assert message["Date"] is not None
        assert message.get_content_type() == "multipart/alternative"
        for body in parts(message):
            assert STAGE in body
            assert DUE_IN_WORDS in body
            assert consequence in body
            assert f"{PUBLIC_URL}/cases/{CASE_ID}" in body
        raw = message.as_string()
        for secret in (SUMMARY, EMPLOYEE_NAME, "Priya", "E1001"):
            assert secret not in raw


async def test_each_role_is_resolved_within_the_case_organisation(
    database: Database, smtp_server: SmtpServer, settings: Settings
) -> None:
    await add_case(database)
    expected = {
        "advisor": "alice@north.example",
        "manager": "mark@north.example",
        "hr_director": "hannah@north.example",
        "line_manager": "lena@north.example",
    }
    for role, address in expected.items():
        outcome = await send(
            database, settings, notification("breach", [role], event_key=f"test:{role}")
        )
        assert outcome.recipients == [address]
    assert [rcpts for rcpts, _ in smtp_server.messages] == [[a] for a in expected.values()]


async def test_a_person_in_two_roles_is_mailed_once(
    database: Database, smtp_server: SmtpServer, settings: Settings
) -> None:
    await add_case(database)
    async with database.transaction() as session:
        case = await session.get_one(Case, CASE_ID)
        case.advisor = "mark"  # now mark is the advisor and a manager

    outcome = await send(database, settings, notification("breach", ["advisor", "manager"]))

    assert outcome.recipients == ["mark@north.example"]
    assert len(smtp_server.messages) == 1


async def test_sending_twice_sends_each_message_once(
    database: Database, smtp_server: SmtpServer, settings: Settings
) -> None:
    await add_case(database)
    note = notification("breach", ["advisor", "manager"], event_key="stage0:assessment:breach")

    first = await send(database, settings, note)
    second = await send(database, settings, note)

    assert (first.sent, first.already_sent) == (2, 0)
    assert (second.sent, second.already_sent) == (0, 2)
    assert len(smtp_server.messages) == 2
    rows = await outbox(database)
    assert [(row.recipient, row.status, row.attempts) for row in rows] == [
        ("alice@north.example", "sent", 1),
        ("mark@north.example", "sent", 1),
    ]
    assert {row.message_id for row in rows} == {
        message["Message-ID"] for _, message in smtp_server.messages
    }
    assert all(row.sent_at is not None and row.event_kind == "breach" for row in rows)


async def test_smtp_down_fails_and_records_then_a_retry_delivers_once(
    database: Database, smtp_server: SmtpServer, settings: Settings
) -> None:
    await add_case(database)
    note = notification("breach", ["advisor", "manager"], event_key="stage0:assessment:breach")
    smtp_server.stop()

    with pytest.raises(aiosmtplib.SMTPConnectError):
        await send(database, settings, note)

    # Every recipient has a row from the first attempt, so giving up can mark each of them.
    alice, mark = await outbox(database)
    assert (alice.recipient, alice.status, alice.attempts) == ("alice@north.example", "pending", 1)
    assert alice.last_error is not None and "SMTPConnectError" in alice.last_error
    assert (mark.recipient, mark.status, mark.attempts) == ("mark@north.example", "pending", 0)

    smtp_server.start()
    outcome = await send(database, settings, note)
    await send(database, settings, note)  # a retry after success sends nothing more

    assert (outcome.sent, outcome.already_sent) == (2, 0)
    assert sorted(rcpts[0] for rcpts, _ in smtp_server.messages) == [
        "alice@north.example",
        "mark@north.example",
    ]
    rows = await outbox(database)
    assert [(row.status, row.attempts) for row in rows] == [("sent", 2), ("sent", 1)]


async def test_a_hostile_stage_name_is_escaped_and_cannot_add_headers(
    database: Database, smtp_server: SmtpServer, settings: Settings
) -> None:
    await add_case(database)
    hostile = '<script>alert("x")</script> & co\r\nBcc: eve@evil.example'

    await send(database, settings, notification("reminder", ["advisor"], stage=hostile))

    [(rcpts, message)] = smtp_server.messages
    assert rcpts == ["alice@north.example"]
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "<script>" in message["Subject"]
    text, html = parts(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html
    assert '<script>alert("x")</script> & co' in text


async def test_a_missing_case_fails_without_retrying(
    database: Database, smtp_server: SmtpServer, settings: Settings
) -> None:
    with pytest.raises(ApplicationError) as failure:
        await send(database, settings, notification())
    assert failure.value.non_retryable
    assert smtp_server.messages == []


def test_message_ids_are_stable_per_case_event_and_recipient() -> None:
    first = message_id(CASE_ID, "stage0:assessment:reminder:0", "alice@north.example")

    assert first == message_id(CASE_ID, "stage0:assessment:reminder:0", "alice@north.example")
    assert re.fullmatch(
        r"<DIS-2026-0001\.stage0\.assessment\.reminder\.0\.[0-9a-f]{12}@ercase>", first
    )
    assert first != message_id(CASE_ID, "stage0:assessment:reminder:0", "mark@north.example")
    assert first != message_id(CASE_ID, "stage0:assessment:reminder:1", "alice@north.example")


def sample_context(stage: str = STAGE) -> dict[str, Any]:
    return {
        "case_id": CASE_ID,
        "stage": stage,
        "due_at": DUE,
        "level": 0,
        "told": "the case advisor",
        "case_url": f"{PUBLIC_URL}/cases/{CASE_ID}",
    }


def sample_message(settings: Settings, recipient: str = "alice@north.example") -> EmailMessage:
    return build_message(
        settings,
        case_id=CASE_ID,
        event_key="stage0:assessment:reminder:0",
        kind="reminder",
        recipient=recipient,
        mail=render_mail("reminder", sample_context()),
        date=DUE,
    )


def test_whole_case_deadlines_read_as_such() -> None:
    mail = render_mail("reminder", sample_context(stage="whole case"))

    assert mail.subject == f"Reminder: {CASE_ID} whole case due {DUE_IN_WORDS}"
    assert "What is due: whole case" in mail.text


async def test_starttls_configured_but_not_offered_sends_nothing(
    smtp_server: SmtpServer,
) -> None:
    # This server offers no STARTTLS: configured to need it, ercase must not send in clear.
    settings = mail_settings(smtp_server.port, smtp_starttls=True)

    with pytest.raises(aiosmtplib.SMTPException):
        await send_message(settings, sample_message(settings))
    assert smtp_server.messages == []


async def test_smtp_credentials_are_used() -> None:
    logins: list[LoginPassword] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        logins.append(data)
        return AuthResult(success=data == LoginPassword(b"ercase", b"s3cret"))

    # Loopback only, so the test server may accept a login without TLS.
    server = SmtpServer(free_port(), authenticator=authenticator, auth_require_tls=False)
    server.start()
    try:
        settings = mail_settings(server.port, smtp_username="ercase", smtp_password="s3cret")
        await send_message(settings, sample_message(settings))
    finally:
        server.stop()

    assert logins == [LoginPassword(b"ercase", b"s3cret")]
    assert len(server.messages) == 1


async def test_mail_sink_stores_messages_and_lists_newest_first(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    sink = start_mail_sink(HOST, free_port(), folder)
    try:
        settings = mail_settings(sink.port)
        await send_message(settings, sample_message(settings, "alice@north.example"))
        await send_message(settings, sample_message(settings, "mark@north.example"))
    finally:
        sink.stop()

    assert len(list(folder.glob("*.eml"))) == 2
    newest, oldest = list_sink_messages(folder)
    assert (newest.to, oldest.to) == ("mark@north.example", "alice@north.example")
    assert newest.file_name.endswith(".eml")
    assert newest.message_id == message_id(
        CASE_ID, "stage0:assessment:reminder:0", "mark@north.example"
    )
    assert (newest.case, newest.event) == (CASE_ID, "reminder")
    assert newest.subject is not None and newest.subject.startswith(f"Reminder: {CASE_ID}")
    assert newest.date == DUE
    assert DUE_IN_WORDS in newest.text
    assert [m.to for m in list_sink_messages(folder, limit=1)] == ["mark@north.example"]
    assert list_sink_messages(tmp_path / "nowhere") == []


# ---- every kind of case mail, preferences, refusals, giving up -------------------------

NEW_KIND_WORDING = {
    # kind sent by the workflow, its stage key → (X-Ercase-Event, subject start, consequence)
    ("assigned", None): ("assigned", "Assigned to you: DIS-2026-0001", "You are its advisor"),
    ("reminder", "outcome_letter"): (
        "outcome_letter_due",
        "Outcome letter due: DIS-2026-0001",
        "right of appeal runs from this letter",
    ),
    ("suspension_review", None): (
        "suspension_review",
        "Suspension review due: DIS-2026-0001",
        "A suspension must be reviewed",
    ),
    ("escalation", None): ("escalation", "Escalation level 1: DIS-2026-0001", "to level 1"),
}


@pytest.mark.parametrize(("kind", "stage_key"), sorted(NEW_KIND_WORDING, key=str))
async def test_assignment_outcome_letter_suspension_and_escalation_mail(
    sqlite_database: Database,
    smtp_server: SmtpServer,
    settings: Settings,
    kind: str,
    stage_key: str | None,
) -> None:
    await add_case(sqlite_database)
    note = notification(kind, ["advisor"], event_key=f"test:{kind}", level=1)
    note.stage_key = stage_key

    await send(sqlite_database, settings, note)

    event, subject_start, consequence = NEW_KIND_WORDING[(kind, stage_key)]
    [(rcpts, message)] = smtp_server.messages
    assert rcpts == ["alice@north.example"]
    assert message["X-Ercase-Event"] == event
    assert message["X-Ercase-Case"] == CASE_ID
    assert message["Subject"].startswith(subject_start)
    for body in parts(message):
        assert consequence in body and DUE_IN_WORDS in body
        assert f"{PUBLIC_URL}/cases/{CASE_ID}" in body
    for secret in (SUMMARY, EMPLOYEE_NAME, "E1001"):
        assert secret not in message.as_string()


async def test_an_assignment_to_a_stage_without_deadline_says_so(
    sqlite_database: Database, smtp_server: SmtpServer, settings: Settings
) -> None:
    await add_case(sqlite_database)
    note = notification("assigned", ["advisor"], event_key="assigned:3")
    note.due_at, note.advisor = None, "bob"  # assigned to bob, whatever the case row says

    await send(sqlite_database, settings, note)

    [(rcpts, message)] = smtp_server.messages
    assert rcpts == ["bob@north.example"]
    assert "no deadline at this stage" in parts(message)[0]


async def test_reminders_fold_into_the_digest_for_those_who_chose_it_but_breaches_do_not(
    database: Database, smtp_server: SmtpServer, settings: Settings
) -> None:
    await add_case(database)
    async with database.transaction() as session:
        alice = await session.scalar(select(User).where(User.username == "alice"))
        assert alice is not None
        alice.mail_preference = "digest"

    reminder = await send(database, settings, notification("reminder", ["advisor", "manager"]))
    again = await send(database, settings, notification("reminder", ["advisor", "manager"]))
    breach = await send(
        database, settings, notification("breach", ["advisor"], event_key="stage0:breach")
    )

    assert (reminder.sent, reminder.folded) == (1, 1)  # mark is immediate, alice is not
    assert (again.sent, again.already_sent, again.folded) == (0, 1, 1)
    assert breach.sent == 1
    assert sorted((m["X-Ercase-Event"], r[0]) for r, m in smtp_server.messages) == [
        ("breach", "alice@north.example"),
        ("reminder", "mark@north.example"),
    ]
    rows = {(row.recipient, row.event_kind): row.status for row in await outbox(database)}
    assert rows[("alice@north.example", "reminder")] == "folded"


def refusing(address: str) -> Any:
    """An aiosmtpd handler that refuses one mailbox for good (550) and records the rest."""

    class Handler:
        def __init__(self, messages: list[tuple[list[str], EmailMessage]]):
            self.messages = messages

        async def handle_RCPT(
            self, server: SMTP, session: Session, envelope: Envelope, addr: str, options: Any
        ) -> str:
            if addr == address:
                return "550 5.1.1 No such mailbox"
            envelope.rcpt_tos.append(addr)
            return "250 OK"

        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append((list(envelope.rcpt_tos), parsed))
            return "250 Message accepted for delivery"

    return Handler


async def test_a_mailbox_refused_for_good_is_undelivered_and_the_rest_still_go(
    sqlite_database: Database,
) -> None:
    await add_case(sqlite_database)
    messages: list[tuple[list[str], EmailMessage]] = []
    port = free_port()
    controller = Controller(refusing("mark@north.example")(messages), hostname=HOST, port=port)
    controller.start()
    try:
        outcome = await send(
            sqlite_database,
            mail_settings(port),
            notification("breach", ["advisor", "manager"], event_key="b"),
        )
    finally:
        controller.stop()

    assert (outcome.sent, outcome.undelivered) == (1, 1)
    assert [rcpts for rcpts, _ in messages] == [["alice@north.example"]]
    statuses = {row.recipient: row.status for row in await outbox(sqlite_database)}
    assert statuses == {"alice@north.example": "sent", "mark@north.example": "undelivered"}


async def test_giving_up_marks_every_unsent_message_of_the_event_undelivered(
    database: Database, smtp_server: SmtpServer, settings: Settings
) -> None:
    await add_case(database)
    note = notification("breach", ["advisor", "manager"], event_key="stage0:breach")
    smtp_server.stop()
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await send(database, settings, note)

    activities = NotificationActivities(database, settings)
    marked = await ActivityEnvironment().run(
        activities.mark_mail_undelivered, UndeliveredMail(CASE_ID, "stage0:breach")
    )

    assert marked == 2
    assert [row.status for row in await outbox(database)] == ["undelivered", "undelivered"]
    async with database.sessions() as session:
        assert await undelivered_counts(session, [CASE_ID, "DIS-2026-0999"]) == {CASE_ID: 2}
        page, total = await list_page(session, select(Case), CaseFilters(undelivered=True))
        assert (total, [case.id for case in page]) == (1, [CASE_ID])
        _, without = await list_page(session, select(Case), CaseFilters(undelivered=False))
        assert without == 0
    # A late retry of the send (it cannot happen after giving up, but if it did) sends nothing.
    smtp_server.start()
    assert (await send(database, settings, note)).already_sent == 2
    assert smtp_server.messages == []


# ---- STARTTLS with a login, as real relays need -----------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: the relay's, and the CA to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ercase test relay")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_relay(tmp_path: Path) -> Iterator[tuple[SmtpServer, Path, list[LoginPassword]]]:
    """An aiosmtpd relay that requires STARTTLS before anything and a login over TLS only."""
    cert_path, key_path = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    logins: list[LoginPassword] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        logins.append(data)
        return AuthResult(success=data == LoginPassword(b"ercase", b"s3cret"))

    server = SmtpServer(
        free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
        auth_required=True,
    )
    server.start()
    yield server, cert_path, logins
    server.stop()


async def test_starttls_and_login_to_a_relay_with_a_private_certificate(
    tls_relay: tuple[SmtpServer, Path, list[LoginPassword]],
) -> None:
    server, ca_file, logins = tls_relay
    settings = mail_settings(
        server.port,
        smtp_starttls=True,
        smtp_username="ercase",
        smtp_password="s3cret",
        smtp_ca_file=ca_file,
    )

    await send_message(settings, sample_message(settings))

    assert logins == [LoginPassword(b"ercase", b"s3cret")]
    [(rcpts, message)] = server.messages
    assert rcpts == ["alice@north.example"] and message["X-Ercase-Event"] == "reminder"


async def test_an_untrusted_certificate_or_no_starttls_sends_nothing(
    tls_relay: tuple[SmtpServer, Path, list[LoginPassword]],
) -> None:
    server, _, logins = tls_relay
    login = {"smtp_username": "ercase", "smtp_password": "s3cret"}
    untrusted = mail_settings(server.port, smtp_starttls=True, **login)  # system CAs only
    in_clear = mail_settings(server.port, smtp_starttls=False, **login)

    with pytest.raises(ssl.SSLCertVerificationError):
        await send_message(untrusted, sample_message(untrusted))
    with pytest.raises(aiosmtplib.SMTPException):
        await send_message(in_clear, sample_message(in_clear))
    assert server.messages == [] and logins == []


def test_the_organisations_sender_name_is_in_from() -> None:
    settings = mail_settings(1025)

    def sent_from(name: str | None) -> list[str]:
        """The From line as it goes on the wire."""
        message = build_message(
            settings,
            case_id=CASE_ID,
            event_key="stage0:assessment:reminder:0",
            kind="reminder",
            recipient="alice@north.example",
            mail=render_mail("reminder", sample_context()),
            date=DUE,
            sender_name=name,
        )
        lines = message.as_bytes().decode().splitlines()
        return [line for line in lines if line.startswith("From:")]

    address = settings.mail_from
    assert sent_from(None) == [f"From: {address}"]
    assert sent_from("North Trust HR") == [f"From: North Trust HR <{address}>"]
    # Quoted where the name holds a comma, encoded where it is not ASCII (RFC 5322, 2047).
    assert sent_from("Bwrdd Iechyd, HR") == [f'From: "Bwrdd Iechyd, HR" <{address}>']
    assert sent_from("Gwasanaeth Ŵyn") == [f"From: Gwasanaeth =?utf-8?q?=C5=B4yn?= <{address}>"]
