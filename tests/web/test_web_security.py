"""The web pages' session and access rules over HTTP (no browser): cookie flags, CSRF refusal,
sign-in redirects, and who may see what — against the real stack (dev server, worker, SQLite)."""

import re

import httpx
from sqlalchemy import func, select

from records.models import AuditEntry, Case
from tests.support.stack import ApiStack
from tests.support.waiting import eventually

CASE = {"case_type": "disciplinary", "employee_id": "E1001", "summary": "Timesheets"}


class Browser:
    """Cookies by hand: outside dev mode the session cookie is Secure, and the in-process client
    speaks plain http, where a cookie jar rightly would not send it."""

    def __init__(self, http: httpx.AsyncClient):
        self.http = http
        self.cookie = ""
        self.csrf = ""

    async def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Cookie": f"ercase_session={self.cookie}"} if self.cookie else {}
        response = await self.http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
        if cookie := response.cookies.get("ercase_session"):
            self.cookie = cookie
        if found := re.search(r'name="csrf_token" value="([^"]+)"', response.text):
            self.csrf = found.group(1)
        return response

    async def sign_in(self, username: str) -> None:
        await self.request("GET", "/sign-in")
        reply = await self.request(
            "POST",
            "/sign-in",
            data={"username": username, "password": "demo", "csrf_token": self.csrf},
        )
        assert reply.status_code == 303, reply.text
        await self.request("GET", reply.headers["location"])

    async def work_in(self, organisation: str) -> None:
        """Switch to another of the signed-in person's organisations (the header's form), and
        land on a page, which holds the new session's CSRF token."""
        reply = await self.request(
            "POST", "/organisation", data={"organisation": organisation, "csrf_token": self.csrf}
        )
        while reply.status_code == 303:
            reply = await self.request("GET", reply.headers["location"])
        assert reply.status_code == 200, reply.text


async def open_case(stack: ApiStack, username: str) -> str:
    reply = await stack.http.post("/api/cases", json=CASE, headers=await stack.token(username))
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


async def case_count(stack: ApiStack) -> int:
    async with stack.database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Case)) or 0


async def test_session_cookie_csrf_and_sign_in_rules(api_stack: ApiStack) -> None:
    browser = Browser(api_stack.http)

    # Not signed in: every page sends the person to sign in, and back afterwards.
    reply = await browser.request("GET", "/cases?risk=urgent")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/sign-in?next=%2Fcases%3Frisk%3Durgent"

    # The cookie: HttpOnly, SameSite=Lax, Secure outside dev mode.
    reply = await browser.request("GET", "/sign-in")
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie

    # Sign-in itself needs the form's token; a wrong password is refused in words.
    refused = await browser.request(
        "POST", "/sign-in", data={"username": "alice", "password": "demo"}
    )
    assert refused.status_code == 403 and "nothing was done" in refused.text
    wrong = await browser.request(
        "POST", "/sign-in", data={"username": "alice", "password": "x", "csrf_token": browser.csrf}
    )
    assert wrong.status_code == 401 and "username or password is wrong" in wrong.text

    # An API bearer token is not a session.
    token = (await api_stack.token("alice"))["Authorization"].split()[1]
    reply = await api_stack.http.get("/cases", headers={"Cookie": f"ercase_session={token}"})
    assert reply.status_code == 303

    anonymous_csrf = browser.csrf
    await browser.sign_in("alice")
    page = await browser.request("GET", "/cases/new")
    assert page.status_code == 200 and browser.csrf != anonymous_csrf  # a new token at sign-in
    form = {**CASE, "risk": "routine"}
    for sent in (None, "forged", anonymous_csrf):
        data = form if sent is None else {**form, "csrf_token": sent}
        reply = await browser.request("POST", "/cases/new", data=data)
        assert reply.status_code == 403, reply.text
    assert await case_count(api_stack) == 0

    reply = await browser.request("POST", "/cases/new", data={**form, "csrf_token": browser.csrf})
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/cases/DIS-")
    assert await case_count(api_stack) == 1

    # A rule's refusal comes back on the form, beside its field.
    reply = await browser.request(
        "POST", "/cases/new", data={**form, "employee_id": "E404", "csrf_token": browser.csrf}
    )
    assert reply.status_code == 422
    assert re.search(r'id="employee_id-error"[^>]*>.*no member of staff', reply.text, re.S)

    # Only a path on this site after sign-in, never another site.
    other = Browser(api_stack.http)
    await other.request("GET", "/sign-in")
    reply = await other.request(
        "POST",
        "/sign-in",
        data={
            "username": "alice",
            "password": "demo",
            "csrf_token": other.csrf,
            "next": "//evil.example/",
        },
    )
    assert reply.headers["location"] == "/cases"

    reply = await browser.request("POST", "/sign-out", data={"csrf_token": browser.csrf})
    assert reply.status_code == 303
    assert (await browser.request("GET", "/cases")).status_code == 303


async def test_who_sees_what(api_stack: ApiStack) -> None:
    case_id = await open_case(api_stack, "alice")

    async def recorded() -> bool:
        reply = await api_stack.http.get(
            f"/api/cases/{case_id}", headers=await api_stack.token("alice")
        )
        return bool(reply.json()["timeline"])

    await eventually(recorded, seconds=15)

    # A policy owner sees no case content: no list, no case, but the policies.
    polly = Browser(api_stack.http)
    await polly.sign_in("polly")
    assert (await polly.request("GET", "/cases")).status_code == 403
    assert (await polly.request("GET", f"/cases/{case_id}")).status_code == 404
    assert (await polly.request("GET", "/team")).status_code == 403
    assert (await polly.request("GET", "/overview")).status_code == 403
    page = await polly.request("GET", "/policies/disciplinary")
    assert page.status_code == 200 and "Disciplinary" in page.text
    assert "Timesheets" not in (await polly.request("GET", "/policies")).text

    # Another organisation's case does not exist for them, page or download.
    oscar = Browser(api_stack.http)
    await oscar.sign_in("oscar")
    assert (await oscar.request("GET", f"/cases/{case_id}")).status_code == 404
    assert (await oscar.request("GET", f"/cases/{case_id}/documents/1")).status_code == 404
    reply = await oscar.request("GET", "/cases?scope=all")
    assert reply.status_code == 200 and case_id not in reply.text
    reply = await oscar.request(
        "POST", f"/cases/{case_id}/notes", data={"text": "hello", "csrf_token": oscar.csrf}
    )
    assert reply.status_code == 404

    # An advisor and the HR director see it; every read of the case is audited.
    alice = Browser(api_stack.http)
    await alice.sign_in("alice")
    page = await alice.request("GET", f"/cases/{case_id}")
    assert page.status_code == 200 and "Refer to formal investigation" in page.text
    hannah = Browser(api_stack.http)
    await hannah.sign_in("hannah")
    overview = await hannah.request("GET", "/overview")
    assert overview.status_code == 200 and "Medicine, Disciplinary: 1 open" in overview.text
    async with api_stack.database.sessions() as session:
        readers = await session.scalars(
            select(AuditEntry.username).where(
                AuditEntry.case_id == case_id, AuditEntry.action == "case.read"
            )
        )
        assert "alice" in set(readers)
