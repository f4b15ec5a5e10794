"""One person, roles in two organisations (issue 17.3), through the API on SQLite and
PostgreSQL: shona's own account is the South Trust's (RXB), where she is a manager, HR director
and auditor; the North Trust (RXA) adds her as a member. Working in one, she sees only its
cases, reports, staff, audit log and settings — exactly what its own people see — and a token
for one is refused on everything of the other as anyone of that other organisation is."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update

from api.main import create_app
from mail.recipients import resolve_recipients
from records.database import Database
from records.models import AuditEntry, Case, Organisation
from records.people import create_user
from tests.support.configuration import settings_for
from tests.support.people import DEMO_HASH, People, add_people
from tests.support.smtp import SmtpServer

SHONA = "shona@shared.example"
# What RXA gives her: as an advisor of its North ER team, an HR director and an auditor, so
# every kind of thing below is hers to read there.
MEMBERSHIP = {"email": SHONA, "roles": ["advisor", "hr_director", "auditor"], "team": "North ER"}


@dataclass
class Stack:
    http: httpx.AsyncClient
    database: Database
    people: People
    tokens: dict[tuple[str, str | None], dict[str, str]] = field(default_factory=dict)

    async def sign_in(self, username: str, organisation: str | None = None) -> httpx.Response:
        form = {"username": username, "password": "demo"}
        if organisation is not None:
            form["organisation"] = organisation
        return await self.http.post("/api/auth/token", data=form)

    async def token(self, username: str, organisation: str | None = None) -> dict[str, str]:
        if (username, organisation) not in self.tokens:
            reply = await self.sign_in(username, organisation)
            assert reply.status_code == 200, reply.text
            bearer = {"Authorization": f"Bearer {reply.json()['access_token']}"}
            self.tokens[(username, organisation)] = bearer
        return self.tokens[(username, organisation)]

    async def get(
        self, username: str, path: str, organisation: str | None = None
    ) -> httpx.Response:
        return await self.http.get(path, headers=await self.token(username, organisation))

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.database.sessions() as session:
            rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
            return list(rows)


def a_case(case_id: str, organisation_id: int, employee_id: str, advisor: str) -> Case:
    opened = datetime.now(UTC) - timedelta(days=3)
    return Case(
        id=case_id,
        organisation_id=organisation_id,
        case_type="disciplinary",
        policy_version=1,
        employee_id=employee_id,
        summary=f"Timesheets ({case_id})",
        risk="routine",
        advisor=advisor,
        division="Estates" if employee_id.startswith("S") else "Medicine",
        department=None,
        opened_by=advisor,
        stage_key="assessment",
        stage_name="Pre-formal assessment",
        stage_started_at=opened,
        opened_at=opened,
    )


@pytest_asyncio.fixture
async def stack(database: Database, smtp_server: SmtpServer) -> AsyncIterator[Stack]:
    people = await add_people(database)
    north, south = people.organisation, people.other_organisation
    async with database.transaction() as session:
        await create_user(session, north, "adam", DEMO_HASH, ["admin"], "Adam", "adam@n.ex")
        await create_user(session, south, "olga", DEMO_HASH, ["admin"], "Olga", "olga@s.ex")
        await create_user(
            session,
            south,
            "shona",
            DEMO_HASH,
            ["manager", "hr_director", "auditor"],
            "Shona Shared",
            SHONA,
            divisions=["Estates"],
        )
        # Two cases of the North Trust (one bob's, in shona's team there), one of the South.
        session.add_all(
            [
                a_case("DIS-2025-0001", north.id, "E1001", "bob"),
                a_case("DIS-2025-0002", north.id, "E1002", "alice"),
                a_case("DIS-2025-0003", south.id, "S9001", "oscar"),
            ]
        )
        await session.execute(
            update(Organisation).where(Organisation.id == north.id).values(foi_threshold=11)
        )
        await session.execute(
            update(Organisation).where(Organisation.id == south.id).values(foi_threshold=22)
        )
    settings = settings_for(
        database,
        smtp_port=smtp_server.port,
        public_url="http://ercase.test",
    )
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://ercase.test"
        ) as http,
    ):
        yield Stack(http, database, people)


async def add_shona_to_north(stack: Stack, **body: Any) -> httpx.Response:
    return await stack.http.post(
        "/api/users/shona/membership",
        json={**MEMBERSHIP, **body},
        headers=await stack.token("adam"),
    )


async def case_ids(stack: Stack, username: str, organisation: str | None = None) -> set[str]:
    reply = await stack.get(username, "/api/cases", organisation)
    assert reply.status_code == 200, reply.text
    return {case["id"] for case in reply.json()["items"]}


async def test_an_admin_adds_a_person_of_another_organisation_by_username_and_address(
    stack: Stack,
) -> None:
    # A wrong address, an unknown name and a deactivated account answer alike: nothing is
    # learnt about another organisation's accounts from a guess.
    wrong = await add_shona_to_north(stack, email="shona@elsewhere.example")
    unknown = await stack.http.post(
        "/api/users/nobody/membership", json=MEMBERSHIP, headers=await stack.token("adam")
    )
    assert wrong.status_code == unknown.status_code == 404
    assert "no active account" in wrong.json()["detail"]
    own = await stack.http.post(
        "/api/users/bob/membership",
        json={**MEMBERSHIP, "email": "bob@north.example"},
        headers=await stack.token("adam"),
    )
    assert own.status_code == 409, own.text
    refused = await stack.http.post(
        "/api/users/shona/membership", json=MEMBERSHIP, headers=await stack.token("alice")
    )
    assert refused.status_code == 403
    assert await stack.audit("user.membership_add") == []

    added = await add_shona_to_north(stack, email=SHONA.upper())
    assert added.status_code == 201, added.text
    assert added.json() | {"created_at": None} == {
        "username": "shona",
        "full_name": "Shona Shared",
        "email": SHONA,
        "roles": ["advisor", "hr_director", "auditor"],
        "team": "North ER",
        "divisions": [],
        "staff_employee_id": None,
        "active": True,
        "password_set": True,
        "created_at": None,
        "home": False,
    }
    again = await add_shona_to_north(stack)
    assert again.status_code == 409, again.text
    [audited] = await stack.audit("user.membership_add")
    assert (audited.organisation_id, audited.username) == (stack.people.organisation.id, "adam")

    # Listed among the North Trust's accounts with the roles she holds there; at home her own.
    north = (await stack.get("adam", "/api/users?role=auditor")).json()["items"]
    assert [(user["username"], user["home"]) for user in north] == [("shona", False)]
    south = (await stack.get("olga", "/api/users/shona")).json()
    assert (south["roles"], south["home"]) == (["manager", "hr_director", "auditor"], True)

    # Her name, address and password are her own organisation's.
    headers = await stack.token("adam")
    renamed = await stack.http.patch(
        "/api/users/shona", json={"full_name": "Someone Else"}, headers=headers
    )
    link = await stack.http.post("/api/users/shona/set-password-link", headers=headers)
    assert renamed.status_code == link.status_code == 409
    same_name = {"roles": ["advisor"], "full_name": "Shona Shared"}
    changed = await stack.http.patch("/api/users/shona", json=same_name, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["advisor"]
    at_home = (await stack.get("olga", "/api/users/shona")).json()
    assert at_home["roles"] == ["manager", "hr_director", "auditor"]


async def test_working_in_one_organisation_shows_only_its_things(stack: Stack) -> None:
    assert (await add_shona_to_north(stack)).status_code == 201
    north_case, south_case = "DIS-2025-0001", "DIS-2025-0003"

    me = (await stack.get("shona", "/api/me", "RXA")).json()
    assert (me["organisation"], me["roles"]) == ("RXA", ["advisor", "auditor", "hr_director"])
    assert [(o["code"], o["home"], o["current"]) for o in me["organisations"]] == [
        ("RXB", True, False),
        ("RXA", False, True),
    ]
    assert (await stack.get("shona", "/api/me")).json()["organisation"] == "RXB"

    # Cases: exactly what the organisation's own HR director sees, in each.
    assert await case_ids(stack, "shona", "RXA") == {"DIS-2025-0001", "DIS-2025-0002"}
    assert await case_ids(stack, "shona", "RXA") == await case_ids(stack, "hannah")
    assert await case_ids(stack, "shona", "RXB") == {south_case} == await case_ids(stack, "olga")
    # A token for one organisation: the other's case, staff record are as if none (404).
    for path in (f"/api/cases/{south_case}", "/api/staff/S9001/attendance"):
        assert (await stack.get("shona", path, "RXA")).status_code == 404, path
    for path in (f"/api/cases/{north_case}", "/api/staff/E1001/attendance"):
        assert (await stack.get("shona", path, "RXB")).status_code == 404, path
        assert (await stack.get("shona", path, "RXA")).status_code == 200, path

    # Reports and settings: the organisation's own, as its people see them.
    for path in ("/api/reports/kpis", "/api/organisation/settings"):
        north = await stack.get("shona", path, "RXA")
        south = await stack.get("shona", path, "RXB")
        assert north.status_code == south.status_code == 200, (north.text, south.text)
        assert north.json() == (await stack.get("hannah", path)).json()
        assert north.json() != south.json()
        assert south.json() == (await stack.get("olga", path)).json()
    settings = await stack.get("shona", "/api/organisation/settings", "RXA")
    assert settings.json()["foi_threshold"] == 11

    # The audit log: her reading of the North Trust's case is in its log, not in the South's.
    north_log = (await stack.get("shona", f"/api/audit?case={north_case}", "RXA")).json()
    south_log = (await stack.get("shona", f"/api/audit?case={north_case}", "RXB")).json()
    assert north_log["total"] > 0 and south_log["total"] == 0
    assert {row["username"] for row in north_log["items"]} >= {"shona"}


async def test_a_token_names_an_organisation_she_works_in_or_is_refused_as_a_wrong_password(
    stack: Stack,
) -> None:
    wrong_password = await stack.http.post(
        "/api/auth/token", data={"username": "shona", "password": "nope"}
    )
    not_hers = await stack.sign_in("shona", "RXA")  # not a member yet
    unknown = await stack.sign_in("shona", "RZZ")
    assert wrong_password.status_code == not_hers.status_code == unknown.status_code == 401
    assert wrong_password.json() == not_hers.json() == unknown.json()

    assert (await add_shona_to_north(stack)).status_code == 201
    north = await stack.token("shona", "RXA")
    south = await stack.token("shona", "RXB")
    # The North Trust ends her membership: its tokens are refused at once, the South's work.
    ended = await stack.http.patch(
        "/api/users/shona", json={"active": False}, headers=await stack.token("adam")
    )
    assert ended.status_code == 200 and ended.json()["active"] is False, ended.text
    assert (await stack.http.get("/api/me", headers=north)).status_code == 401
    assert (await stack.http.get("/api/me", headers=south)).status_code == 200
    assert (await stack.sign_in("shona", "RXA")).status_code == 401
    assert [entry.organisation_id for entry in await stack.audit("user.membership_end")] == [
        stack.people.organisation.id
    ]
    # Her own account is untouched; restoring the membership lets her work there again.
    assert (await stack.get("olga", "/api/users/shona")).json()["active"] is True
    restored = await stack.http.patch(
        "/api/users/shona", json={"active": True}, headers=await stack.token("adam")
    )
    assert restored.status_code == 200, restored.text
    assert (await stack.sign_in("shona", "RXA")).status_code == 200

    # Deactivated at home, she works nowhere.
    deactivated = await stack.http.patch(
        "/api/users/shona", json={"active": False}, headers=await stack.token("olga")
    )
    assert deactivated.status_code == 200, deactivated.text
    assert (await stack.sign_in("shona", "RXA")).status_code == 401
    assert (await stack.get("adam", "/api/users/shona")).json()["active"] is False
    refused = await stack.http.patch(
        "/api/users/shona", json={"active": True}, headers=await stack.token("adam")
    )
    assert refused.status_code == 409, refused.text


async def test_mail_for_an_organisations_roles_reaches_its_members(stack: Stack) -> None:
    async def told(case_id: str, roles: list[str]) -> set[str]:
        async with stack.database.sessions() as session:
            case = await session.get_one(Case, case_id)
            return {r.address for r in await resolve_recipients(session, case, roles)}

    assert SHONA not in await told("DIS-2025-0001", ["hr_director"])
    assert (await add_shona_to_north(stack)).status_code == 201
    assert await told("DIS-2025-0001", ["hr_director"]) == {"hannah@north.example", SHONA}
    # Her roles are the North Trust's there: she manages no division of it.
    assert SHONA not in await told("DIS-2025-0001", ["manager"])
    assert SHONA in await told("DIS-2025-0003", ["manager", "hr_director"])
    ended = await stack.http.patch(
        "/api/users/shona", json={"active": False}, headers=await stack.token("adam")
    )
    assert ended.status_code == 200
    assert SHONA not in await told("DIS-2025-0001", ["hr_director"])
