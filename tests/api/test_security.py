"""Restricted cases, conflicts of interest, sign-in hardening, revocation, security headers and
the audit search — over HTTP against the real stack (dev server, worker, SQLite)."""

import io
import re
import zipfile

from sqlalchemy import select

from api.main import create_app
from records.models import AuditEntry, User
from records.people import create_user
from tests.api.test_api_access import open_case, refused
from tests.support.people import DEMO_HASH
from tests.support.stack import ApiStack, client_at
from tests.web.test_web_security import Browser


async def link_staff(stack: ApiStack, username: str, employee_id: str) -> None:
    async with stack.database.transaction() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        user.staff_employee_id = employee_id


async def test_restricted_cases_are_seen_only_by_the_people_named(api_stack: ApiStack) -> None:
    http = api_stack.http
    case_id = await open_case(api_stack, "alice")
    alice, bob, mark = [await api_stack.token(name) for name in ("alice", "bob", "mark")]
    hannah = await api_stack.token("hannah")
    url = f"/api/cases/{case_id}/restriction"

    assert "Only a manager" in refused(
        await http.put(url, json={"restricted": True, "people": ["alice"]}, headers=alice), 403
    )
    assert "at least one" in refused(
        await http.put(url, json={"restricted": True, "people": []}, headers=mark), 422
    )
    assert "polly" in refused(
        await http.put(url, json={"restricted": True, "people": ["polly"]}, headers=mark), 422
    )
    reply = await http.put(
        url, json={"restricted": True, "people": ["alice", "mark"]}, headers=mark
    )
    assert reply.json() == {"case_id": case_id, "restricted": True, "people": ["alice", "mark"]}

    for headers, status in ((alice, 200), (mark, 200), (bob, 404), (hannah, 404)):
        reply = await http.get(f"/api/cases/{case_id}", headers=headers)
        assert reply.status_code == status, reply.text
        listing = (await http.get("/api/cases", headers=headers)).json()
        assert [item["id"] for item in listing["items"]] == ([case_id] if status == 200 else [])

    # bob is not named: he cannot be handed the case either.
    assert "name them on it first" in refused(
        await http.post(f"/api/cases/{case_id}/assign", json={"advisor": "bob"}, headers=mark),
        409,
    )
    reply = await http.put(url, json={"restricted": False, "people": []}, headers=mark)
    assert reply.status_code == 200, reply.text
    assert (await http.get(f"/api/cases/{case_id}", headers=bob)).status_code == 200


async def test_a_party_to_a_case_never_sees_it_nor_is_assigned_it(api_stack: ApiStack) -> None:
    http = api_stack.http
    # bob is also on the staff as E1002; hannah is E2001, the subject's line manager.
    await link_staff(api_stack, "bob", "E1002")
    await link_staff(api_stack, "hannah", "E2001")
    case_id = await open_case(api_stack, "alice")  # about E1001, line-managed by E2001
    alice, mark = await api_stack.token("alice"), await api_stack.token("mark")
    hannah, bob = await api_stack.token("hannah"), await api_stack.token("bob")

    assert (await http.get(f"/api/cases/{case_id}", headers=hannah)).status_code == 404
    assert (await http.get(f"/api/cases/{case_id}", headers=bob)).status_code == 200
    reply = await http.post(
        f"/api/cases/{case_id}/parties",
        json={"employee_id": "E1002", "role": "witness"},
        headers=alice,
    )
    assert reply.status_code == 201 and reply.json()["role"] == "witness", reply.text
    assert (await http.get(f"/api/cases/{case_id}", headers=bob)).status_code == 404
    assert (await http.get(f"/api/cases/{case_id}/notes", headers=bob)).status_code == 404
    assert (await http.get("/api/cases", headers=bob)).json()["items"] == []

    detail = refused(
        await http.post(f"/api/cases/{case_id}/assign", json={"advisor": "bob"}, headers=mark),
        409,
    )
    assert (
        detail
        == f"bob cannot be given case {case_id}: they are a party to it (conflict of interest)."
    )
    # Nor is a new case about bob handed to bob.
    detail = refused(
        await http.post(
            "/api/cases",
            json={
                "case_type": "disciplinary",
                "employee_id": "E1002",
                "summary": "Late",
                "advisor": "bob",
            },
            headers=mark,
        ),
        409,
    )
    assert "conflict of interest" in detail


async def test_lockout_and_rate_limit_after_failed_sign_ins(api_stack: ApiStack) -> None:
    http = api_stack.http
    for _ in range(5):
        reply = await http.post("/api/auth/token", data={"username": "bob", "password": "nope"})
        assert refused(reply, 401) == "The username or password is wrong."
    # Locked for 15 minutes from the fifth failure, even with the right password.
    reply = await http.post("/api/auth/token", data={"username": "bob", "password": "demo"})
    assert "locked after 5 failed sign-ins" in refused(reply, 423)
    assert 890 <= int(reply.headers["retry-after"]) <= 900
    # Others still sign in; 20 failures from one address stop every sign-in from it.
    await api_stack.token("alice")
    for number in range(15):
        username = f"guess{number % 4}"  # never five in a row for one name
        reply = await http.post("/api/auth/token", data={"username": username, "password": "x"})
        assert reply.status_code == 401, reply.text
    reply = await http.post("/api/auth/token", data={"username": "alice", "password": "demo"})
    assert "Too many failed sign-ins from your address" in refused(reply, 429)
    # Free once the oldest of the 20 failures (bob's first, moments ago) is 15 minutes old.
    assert 840 <= int(reply.headers["retry-after"]) <= 900
    # The web form says the same.
    browser = Browser(http)
    await browser.request("GET", "/sign-in")
    reply = await browser.request(
        "POST",
        "/sign-in",
        data={"username": "alice", "password": "demo", "csrf_token": browser.csrf},
    )
    assert reply.status_code == 429 and "Too many failed sign-ins" in reply.text
    assert "retry-after" in reply.headers


async def test_signing_out_revokes_the_token_and_the_web_session(api_stack: ApiStack) -> None:
    http = api_stack.http
    alice = await api_stack.token("alice")
    assert (await http.get("/api/me", headers=alice)).status_code == 200
    assert (await http.post("/api/auth/sign-out", headers=alice)).status_code == 204
    assert "Sign in again" in refused(await http.get("/api/me", headers=alice), 401)

    browser = Browser(http)
    await browser.sign_in("alice")
    old_cookie = browser.cookie
    assert (await browser.request("GET", "/cases")).status_code == 200
    reply = await browser.request("POST", "/sign-out", data={"csrf_token": browser.csrf})
    assert reply.status_code == 303
    # A copy of the old cookie is worth nothing now.
    reply = await http.get("/cases", headers={"Cookie": f"ercase_session={old_cookie}"})
    assert reply.status_code == 303 and reply.headers["location"].startswith("/sign-in")


async def test_security_headers_on_every_kind_of_response(api_stack: ApiStack) -> None:
    http = api_stack.http
    alice = await api_stack.token("alice")
    for reply in (
        await http.get("/api/me", headers=alice),
        await http.get("/api/cases/NOPE-1", headers=alice),
        await http.get("/sign-in"),
        await http.get("/healthz"),
    ):
        csp = reply.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "no-referrer"
        # Kept out of caches (case data on a shared computer), and HTTPS remembered.
        assert reply.headers["cache-control"] in ("no-store", "private, no-store")
        assert reply.headers["strict-transport-security"].startswith("max-age=31536000")
    # The static files (scripts, styles) may be cached.
    style = await http.get("/static/app.css")
    assert style.status_code == 200 and "no-store" not in style.headers.get("cache-control", "")
    # The interactive API docs are for development: not served in production at all.
    assert (await http.get("/docs")).status_code == 404
    assert (await http.get("/redoc")).status_code == 404
    assert (await http.get("/openapi.json")).status_code == 200


async def test_the_api_docs_in_dev_mode_load_nothing_from_elsewhere(api_stack: ApiStack) -> None:
    app = create_app(api_stack.settings.model_copy(update={"dev": True}))
    async with client_at(app, "127.0.0.1") as http:
        docs = await http.get("/docs")
        assert docs.status_code == 200
        # Swagger UI runs an inline script: no policy on this page, the other headers kept.
        assert "content-security-policy" not in docs.headers
        assert docs.headers["x-frame-options"] == "DENY"
        sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        elsewhere = [s for s in sources if s.startswith(("http:", "https:", "//"))]
        assert sources and elsewhere == []
        for source in sources:
            if source.startswith("/static/"):
                assert (await http.get(source)).status_code == 200, source


def xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


async def test_auditors_search_the_audit_log(api_stack: ApiStack) -> None:
    http = api_stack.http
    case_id = await open_case(api_stack, "alice")
    alice = await api_stack.token("alice")
    upload = await http.post(
        f"/api/cases/{case_id}/documents",
        files={"file": ("hours.pdf", xlsx(), "application/pdf")},
        headers=alice,
    )
    assert upload.status_code == 201 and upload.json()["content_type"].endswith(".sheet")
    await http.get(f"/api/cases/{case_id}", headers=alice)
    async with api_stack.database.transaction() as session:
        organisation = api_stack.people.organisation
        await create_user(
            session, organisation, "audrey", DEMO_HASH, ["auditor"], "A", "a@x.example"
        )
    audrey = await api_stack.token("audrey")

    assert refused(await http.get("/api/audit", headers=alice), 403)
    reply = await http.get(
        "/api/audit", params={"case": case_id, "action": "case.read"}, headers=audrey
    )
    assert reply.status_code == 200, reply.text
    page = reply.json()
    assert page["total"] == 1
    [row] = page["items"]
    assert (row["username"], row["action"], row["case_id"]) == ("alice", "case.read", case_id)
    assert row["client_address"] == "127.0.0.1" and len(row["hash"]) == 64
    actions = {
        item["action"]
        for item in (await http.get("/api/audit", params={"case": case_id}, headers=audrey)).json()[
            "items"
        ]
    }
    assert {"case.open", "case.read", "case.document.add"} <= actions
    assert (
        await http.get("/api/audit", params={"since": "2026-01-01T00:00:00"}, headers=audrey)
    ).status_code == 422
    async with api_stack.database.sessions() as session:
        searches = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "audit.search"))
        )
    assert [entry.username for entry in searches] == ["audrey", "audrey"]
