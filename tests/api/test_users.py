"""An organisation's accounts through the API, on SQLite and PostgreSQL: adding one mails a
single-use set-password link (the admin never sees it), changes are checked and audited,
deactivation refuses every token, session and feed URL at once, and "forgot password?"
answers the same for any address. A real SMTP server (aiosmtpd) receives the mail."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from api.main import create_app
from mail.recipients import resolve_recipients
from records.database import Database
from records.models import AuditEntry, Case, Membership, OutboxMessage, SetPasswordLink, User
from records.people import create_user
from settings import Settings
from tests.support.configuration import settings_for
from tests.support.people import DEMO_HASH, People, add_people
from tests.support.smtp import SmtpServer
from tests.web.test_web_security import Browser

PASSWORD = "correct horse battery staple"
NEW = {
    "username": "nadia",
    "full_name": "Nadia New",
    "email": "nadia@north.example",
    "roles": ["advisor"],
    "team": "North ER",
}


@dataclass
class Stack:
    http: httpx.AsyncClient
    database: Database
    settings: Settings
    people: People
    smtp: SmtpServer
    # Signing in hashes a password (slow on purpose): once per user and test.
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    async def token(self, username: str, password: str = "demo") -> dict[str, str]:
        if username not in self.tokens:
            reply = await self.http.post(
                "/api/auth/token", data={"username": username, "password": password}
            )
            assert reply.status_code == 200, reply.text
            self.tokens[username] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        return self.tokens[username]

    async def as_admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=await self.token("adam"), **kwargs)

    def mail_to(self, address: str) -> list[EmailMessage]:
        return [message for to, message in self.smtp.messages if address in to]

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.database.sessions() as session:
            return list(
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
                )
            )

    async def users(self) -> dict[str, dict[str, Any]]:
        async with self.database.sessions() as session:
            return {
                user.username: {
                    key: value for key, value in vars(user).items() if not key.startswith("_")
                }
                for user in await session.scalars(select(User))
            }


def link_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"https?://\S+/set-password/\S+", body.get_content())
    assert found, body.get_content()
    return found.group(0)


async def add_admins(db: Database, people: People) -> None:
    """An admin and an auditor beside add_people's users, and the other trust's admin."""
    async with db.transaction() as session:
        for username, role in (("adam", "admin"), ("audrey", "auditor")):
            await create_user(
                session,
                people.organisation,
                username,
                DEMO_HASH,
                [role],
                username,
                f"{username}@n.ex",
            )
        await create_user(
            session, people.other_organisation, "olga", DEMO_HASH, ["admin"], "Olga", "olga@s.ex"
        )


@pytest_asyncio.fixture
async def stack(database: Database, smtp_server: SmtpServer) -> AsyncIterator[Stack]:
    """The app in-process over a real database and SMTP; no case engine is needed here."""
    people = await add_people(database)
    await add_admins(database, people)
    settings = settings_for(
        database,
        smtp_port=smtp_server.port,
        public_url="http://ercase.test",
        sign_in_rate_limit=4,
    )
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://ercase.test"
        ) as http,
    ):
        yield Stack(http, database, settings, people, smtp_server)


async def set_password_by_link(stack: Stack, link: str, password: str) -> httpx.Response:
    browser = Browser(stack.http)
    path = urlsplit(link).path
    page = await browser.request("GET", path)
    assert page.status_code == 200, page.text
    return await browser.request(
        "POST", path, data={"password": password, "confirm": password, "csrf_token": browser.csrf}
    )


async def test_a_new_account_is_mailed_a_link_and_its_owner_sets_the_password(
    stack: Stack,
) -> None:
    reply = await stack.as_admin("POST", "/api/users", json={**NEW, "divisions": ["Medicine"]})

    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["user"] | {"created_at": None} == {
        "username": "nadia",
        "full_name": "Nadia New",
        "email": "nadia@north.example",
        "roles": ["advisor"],
        "team": "North ER",
        "divisions": ["Medicine"],
        "staff_employee_id": None,
        "active": True,
        "password_set": False,
        "created_at": None,
        "home": True,
    }
    assert body["set_password_mail"] == {
        "sent_to": "nadia@north.example",
        "delivered": True,
        "detail": "A set-password link was sent to nadia@north.example.",
    }
    assert "set-password/" not in reply.text  # the admin never sees the link
    [message] = stack.mail_to("nadia@north.example")
    assert message["Subject"] == "Your ercase account at North Trust"
    assert message["X-Ercase-Event"] == "account_invite"
    link = link_in(message)
    assert link.startswith("http://ercase.test/set-password/")
    token = link.rsplit("/", 1)[1]
    async with stack.database.sessions() as session:
        [row] = await session.scalars(select(OutboxMessage))
        assert token not in repr(vars(row))

    done = await set_password_by_link(stack, link, PASSWORD)
    assert done.status_code == 200 and "is set" in done.text
    assert (await stack.token("nadia", PASSWORD))["Authorization"].startswith("Bearer ")
    again = await Browser(stack.http).request("GET", urlsplit(link).path)
    assert again.status_code == 404  # single use

    shown = await stack.as_admin("GET", "/api/users/nadia")
    assert shown.json()["password_set"] is True
    [created] = await stack.audit("user.create")
    assert (created.username, created.organisation_id) == ("adam", stack.people.organisation.id)
    assert created.detail == {
        "account": "nadia",
        "roles": ["advisor"],
        "team": "North ER",
        "divisions": ["Medicine"],
        "staff_employee_id": None,
    }
    [issued] = await stack.audit("user.set_password_link")
    assert issued.username == "adam"
    assert (issued.detail["kind"], issued.detail["sent_to"]) == ("account_invite", NEW["email"])


async def test_bad_input_is_answered_in_a_sentence_and_nothing_is_written(stack: Stack) -> None:
    before = await stack.users()
    for sent, status, named in [
        ({**NEW, "username": "alice"}, 409, "already taken"),
        ({**NEW, "username": "oscar"}, 409, "already taken"),  # usernames are global
        ({**NEW, "roles": ["superuser"]}, 422, "Unknown role 'superuser'"),
        ({**NEW, "roles": []}, 422, "roles"),
        ({**NEW, "email": "nadia at north"}, 422, "is not an email address"),
        ({**NEW, "email": "ALICE@north.example"}, 409, "already the address of the account alice"),
        ({**NEW, "staff_employee_id": "E9999"}, 422, "no member of staff with the employee"),
        ({**NEW, "staff_employee_id": "S9001"}, 422, "no member of staff"),  # another trust's
        ({**NEW, "username": "has space"}, 422, "is not allowed"),
        ({**NEW, "password": "hunter2hunter2"}, 422, "password"),  # no admin sets one
        ({**NEW, "team": "x" * 81}, 422, "team"),
    ]:
        reply = await stack.as_admin("POST", "/api/users", json=sent)
        assert reply.status_code == status and named in reply.json()["detail"], (sent, reply.text)
    async with stack.database.transaction() as session:
        alice = await session.scalar(select(User).where(User.username == "alice"))
        assert alice is not None
        alice.staff_employee_id = "E1002"
    linked = await stack.as_admin("POST", "/api/users", json={**NEW, "staff_employee_id": "E1002"})
    assert linked.status_code == 409 and "already linked to alice" in linked.json()["detail"]
    for patch, status, named in [
        ({"roles": ["advisor", "wizard"]}, 422, "Unknown role 'wizard'"),
        ({"email": "Alice@north.example"}, 409, "account alice"),
        ({"staff_employee_id": "E1002"}, 409, "already linked to alice"),
        ({"divisions": ["x" * 121]}, 422, "divisions"),
        ({"full_name": ""}, 422, "full_name"),
        ({"nickname": "Bobby"}, 422, "nickname"),
        ({"active": "perhaps"}, 422, "active"),
    ]:
        reply = await stack.as_admin("PATCH", "/api/users/bob", json=patch)
        assert reply.status_code == status and named in reply.json()["detail"], (patch, reply.text)
    # One bad field refuses the whole change.
    mixed = await stack.as_admin(
        "PATCH", "/api/users/bob", json={"team": "Elsewhere", "staff_employee_id": "E9999"}
    )
    assert mixed.status_code == 422
    after = await stack.users()
    after["alice"]["staff_employee_id"] = None
    assert after == before
    assert await stack.audit("user.create") == [] and await stack.audit("user.update") == []
    assert stack.smtp.messages == []


async def test_the_list_filters_by_role_team_active_and_text(stack: Stack) -> None:
    async def names(query: str = "") -> list[str]:
        reply = await stack.as_admin("GET", f"/api/users{query}")
        assert reply.status_code == 200, reply.text
        return [user["username"] for user in reply.json()["items"]]

    assert await names() == ["adam", "alice", "audrey", "bob", "hannah", "mark", "polly"]
    assert await names("?role=advisor") == ["alice", "bob"]
    assert await names("?team=North%20ER") == ["alice", "bob"]
    assert await names("?q=DIRECT") == ["hannah"]  # the full name, any case
    assert await names("?q=mark%40north") == ["mark"]  # the address
    await stack.as_admin("PATCH", "/api/users/bob", json={"active": False})
    assert await names("?active=false") == ["bob"]
    assert await names("?role=advisor&active=true") == ["alice"]
    # The other trust's admin lists only theirs.
    theirs = await stack.http.get("/api/users", headers=await stack.token("olga"))
    assert [user["username"] for user in theirs.json()["items"]] == ["olga", "oscar"]


async def test_changes_are_applied_together_and_audited_with_who_made_them(
    stack: Stack,
) -> None:
    reply = await stack.as_admin(
        "PATCH",
        "/api/users/mark",
        json={
            "roles": ["manager", "advisor"],
            "team": "North ER",
            "divisions": ["Surgery", "Estates", "Surgery"],
            "staff_employee_id": "E2001",
            "full_name": "Mark Manager-Smith",
        },
    )
    assert reply.status_code == 200, reply.text
    mark = reply.json()
    assert (mark["roles"], mark["team"], mark["divisions"]) == (
        ["manager", "advisor"],
        "North ER",
        ["Estates", "Surgery"],
    )
    assert (mark["staff_employee_id"], mark["full_name"]) == ("E2001", "Mark Manager-Smith")
    [update] = await stack.audit("user.update")
    assert (update.username, update.detail["account"]) == ("adam", "mark")
    assert update.detail["changes"] == {
        "full_name": {"before": "Mark Manager", "after": "Mark Manager-Smith"},
        "roles": {"before": ["manager"], "after": ["manager", "advisor"]},
        "team": {"before": None, "after": "North ER"},
        "divisions": {"before": ["Medicine", "Surgery"], "after": ["Estates", "Surgery"]},
        "staff_employee_id": {"before": None, "after": "E2001"},
    }
    # null clears; a field not sent stays; the same values again audit nothing.
    cleared = await stack.as_admin(
        "PATCH", "/api/users/mark", json={"team": None, "staff_employee_id": None}
    )
    assert (cleared.json()["team"], cleared.json()["staff_employee_id"]) == (None, None)
    assert cleared.json()["divisions"] == ["Estates", "Surgery"]
    await stack.as_admin("PATCH", "/api/users/mark", json={"divisions": ["Estates", "Surgery"]})
    assert len(await stack.audit("user.update")) == 2

    # The organisation keeps an administrator, and nobody deactivates themselves.
    for patch, named in [
        ({"roles": ["auditor"]}, "last active administrator"),
        ({"active": False}, "your own account"),
    ]:
        reply = await stack.as_admin("PATCH", "/api/users/adam", json=patch)
        assert reply.status_code == 409 and named in reply.json()["detail"], reply.text
    await stack.as_admin("PATCH", "/api/users/hannah", json={"roles": ["hr_director", "admin"]})
    demoted = await stack.as_admin("PATCH", "/api/users/adam", json={"roles": ["auditor"]})
    assert demoted.status_code == 200 and demoted.json()["roles"] == ["auditor"]


async def test_an_advisor_handling_a_case_about_a_staff_record_is_not_linked_to_it(
    stack: Stack,
) -> None:
    now = datetime.now(UTC)
    async with stack.database.transaction() as session:
        session.add(
            Case(
                id="DIS-2026-0001",
                organisation_id=stack.people.organisation.id,
                case_type="disciplinary",
                policy_version=1,
                employee_id="E1001",
                summary="Timesheets",
                risk="routine",
                advisor="alice",
                opened_by="alice",
                stage_key="assessment",
                stage_name="Assessment",
                stage_started_at=now,
                opened_at=now,
            )
        )
    # E2001 is E1001's line manager: a party to the case alice handles.
    for employee_id in ("E1001", "E2001"):
        reply = await stack.as_admin(
            "PATCH", "/api/users/alice", json={"staff_employee_id": employee_id}
        )
        assert reply.status_code == 409 and "reassign it" in reply.json()["detail"], reply.text
    ok = await stack.as_admin("PATCH", "/api/users/alice", json={"staff_employee_id": "E1002"})
    assert ok.status_code == 200


async def test_deactivation_refuses_tokens_sessions_feed_and_mail_at_once(stack: Stack) -> None:
    alice = await stack.token("alice")
    browser = Browser(stack.http)
    await browser.sign_in("alice")
    assert (await browser.request("GET", "/cases")).status_code == 200
    feed = urlsplit((await stack.http.get("/api/me/calendar", headers=alice)).json()["url"]).path
    assert (await stack.http.get(feed)).status_code == 200
    sent = await stack.as_admin("POST", "/api/users/alice/set-password-link")
    assert sent.json()["delivered"] is True, sent.text
    link = link_in(stack.mail_to("alice@north.example")[0])
    now = datetime.now(UTC)
    async with stack.database.transaction() as session:
        session.add(
            Case(
                id="DIS-2026-0002",
                organisation_id=stack.people.organisation.id,
                case_type="disciplinary",
                policy_version=1,
                employee_id="E1001",
                summary="Timesheets",
                risk="routine",
                advisor="alice",
                opened_by="alice",
                stage_key="assessment",
                stage_name="Assessment",
                stage_started_at=now,
                opened_at=now,
            )
        )

    reply = await stack.as_admin("PATCH", "/api/users/alice", json={"active": False})

    assert reply.status_code == 200 and reply.json()["active"] is False
    assert (await stack.http.get("/api/me", headers=alice)).status_code == 401
    page = await browser.request("GET", "/cases")
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")
    assert (await stack.http.get(feed)).status_code == 404
    refused = await stack.http.post(
        "/api/auth/token", data={"username": "alice", "password": "demo"}
    )
    assert refused.status_code == 401
    assert (await Browser(stack.http).request("GET", urlsplit(link).path)).status_code == 404
    # No more mail: not as the case's advisor, not as a manager, not by "forgot password".
    async with stack.database.transaction() as session:
        mark = await session.scalar(select(User).where(User.username == "mark"))
        assert mark is not None
        mark.active = False
    async with stack.database.sessions() as session:
        case = await session.get_one(Case, "DIS-2026-0002")
        assert await resolve_recipients(session, case, ["advisor", "manager"]) == []
    before = len(stack.smtp.messages)
    await stack.http.post("/api/auth/forgot-password", json={"email": "alice@north.example"})
    assert len(stack.smtp.messages) == before
    resend = await stack.as_admin("POST", "/api/users/alice/set-password-link")
    assert resend.status_code == 409 and "reactivate" in resend.json()["detail"]
    # Nothing of theirs is deleted.
    async with stack.database.sessions() as session:
        assert await session.get(Case, "DIS-2026-0002") is not None
    [deactivated] = await stack.audit("user.deactivate")
    assert (deactivated.username, deactivated.detail) == ("adam", {"account": "alice"})

    back = await stack.as_admin("PATCH", "/api/users/alice", json={"active": True})
    assert back.status_code == 200 and back.json()["active"] is True
    # Reactivation does not revive what deactivation ended: the old token, the old web
    # session and the old calendar URL stay refused; she signs in afresh.
    assert (await stack.http.get("/api/me", headers=alice)).status_code == 401
    page = await browser.request("GET", "/cases")
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")
    assert (await stack.http.get(feed)).status_code == 404
    stack.tokens.pop("alice")
    assert (await stack.http.get("/api/me", headers=await stack.token("alice"))).status_code == 200
    await browser.sign_in("alice")
    assert (await browser.request("GET", "/cases")).status_code == 200
    [reactivated] = await stack.audit("user.reactivate")
    assert reactivated.username == "adam"


async def test_a_resent_link_replaces_the_earlier_one(stack: Stack) -> None:
    await stack.as_admin("POST", "/api/users", json=NEW)
    reply = await stack.as_admin("POST", "/api/users/nadia/set-password-link")
    assert reply.status_code == 200 and reply.json()["delivered"] is True, reply.text
    first, second = (link_in(message) for message in stack.mail_to("nadia@north.example"))
    assert first != second
    assert (await Browser(stack.http).request("GET", urlsplit(first).path)).status_code == 404
    assert (await set_password_by_link(stack, second, PASSWORD)).status_code == 200
    # Once a password is set, a link sent by an admin is a reset.
    await stack.as_admin("POST", "/api/users/nadia/set-password-link")
    assert stack.mail_to("nadia@north.example")[-1]["X-Ercase-Event"] == "password_reset"
    issued = await stack.audit("user.set_password_link")
    assert [row.detail["kind"] for row in issued] == [
        "account_invite",
        "account_invite",
        "password_reset",
    ]
    assert {row.username for row in issued} == {"adam"}
    missing = await stack.as_admin("POST", "/api/users/oscar/set-password-link")
    assert missing.status_code == 404


async def test_a_link_that_cannot_be_mailed_is_said_so_and_can_be_sent_again(
    stack: Stack,
) -> None:
    stack.smtp.stop()
    try:
        reply = await stack.as_admin("POST", "/api/users", json=NEW)
    finally:
        stack.smtp.start()
    assert reply.status_code == 201, reply.text
    assert reply.json()["set_password_mail"]["delivered"] is False
    assert "could not be sent" in reply.json()["set_password_mail"]["detail"]
    again = await stack.as_admin("POST", "/api/users/nadia/set-password-link")
    assert again.json()["delivered"] is True
    assert len(stack.mail_to("nadia@north.example")) == 1


async def test_forgot_password_answers_the_same_for_any_address_and_is_rate_limited(
    stack: Stack,
) -> None:
    answers = []
    for email in ("bob@north.example", "nobody@north.example", "BOB@north.example"):
        reply = await stack.http.post("/api/auth/forgot-password", json={"email": email})
        answers.append((reply.status_code, reply.json()))
    assert len(set(map(repr, answers))) == 1 and answers[0][0] == 202
    assert "If an account has this address" in answers[0][1]["detail"]
    messages = stack.mail_to("bob@north.example")
    assert [message["X-Ercase-Event"] for message in messages] == ["password_reset"] * 2
    assert messages[0]["Subject"] == "Set a new ercase password"
    # The first link stopped working when the second was sent; the second sets the password.
    first, second = (link_in(message) for message in messages)
    assert (await Browser(stack.http).request("GET", urlsplit(first).path)).status_code == 404
    assert (await set_password_by_link(stack, second, PASSWORD)).status_code == 200
    assert (await stack.token("bob", PASSWORD))["Authorization"]

    # The fourth request from one address in the window (the test's limit is 4) is the last.
    fourth = await stack.http.post("/api/auth/forgot-password", json={"email": "x@y.example"})
    assert fourth.status_code == 202
    refused = await stack.http.post("/api/auth/forgot-password", json={"email": "x@y.example"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many password requests" in refused.json()["detail"]
    # Failed sign-ins are counted apart: this address may still sign in.
    assert (await stack.token("alice"))["Authorization"]
    [first_audit, *_] = await stack.audit("user.set_password_link")
    assert (first_audit.username, first_audit.detail["via"]) == (None, "forgot-password")
    async with stack.database.sessions() as session:
        links = await session.scalar(select(func.count()).select_from(SetPasswordLink))
    assert links == 2


async def test_one_account_gets_at_most_three_links_per_window_whoever_asks(
    stack: Stack,
) -> None:
    for _ in range(4):  # the test's limit per client address
        reply = await stack.http.post(
            "/api/auth/forgot-password", json={"email": "bob@north.example"}
        )
        assert reply.status_code == 202
    assert len(stack.mail_to("bob@north.example")) == 3


async def test_deactivating_someone_never_leaves_another_organisation_without_an_admin(
    stack: Stack,
) -> None:
    # Bob (home: the North Trust) is also the South Trust's admin through a membership. With
    # olga gone, he is its only one: his home admin may not deactivate him, which would end
    # that membership too and leave the South Trust with nobody to manage it.
    async with stack.database.transaction() as session:
        bob = await session.scalar(select(User).where(User.username == "bob"))
        olga = await session.scalar(select(User).where(User.username == "olga"))
        assert bob is not None and olga is not None
        olga.active = False
        session.add(
            Membership(
                user_id=bob.id,
                organisation_id=stack.people.other_organisation.id,
                roles=["admin"],
                created_by="olga",
            )
        )
    refused = await stack.as_admin("PATCH", "/api/users/bob", json={"active": False})
    assert refused.status_code == 409 and "last active administrator" in refused.text
    assert (await stack.users())["bob"]["active"] is True
