"""A trust's first day, as the README's "First day" section walks it, on PostgreSQL.

From an empty database: `ercase migrate`, `ercase organisations add`, the first admin from
`ercase users add --password-stdin` (real processes, as a release pipeline runs them); then,
through the API: the ESR staff import, an advisor invited by mail who sets her password from
the link and signs in and opens a case; then she leaves — the admin deactivates her (her token
is refused at once) and hands her open cases to another advisor, who gets the case's next
reminder. The case engine is the time-skipping test server, so the reminder days away arrives
without waiting for it; the worker has the real activities and mails through a real SMTP server.
"""

import os
import re
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from policies.calendar import LONDON, add_working_days
from records.case_keys import CaseKeys
from records.database import Database
from records.esr import default_mapping
from tests.support.configuration import make_settings
from tests.support.keys import TEST_KEYS, TEST_PAYLOAD_KEY
from tests.support.smtp import SmtpServer
from tests.support.stack import API_BASE
from tests.support.waiting import eventually
from tests.web.test_web_security import Browser
from worker import build_worker

ERCASE = Path(sys.executable).parent / "ercase"
PUBLIC_URL = "https://er.east-example.nhs.uk"
ADMIN_PASSWORD = "correct horse battery staple"
ADVISOR_PASSWORD = "tulips on the ward at dawn"

pytestmark = pytest.mark.slow  # three real processes and a walk through the whole day


def ercase(database_url: str, *args: str, stdin: str = "") -> str:
    """Run `ercase ...` as its own process, as a release pipeline would; its output."""
    environment = {
        **os.environ,
        "ERCASE_DATABASE_URL": database_url,
        "ERCASE_PAYLOAD_KEY": TEST_PAYLOAD_KEY,
        "ERCASE_SECRET_KEY": "test-secret-key-of-enough-length-for-hs256",
        "ERCASE_PUBLIC_URL": PUBLIC_URL,
        "ERCASE_DEV": "false",
    }
    ran = subprocess.run(
        [str(ERCASE), *args], input=stdin, env=environment, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, f"ercase {' '.join(args)}: {ran.stderr}"
    return ran.stdout


def esr_extract() -> str:
    """Three staff, in the default ESR column mapping: Priya reports to Lena."""
    columns = default_mapping()  # {field: ESR column}
    people = [
        {"employee_id": "E1001", "name": "Priya Patel", "division": "Medicine",
         "line_manager_id": "E2001", "ethnic_group": "H Asian or Asian British - Indian"},
        {"employee_id": "E1002", "name": "Sam Jones", "division": "Surgery",
         "line_manager_id": "E2001", "ethnic_group": "A White - British"},
        {"employee_id": "E2001", "name": "Lena Line", "division": "Medicine",
         "ethnic_group": "A White - British"},
    ]  # fmt: skip
    lines = [",".join(columns.values())]
    lines += [",".join(person.get(field, "") for field in columns) for person in people]
    return "\r\n".join(lines) + "\r\n"


def link_path(smtp: SmtpServer, address: str) -> str:
    """The set-password link mailed to `address` last, as a path on this app."""
    bodies = [
        message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for to, message in smtp.messages
        if address in to and isinstance(message, EmailMessage)
    ]
    assert bodies, f"no mail to {address}"
    found = re.search(re.escape(PUBLIC_URL) + r"(/set-password/\S+)", bodies[-1])
    assert found, bodies[-1]
    return found.group(1)


def end_of_day(day: datetime) -> datetime:
    return datetime.combine(day.date(), datetime.max.time().replace(microsecond=0), tzinfo=LONDON)


async def test_a_trusts_first_day_from_an_empty_postgresql_database(
    postgres_url: str, time_skipping_env: WorkflowEnvironment, smtp_server: SmtpServer
) -> None:
    url = postgres_url.replace("+psycopg", "")
    # 1. The release pipeline: schema, the trust, its first administrator.
    ercase(url, "migrate")
    ercase(url, "organisations", "add", "RXX", "East Example NHS Trust")
    ercase(
        url, "users", "add", "ada", "--organisation", "RXX", "--role", "admin",
        "--name", "Ada Admin", "--email", "ada@east-example.nhs.uk", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert "ada" in ercase(url, "users", "list", "--organisation", "RXX")

    task_queue = f"first-day-{uuid.uuid4()}"
    settings = make_settings(
        url,
        smtp_port=smtp_server.port,
        public_url=PUBLIC_URL,
        temporal_address=time_skipping_env.client.service_client.config.target_host,
        task_queue=task_queue,
    )
    database = Database(url)
    TEST_KEYS.store = CaseKeys(database, TEST_PAYLOAD_KEY)  # the engine's client seals with them
    worker = build_worker(
        time_skipping_env.client, database, settings, task_queue,
        workflow_failure_exception_types=[Exception],
    )  # fmt: skip
    app = create_app(settings)
    try:
        async with (
            worker,
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=API_BASE) as http,
        ):
            await walk_the_day(http, time_skipping_env, smtp_server)
    finally:
        TEST_KEYS.store = None
        await database.dispose()


async def token(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    reply = await http.post("/api/auth/token", data={"username": username, "password": password})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def invite_and_set_password(
    http: httpx.AsyncClient, admin: dict[str, str], smtp: SmtpServer, username: str, name: str
) -> None:
    """The admin adds an advisor; the link arrives by mail; the advisor chooses a password."""
    address = f"{username}@east-example.nhs.uk"
    added = await http.post(
        "/api/users",
        json={"username": username, "full_name": name, "email": address, "roles": ["advisor"]},
        headers=admin,
    )
    assert added.status_code == 201, added.text

    async def mailed() -> bool:
        return any(address in to for to, _ in smtp.messages)

    await eventually(mailed, 30)
    browser = Browser(http)
    path = link_path(smtp, address)
    assert (await browser.request("GET", path)).status_code == 200
    chosen = await browser.request(
        "POST",
        path,
        data={
            "password": ADVISOR_PASSWORD,
            "confirm": ADVISOR_PASSWORD,
            "csrf_token": browser.csrf,
        },
    )
    assert chosen.status_code == 200 and "is set" in chosen.text, chosen.text
    # The link works once.
    assert (await browser.request("GET", path)).status_code == 404


async def walk_the_day(http: httpx.AsyncClient, env: WorkflowEnvironment, smtp: SmtpServer) -> None:
    ada = await token(http, "ada", ADMIN_PASSWORD)

    # 2. The staff directory from ESR: previewed, then imported.
    extract = {"file": ("staff-in-post.csv", esr_extract(), "text/csv")}
    preview = await http.post(
        "/api/staff/import", data={"dry_run": "true"}, files=extract, headers=ada
    )
    assert preview.status_code == 200 and preview.json()["added"] == 3, preview.text
    imported = await http.post("/api/staff/import", files=extract, headers=ada)
    assert imported.status_code == 200 and imported.json()["added"] == 3, imported.text

    # 3. Two advisors invited by mail; each sets a password from the link.
    await invite_and_set_password(http, ada, smtp, "amy", "Amy Advisor")
    await invite_and_set_password(http, ada, smtp, "ben", "Ben Advisor")
    amy = await token(http, "amy", ADVISOR_PASSWORD)

    # 4. Amy opens a disciplinary about Sam.
    opened = await http.post(
        "/api/cases",
        json={"case_type": "disciplinary", "employee_id": "E1002", "summary": "Timesheets"},
        headers=amy,
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    assert opened.json()["advisor"] == "amy"
    opened_at = datetime.fromisoformat(opened.json()["opened_at"])

    # 5. Amy leaves: deactivated, her token refused at once; her case handed to Ben.
    left = await http.patch("/api/users/amy", json={"active": False}, headers=ada)
    assert left.status_code == 200 and left.json()["active"] is False, left.text
    assert (await http.get("/api/me", headers=amy)).status_code == 401
    handed = await http.post("/api/users/amy/reassign", json={"to": "ben"}, headers=ada)
    assert handed.status_code == 200, handed.text
    ben = await token(http, "ben", ADVISOR_PASSWORD)
    case = await http.get(f"/api/cases/{case_id}", headers=ben)
    assert case.status_code == 200 and case.json()["advisor"] == "ben", case.text

    # 6. The next reminder goes to Ben. The disciplinary's first stage (assessment) is due at
    # the end of the 5th working day after the day of opening (disciplinary.yaml `due`),
    # England & Wales calendar (the trust's default); its first reminder 2 days before (`P2D`).
    due = end_of_day(
        datetime.combine(
            add_working_days(opened_at.astimezone(LONDON).date(), 5), datetime.min.time()
        )
    )
    first_reminder = due - timedelta(days=2)
    now = await env.get_current_time()
    await env.sleep(first_reminder - now + timedelta(minutes=1))

    def reminders_to(address: str) -> int:
        return sum(
            1
            for to, message in smtp.messages
            if address in to and message["X-Ercase-Event"] == "reminder"
        )

    async def ben_reminded() -> bool:
        return reminders_to("ben@east-example.nhs.uk") >= 1

    await eventually(ben_reminded, 30)
    assert reminders_to("amy@east-example.nhs.uk") == 0
