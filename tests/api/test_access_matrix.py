"""Every case route, for every role and every kind of case, each cell checked against the rules.

The routes are read from the application itself, so a new case route fails this test until it
is given a row here. The table the test builds is kept in docs/access-matrix.md; when the
application's answers change, the test rewrites it and fails, so the change is reviewed.
"""

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update

from api.main import create_app
from records.database import Database
from records.models import (
    AuditEntry,
    Case,
    CaseAccess,
    CaseParty,
    Document,
    Membership,
    Staff,
    User,
)
from records.people import create_user
from services.access import CASE_READERS, CASE_WORKERS, POLICY_MOVERS, RESTRICTERS
from services.retention import HOLDERS
from settings import Settings
from tests.support.configuration import make_settings
from tests.support.people import DEMO_HASH, SHARED, add_people, add_shared_person
from tests.support.smtp import SmtpServer
from tests.support.stack import ApiStack
from tests.web.test_web_security import Browser

MATRIX_FILE = Path(__file__).parents[2] / "docs" / "access-matrix.md"

# One user per role, each linked to a staff record of their own (so a case can name them).
ROLE_USERS = {
    "advisor": "alice",
    "manager": "mark",
    "policy_owner": "polly",
    "hr_director": "hannah",
    "auditor": "audrey",
    "admin": "adam",
}


@dataclass(frozen=True)
class Caller:
    """Who calls every route: a user, the organisation they work in, their role there."""

    label: str
    username: str
    organisation: str
    role: str


# Every role of the first trust, and shona (tests/support/people.py) in each of her two: an
# advisor of the first trust's North ER team as a member (linked there to a staff record of
# its own, a witness on the conflicted case), and a manager of Estates in the other, her own.
CALLERS = [
    *(Caller(f"{role} ({user})", user, "RXA", role) for role, user in ROLE_USERS.items()),
    Caller(f"advisor as a member, working in RXA ({SHARED})", SHARED, "RXA", "advisor"),
    Caller(f"manager at home, working in RXB ({SHARED})", SHARED, "RXB", "manager"),
]
# In the other trust, where bob is no advisor and E1002 no member of staff, those two calls
# are refused as bad input once the case is found.
OTHER_TRUST_ANSWERS = {
    ("POST", "/api/cases/{case_id}/assign"): frozenset({422}),
    ("POST", "/api/cases/{case_id}/parties"): frozenset({422}),
}
# The kinds of case, as seen by each role's user:
#   own: alice's case in Medicine (mark manages Medicine);
#   team: bob's (alice's team), Medicine;  outside: carol's (another team), Estates;
#   other-org: the other trust's;  restricted: alice's, named only to bob;
#   conflicted: alice's, with every role user's staff record recorded as a witness.
KINDS = ("own", "team", "outside", "other-org", "restricted", "conflicted")
THROUGH = "through"  # past the access checks: the route's own answer (see ANSWERS)


@dataclass(frozen=True)
class Call:
    """How to call one route, who it is for, and what it answers once access is granted."""

    allowed: frozenset[str] | None  # roles that may do it on a case they see (None: readers)
    answers: frozenset[int]
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    upload: bool = False


READ = Call(None, frozenset({200}))
STEP = Call(CASE_WORKERS, frozenset({409}), body={})  # no process runs these rows: refused
PDF = b"%PDF-1.4 matrix\n%%EOF\n"  # a PDF that ends as one does (services/document_kinds.py)

API_CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/api/cases/{case_id}"): READ,
    ("GET", "/api/cases/{case_id}/notes"): READ,
    ("GET", "/api/cases/{case_id}/documents"): READ,
    ("GET", "/api/cases/{case_id}/documents/{document_id}"): READ,
    ("GET", "/api/cases/{case_id}/time"): READ,
    ("GET", "/api/cases/{case_id}/parties"): READ,
    ("GET", "/api/cases/{case_id}/restriction"): READ,
    ("POST", "/api/cases/{case_id}/actions/{action}"): Call(
        CASE_WORKERS, frozenset({409}), body={"data": {}}
    ),
    ("POST", "/api/cases/{case_id}/pause"): Call(
        CASE_WORKERS, frozenset({409}), body={"reason": "Signed off sick"}
    ),
    ("POST", "/api/cases/{case_id}/resume"): STEP,
    ("POST", "/api/cases/{case_id}/suspension/{step}"): Call(
        CASE_WORKERS, frozenset({409}), body={"note": "Risk to patients"}
    ),
    # The case is open: an appeal is refused as not possible yet.
    ("POST", "/api/cases/{case_id}/appeal"): Call(
        CASE_WORKERS, frozenset({409}), body={"grounds": "Unfair"}
    ),
    ("POST", "/api/cases/{case_id}/assign"): Call(
        CASE_WORKERS, frozenset({409}), body={"advisor": "bob"}
    ),
    # Version 99 does not exist: refused as bad input once the case is found.
    ("POST", "/api/cases/{case_id}/policy"): Call(
        POLICY_MOVERS, frozenset({422}), body={"version": 99}
    ),
    ("POST", "/api/cases/{case_id}/notes"): Call(
        CASE_WORKERS, frozenset({201}), body={"text": "Called the ward"}
    ),
    ("POST", "/api/cases/{case_id}/documents"): Call(CASE_WORKERS, frozenset({201}), upload=True),
    ("POST", "/api/cases/{case_id}/time"): Call(
        CASE_WORKERS,
        frozenset({201}),
        body={"worked_on": "2026-01-05", "minutes": 30, "activity_code": "meeting"},
    ),
    ("POST", "/api/cases/{case_id}/parties"): Call(
        CASE_WORKERS, frozenset({201}), body={"employee_id": "E1002", "role": "witness"}
    ),
    ("PUT", "/api/cases/{case_id}/restriction"): Call(
        RESTRICTERS, frozenset({200}), body={"restricted": False, "people": []}
    ),
    ("GET", "/api/cases/{case_id}/letters"): READ,
    # No letter is offered at the case's first stage: refused as bad input once it is found.
    ("POST", "/api/cases/{case_id}/letters"): Call(
        CASE_WORKERS, frozenset({422}), body={"template": "outcome", "format": "pdf"}
    ),
    ("GET", "/api/cases/{case_id}/bundle"): READ,
    ("GET", "/api/cases/{case_id}/legal-hold"): READ,
    # Roles take turns: each places a hold, then lifts it (409 if there is none to lift).
    ("POST", "/api/cases/{case_id}/legal-hold"): Call(
        HOLDERS, frozenset({200}), body={"reason": "Tribunal claim"}
    ),
    ("POST", "/api/cases/{case_id}/legal-hold/clear"): Call(
        HOLDERS, frozenset({200, 409}), body={"reason": "Claim settled"}
    ),
}
WEB_STEP = Call(CASE_WORKERS, frozenset({200, 303, 409, 422}), form={})
WEB_CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/cases/{case_id}"): READ,
    ("GET", "/cases/{case_id}/documents/{document_id}"): READ,
    ("GET", "/cases/{case_id}/bundle"): READ,
    ("POST", "/cases/{case_id}/actions/{action}"): WEB_STEP,
    ("POST", "/cases/{case_id}/pause"): Call(
        CASE_WORKERS, frozenset({303, 409}), form={"reason": "Signed off sick"}
    ),
    ("POST", "/cases/{case_id}/resume"): WEB_STEP,
    ("POST", "/cases/{case_id}/notes"): Call(
        CASE_WORKERS, frozenset({303}), form={"text": "Called the ward", "kind": "note"}
    ),
    ("POST", "/cases/{case_id}/documents"): Call(CASE_WORKERS, frozenset({303}), upload=True),
    ("POST", "/cases/{case_id}/letters"): Call(
        CASE_WORKERS, frozenset({422}), form={"template": "outcome", "format": "pdf"}
    ),
    ("POST", "/cases/{case_id}/time"): Call(
        CASE_WORKERS,
        frozenset({303}),
        form={"worked_on": "2026-01-05", "minutes": "30", "activity_code": "meeting"},
    ),
}
PATH_VALUES = {"action": "refer_to_investigation", "step": "suspend"}


def case_routes(settings: Settings) -> Iterator[tuple[str, str]]:
    """Every (method, path) of the application that names a case."""
    for route in create_app(settings).routes:
        # FastAPI keeps an included router as one entry that lists its routes with prefixes.
        contexts = getattr(route, "effective_route_contexts", None)
        for each in contexts() if contexts else [route]:
            path, methods = getattr(each, "path", ""), getattr(each, "methods", None) or set()
            if "{case_id}" in path:
                for method in sorted(set(methods) - {"HEAD"}):
                    yield method, path


def visible(role: str, kind: str, organisation: str = "RXA") -> bool:
    """The rules of services/access.py, restated for these users and cases."""
    if organisation == "RXB":
        # Only the other trust's case is in reach, and its division (Estates) is shona's.
        return kind == "other-org" and role in CASE_READERS
    if kind in ("other-org", "restricted", "conflicted") or role not in CASE_READERS:
        return False
    if kind == "outside":
        return role in ("hr_director", "auditor", "admin")
    return True  # own and team: alice's team, and mark's division


def expected(caller: Caller, kind: str, call: Call, path: str) -> str:
    role, organisation = caller.role, caller.organisation
    if path.endswith("/policy"):
        # Policy owners move cases they cannot read; the case must still be theirs to reach.
        reachable = kind not in ("other-org", "restricted", "conflicted")
        if not (visible(role, kind, organisation) or (reachable and role == "policy_owner")):
            return "404"
    elif not visible(role, kind, organisation):
        return "404"
    if call.allowed is not None and role not in call.allowed:
        return "403"
    return THROUGH


async def seed(stack: ApiStack) -> dict[str, tuple[str, int]]:
    """The six cases (rows only: no process runs them), each with one document."""
    org, other = stack.people.organisation, stack.people.other_organisation
    now = datetime.now(UTC) - timedelta(days=400)
    async with stack.database.transaction() as session:
        await create_user(
            session,
            org,
            "carol",
            DEMO_HASH,
            ["advisor"],
            "Carol",
            "c@n.example",
            team="Community ER",
        )
        await create_user(session, org, "audrey", DEMO_HASH, ["auditor"], "Audrey", "a@n.example")
        await create_user(session, org, "adam", DEMO_HASH, ["admin"], "Adam", "ad@n.example")
        for number, username in enumerate(ROLE_USERS.values(), start=1):
            user = await session.scalar(select(User).where(User.username == username))
            assert user is not None
            user.staff_employee_id = f"W{number}"
            session.add(Staff(organisation_id=org.id, employee_id=f"W{number}", division="HR"))
        # shona's staff record in the first trust is on her membership there.
        shared = len(ROLE_USERS) + 1
        session.add(Staff(organisation_id=org.id, employee_id=f"W{shared}", division="HR"))
        await session.execute(
            update(Membership)
            .where(Membership.organisation_id == org.id)
            .values(staff_employee_id=f"W{shared}")
        )
        rows = {
            "own": (org.id, "alice", "Medicine"),
            "team": (org.id, "bob", "Medicine"),
            "outside": (org.id, "carol", "Estates"),
            "other-org": (other.id, "oscar", "Estates"),
            "restricted": (org.id, "alice", "Medicine"),
            "conflicted": (org.id, "alice", "Medicine"),
        }
        cases: dict[str, tuple[str, int]] = {}
        for number, (kind, (organisation_id, advisor, division)) in enumerate(rows.items(), 1):
            case_id = f"DIS-2025-{number:04d}"
            session.add(
                Case(
                    id=case_id,
                    organisation_id=organisation_id,
                    case_type="disciplinary",
                    policy_version=1,
                    employee_id="E1001" if organisation_id == org.id else "S9001",
                    summary="Timesheets",
                    risk="routine",
                    advisor=advisor,
                    division=division,
                    department=None,
                    opened_by=advisor,
                    stage_key="assessment",
                    stage_name="Pre-formal assessment",
                    stage_started_at=now,
                    opened_at=now,
                    restricted=kind == "restricted",
                )
            )
            await session.flush()
            stored = secrets.token_hex(20)
            stack.settings.documents_dir.mkdir(parents=True, exist_ok=True)
            (stack.settings.documents_dir / stored).write_bytes(PDF)
            document = Document(
                case_id=case_id,
                filename="letter.pdf",
                content_type="application/pdf",
                size=len(PDF),
                sha256="0" * 64,
                stored_name=stored,
                uploaded_by=advisor,
            )
            session.add(document)
            await session.flush()
            cases[kind] = (case_id, document.id)
        session.add(CaseAccess(case_id=cases["restricted"][0], username="bob", added_by="mark"))
        for number in range(1, len(ROLE_USERS) + 2):
            session.add(
                CaseParty(
                    case_id=cases["conflicted"][0],
                    employee_id=f"W{number}",
                    role="witness",
                    added_by="mark",
                )
            )
    return cases


def fill(path: str, case_id: str, document_id: int) -> str:
    values = {**PATH_VALUES, "case_id": case_id, "document_id": str(document_id)}
    return path.format(**values)


async def call_api(
    http: httpx.AsyncClient, headers: dict[str, str], method: str, url: str, call: Call
) -> int:
    if call.upload:
        files = {"file": ("letter.pdf", PDF, "application/pdf")}
        return (await http.request(method, url, headers=headers, files=files)).status_code
    return (await http.request(method, url, headers=headers, json=call.body)).status_code


async def call_web(browser: Browser, method: str, url: str, call: Call) -> int:
    if method == "GET":
        return (await browser.request("GET", url)).status_code
    data = {**(call.form or {}), "csrf_token": browser.csrf}
    if call.upload:
        files = {"file": ("letter.pdf", PDF, "application/pdf")}
        return (await browser.request("POST", url, data=data, files=files)).status_code
    return (await browser.request("POST", url, data=data)).status_code


def render(table: dict[str, dict[str, dict[str, str]]]) -> str:
    lines = [
        "# Access matrix",
        "",
        "Generated by `tests/api/test_access_matrix.py` from the application's own routes; each",
        "cell is the status the route answered for that role and kind of case (404: as if the",
        "case did not exist; 403: seen, but the role may not do this; other: the route's own",
        "answer once access is granted). Kinds: own (the advisor's own case, in the manager's",
        "division), team (a team-mate's case), outside (another team's, another division),",
        "other-org (another trust's), restricted (not named on it), conflicted (the user is a",
        "party to it). Do not edit by hand: run the test.",
        "",
    ]
    for caller, rows in table.items():
        lines += [f"## {caller}", ""]
        lines.append("| route | " + " | ".join(KINDS) + " |")
        lines.append("|---|" + "---|" * len(KINDS))
        for route, cells in rows.items():
            lines.append(f"| `{route}` | " + " | ".join(cells[kind] for kind in KINDS) + " |")
        lines.append("")
    return "\n".join(lines)


@pytest.mark.slow
async def test_every_case_route_for_every_role_and_kind_of_case(api_stack: ApiStack) -> None:
    routes = set(case_routes(api_stack.settings))
    missing = routes - set(API_CALLS) - set(WEB_CALLS)
    assert not missing, f"case routes with no row in the access matrix: {sorted(missing)}"
    assert routes == set(API_CALLS) | set(WEB_CALLS), "rows for routes that no longer exist"
    await add_shared_person(api_stack.database, api_stack.people)
    cases = await seed(api_stack)

    table: dict[str, dict[str, dict[str, str]]] = {}
    wrong: list[str] = []
    for caller in CALLERS:
        headers = await api_stack.token(caller.username, organisation=caller.organisation)
        browser = Browser(api_stack.http)
        await browser.sign_in(caller.username)
        await browser.work_in(caller.organisation)
        rows: dict[str, dict[str, str]] = {}
        for calls, is_web in ((API_CALLS, False), (WEB_CALLS, True)):
            for (method, path), call in sorted(calls.items(), key=lambda item: item[0][1]):
                cells: dict[str, str] = {}
                # The six kinds of case at once: independent rows, and it keeps the test short.
                urls = [fill(path, *cases[kind]) for kind in KINDS]
                statuses = await asyncio.gather(
                    *(
                        call_web(browser, method, url, call)
                        if is_web
                        else call_api(api_stack.http, headers, method, url, call)
                        for url in urls
                    )
                )
                answers = call.answers
                if caller.organisation == "RXB":
                    answers = OTHER_TRUST_ANSWERS.get((method, path), answers)
                for kind, status in zip(KINDS, statuses, strict=True):
                    want = expected(caller, kind, call, path)
                    ok = status in answers if want == THROUGH else str(status) == want
                    if not ok:
                        wrong.append(
                            f"{caller.label} {kind} {method} {path}: {status}, expected {want}"
                        )
                    cells[kind] = str(status)
                rows[f"{method} {path}"] = cells
        table[caller.label] = rows

    assert not wrong, "\n".join(wrong)
    text = render(table)
    if not MATRIX_FILE.exists() or MATRIX_FILE.read_text() != text:
        MATRIX_FILE.write_text(text)
        raise AssertionError(f"{MATRIX_FILE} was out of date and is rewritten: review, commit")


# ---- account routes: every role, an admin of another organisation, a member of both -------

# Whose account each route is called on: bob of the first trust, oscar of the other, and
# shona, who works in both (her own account is the other trust's; the first added her).
ACCOUNT_TARGETS = {"bob": {"RXA"}, "oscar": {"RXB"}, SHARED: {"RXA", "RXB"}}
# (caller, the organisation they work in, their roles there); shona signs in to each in turn.
ACCOUNT_CALLERS = [
    *((user, "RXA", frozenset({role})) for role, user in ROLE_USERS.items()),
    ("olga", "RXB", frozenset({"admin"})),
    (SHARED, "RXA", frozenset({"advisor"})),
    (SHARED, "RXB", frozenset({"manager"})),
]
ADMINS = frozenset({"admin"})
HANDOVER = frozenset({"admin", "manager"})
BOB_FORM = {"full_name": "Bob Advisor", "email": "bob@north.example", "roles": "advisor"}
ACCOUNT_CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/api/users"): Call(ADMINS, frozenset({200})),
    # Each admin adds one; the same username again is taken.
    ("POST", "/api/users"): Call(
        ADMINS,
        frozenset({201, 409}),
        body={
            "username": "newcomer",
            "full_name": "New",
            "email": "n@x.example",
            "roles": ["advisor"],
        },
    ),
    ("GET", "/api/users/{username}"): Call(ADMINS, frozenset({200})),
    ("PATCH", "/api/users/{username}"): Call(ADMINS, frozenset({200}), body={"divisions": []}),
    # A member's password is their own organisation's to reset (409 elsewhere).
    ("POST", "/api/users/{username}/set-password-link"): Call(ADMINS, frozenset({200, 409})),
    # Nobody has this address: whoever is named, an admin is answered 404 (and learns nothing).
    ("POST", "/api/users/{username}/membership"): Call(
        ADMINS, frozenset({404}), body={"email": "nobody@x.example", "roles": ["advisor"]}
    ),
    ("GET", "/api/users/{username}/cases"): Call(HANDOVER, frozenset({200})),
    # Nobody has open cases here; alice is no advisor of the other trust (422 there).
    ("POST", "/api/users/{username}/reassign"): Call(
        HANDOVER, frozenset({200, 422}), body={"to": "alice"}
    ),
    ("GET", "/admin/users"): Call(ADMINS, frozenset({200})),
    ("POST", "/admin/users"): Call(
        ADMINS,
        frozenset({303, 409}),
        form={
            "username": "webcomer",
            "full_name": "Web",
            "email": "w@x.example",
            "roles": "advisor",
        },
    ),
    ("GET", "/admin/users/{username}"): Call(HANDOVER, frozenset({200})),
    ("POST", "/admin/users/{username}"): Call(ADMINS, frozenset({303, 409}), form=BOB_FORM),
    ("POST", "/admin/users/{username}/deactivate"): Call(ADMINS, frozenset({303})),
    ("POST", "/admin/users/{username}/reactivate"): Call(ADMINS, frozenset({303})),
    ("POST", "/admin/users/{username}/set-password-link"): Call(ADMINS, frozenset({303, 409})),
    ("POST", "/admin/members"): Call(
        ADMINS,
        frozenset({404}),
        form={"username": "oscar", "email": "nobody@x.example", "roles": "advisor"},
    ),
    ("POST", "/admin/users/{username}/reassign"): Call(
        HANDOVER, frozenset({303, 422}), form={"to": "alice"}
    ),
}


def account_routes(settings: Settings) -> set[tuple[str, str]]:
    return {
        (method, path)
        for method, path in all_routes(settings)
        if path.startswith(("/api/users", "/admin/users", "/admin/members"))
    }


def all_routes(settings: Settings) -> Iterator[tuple[str, str]]:
    for route in create_app(settings).routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for each in contexts() if contexts else [route]:
            path, methods = getattr(each, "path", ""), getattr(each, "methods", None) or set()
            for method in sorted(set(methods) - {"HEAD"}):
                yield method, path


def account_expected(
    roles: frozenset[str], caller_org: str, target_orgs: set[str], path: str, call: Call
) -> str:
    """The rules of services/organisation_accounts.py and case_handover.py: the role first
    (403 whoever is asked about), then an account that does not work in the caller's
    organisation is as if none (404). Adding a member names someone of elsewhere on purpose."""
    assert call.allowed is not None
    if not roles & call.allowed:
        return "403"
    if path.endswith("/membership"):
        return THROUGH
    return THROUGH if caller_org in target_orgs else "404"


def account_form(call: Call, target: str, caller_org: str) -> Call:
    """Saving shona's page sends what it shows: her own name and address, and her roles in
    the organisation it is saved in (a member's name and address are not another's to
    change, and the callers after need her roles as they are)."""
    if call.form != BOB_FORM or target != SHARED:
        return call
    roles = "advisor" if caller_org == "RXA" else "manager"
    form = {"full_name": "Shona Shared", "email": "shona@shared.example", "roles": roles}
    return Call(call.allowed, call.answers, form=form)


async def test_every_account_route_for_every_role_and_another_organisation(
    sqlite_database: Database, smtp_server: SmtpServer
) -> None:
    people = await add_people(sqlite_database)
    await add_shared_person(sqlite_database, people)
    async with sqlite_database.transaction() as session:
        await create_user(
            session, people.organisation, "audrey", DEMO_HASH, ["auditor"], "A", "a@n.ex"
        )
        await create_user(
            session, people.organisation, "adam", DEMO_HASH, ["admin"], "Ad", "ad@n.ex"
        )
        await create_user(
            session, people.other_organisation, "olga", DEMO_HASH, ["admin"], "Olga", "o@s.ex"
        )
    url = str(sqlite_database.engine.url).replace("+aiosqlite", "")
    settings = make_settings(url, smtp_port=smtp_server.port)
    routes = account_routes(settings)
    assert routes == set(ACCOUNT_CALLS), f"rows to add or remove: {routes ^ set(ACCOUNT_CALLS)}"
    app = create_app(settings)
    wrong: list[str] = []
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://ercase.test"
        ) as http,
    ):
        for caller, caller_org, roles in ACCOUNT_CALLERS:
            token = await http.post(
                "/api/auth/token",
                data={"username": caller, "password": "demo", "organisation": caller_org},
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            browser = Browser(http)
            await browser.sign_in(caller)
            await browser.work_in(caller_org)
            for (method, path), call in sorted(ACCOUNT_CALLS.items(), key=lambda item: item[0][1]):
                named = "{username}" in path
                targets = ACCOUNT_TARGETS.items() if named else [("", {caller_org})]
                for target, target_orgs in targets:
                    url = path.replace("{username}", target)
                    sent = account_form(call, target, caller_org)
                    if path.startswith("/admin"):
                        status = await call_web(browser, method, url, sent)
                    else:
                        status = await call_api(http, headers, method, url, sent)
                    want = account_expected(roles, caller_org, target_orgs, path, call)
                    ok = status in call.answers if want == THROUGH else str(status) == want
                    if not ok:
                        who = f"{caller}@{caller_org}"
                        wrong.append(f"{who} {method} {url}: {status}, expected {want}")
    assert not wrong, "\n".join(wrong)


# ---- the organisation's own routes: settings, the staff directory, imports ---------------
# Who may call each, restated from services/access.py and the services (DIRECTORY_EDITORS,
# MAPPING_EDITORS, SETTINGS_EDITORS/READERS, CASE_WORKERS): every other role is 403, and an
# admin of the other trust reaches only her own trust's data.
ORGANISATION_CSV = (
    "case_type,employee_id,summary,opened_at\r\n"
    f"disciplinary,E1001,Timesheets,{(datetime.now(UTC) - timedelta(days=3)).date()}\r\n"
)
ORGANISATION_ROUTES: dict[tuple[str, str], tuple[frozenset[str], dict[str, Any]]] = {
    ("GET", "/api/organisation/settings"): (frozenset({"admin", "hr_director"}), {}),
    ("PATCH", "/api/organisation/settings"): (ADMINS, {"json": {"foi_threshold": 7}}),
    ("POST", "/api/staff"): (ADMINS, {"json": [{"id": "E1002", "band": "4"}]}),
    ("POST", "/api/staff/import"): (
        ADMINS,
        {"data": {"dry_run": "true"}, "files": {"file": ("esr.csv", "Employee Number\r\nE1\r\n")}},
    ),
    ("GET", "/api/staff/import/mapping"): (
        frozenset({"advisor", "manager", "hr_director", "admin"}),
        {},
    ),
    ("PUT", "/api/staff/import/mapping"): (ADMINS, {"json": {"columns": {}}}),
    ("POST", "/api/cases/import?dry_run=true"): (
        frozenset({"advisor", "manager", "admin"}),
        {"content": ORGANISATION_CSV, "headers": {"Content-Type": "text/csv"}},
    ),
}


async def test_every_organisation_route_for_every_role_and_another_organisation(
    api_stack: ApiStack,
) -> None:
    http = api_stack.http
    async with api_stack.database.transaction() as session:
        for organisation, username, role in (
            (api_stack.people.organisation, "audrey", "auditor"),
            (api_stack.people.organisation, "adam", "admin"),
            (api_stack.people.other_organisation, "olga", "admin"),
        ):
            await create_user(session, organisation, username, DEMO_HASH, [role], username, "x@e.x")
    callers = {**{user: role for role, user in ROLE_USERS.items()}, "olga": "admin"}
    wrong: list[str] = []
    for caller, role in callers.items():
        headers = await api_stack.token(caller)
        for (method, url), (allowed, request) in ORGANISATION_ROUTES.items():
            extra_headers = request.get("headers", {})
            call = {key: value for key, value in request.items() if key != "headers"}
            reply = await http.request(method, url, headers={**headers, **extra_headers}, **call)
            # Let through: the route's own answer, never a refusal of who is asking (a mapping
            # of no columns, an extract without its columns: 422 with a sentence).
            want = {200, 201, 422} if role in allowed else {403}
            if reply.status_code not in want:
                wrong.append(f"{caller} {method} {url}: {reply.status_code} {reply.text[:80]}")
    assert not wrong, "\n".join(wrong)
    # Each admin changed only her own trust: both thresholds are 7, set once each.
    async with api_stack.database.sessions() as session:
        changes = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "organisation.settings")
            )
        )
    by_organisation = sorted((row.organisation_id, row.username) for row in changes)
    north, south = api_stack.people.organisation.id, api_stack.people.other_organisation.id
    assert by_organisation == [(north, "adam"), (south, "olga")]
