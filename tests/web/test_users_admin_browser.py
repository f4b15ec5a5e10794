"""/admin/users in a real browser (Debian's chromium via Playwright) against the real stack
(uvicorn, a worker on the Temporal dev server, SQLite, SMTP): an admin adds an account, its
owner sets a password from the mailed link and signs in; the admin edits roles and scope,
deactivates a leaver and hands their open cases to another advisor; "Forgot password?" from
the sign-in page; and the page refused to anyone but an admin."""

import re
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from records.models import Case, CaseEvent, Organisation
from records.people import create_user
from tests.support.browser import shot, sign_in
from tests.support.people import DEMO_HASH
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually
from tests.web.test_web_browser import WebStack, web_stack

__all__ = ["web_stack"]  # the fixture, shared with the role journeys
pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "correct horse battery staple"


def link_in(messages: list[tuple[list[str], EmailMessage]], address: str) -> str:
    bodies = [
        part.get_content()
        for to, message in messages
        if address in to and (part := message.get_body(("plain",))) is not None
    ]
    assert bodies, f"no mail to {address}"
    found = re.search(r"https?://\S+/set-password/\S+", bodies[-1])
    assert found, bodies[-1]
    return found.group(0)


async def test_an_admin_runs_the_accounts_of_the_organisation(
    web_stack: WebStack, smtp_server: SmtpServer
) -> None:
    stack = web_stack
    async with stack.database.transaction() as session:
        north = await session.scalar(select(Organisation).where(Organisation.code == "RXA"))
        assert north is not None
        await create_user(session, north, "adam", DEMO_HASH, ["admin"], "Adam Admin", "adam@n.ex")
    cases = [await stack.open_case("alice"), await stack.open_case("alice")]

    # ---- the list, its filters, and a new account ---------------------------------------
    adam = await stack.page_for("adam")
    await adam.get_by_role("link", name="Accounts").click()
    await expect(adam.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()
    accounts = adam.get_by_role("table", name="Accounts")
    await expect(accounts).to_contain_text("hannah@north.example")
    await adam.get_by_label("Role").select_option("advisor")
    await adam.get_by_role("button", name="Filter").click()
    await expect(accounts.locator("tbody tr")).to_have_count(2)
    await expect(accounts).not_to_contain_text("hannah")
    await shot(adam, "admin-users-list")

    form = adam.get_by_role("form", name="Add an account")
    await form.get_by_label("Username").fill("alice")
    await form.get_by_label("Full name").fill("Nadia New")
    await form.get_by_label("Email address").fill("nadia@north.example")
    await form.get_by_role("checkbox", name="Advisor").check()
    await form.get_by_label("Team (advisors").fill("North ER")
    await form.get_by_role("button", name="Add and send").click()
    await expect(adam.get_by_role("alert")).to_contain_text("The username 'alice' is already taken")
    form = adam.get_by_role("form", name="Add an account")
    await expect(form.get_by_label("Full name")).to_have_value("Nadia New")
    await form.get_by_label("Username").fill("nadia")
    await form.get_by_role("button", name="Add and send").click()
    await expect(adam.get_by_role("status")).to_contain_text("set-password link was mailed")
    await expect(adam.get_by_role("heading", name="Nadia New")).to_be_visible()
    await expect(adam.get_by_text("Invited (no password set yet)")).to_be_visible()
    await shot(adam, "admin-user-added")

    # ---- the owner sets a password from the mailed link and signs in -----------------------
    link = link_in(smtp_server.messages, "nadia@north.example")
    nadia = await (await stack.browser.new_context()).new_page()
    # The stack's public URL is the default; the page is served on a loopback port.
    await nadia.goto(stack.base + urlsplit(link).path)
    await nadia.get_by_label("New password").fill(PASSWORD)
    await nadia.get_by_label("The same again").fill(PASSWORD)
    await nadia.get_by_role("button", name="Set password").click()
    await expect(nadia.get_by_role("status")).to_contain_text("The password for nadia is set")
    await sign_in(nadia, stack.base, "nadia", PASSWORD)
    await nadia.wait_for_load_state("networkidle")
    await expect(nadia.get_by_role("heading", name="My cases")).to_be_visible()

    # ---- roles and scope -------------------------------------------------------------------
    edit = adam.get_by_role("form", name="Roles and scope")
    await edit.get_by_role("checkbox", name="Manager").check()
    await edit.get_by_label("Divisions managed").fill("Medicine, Surgery")
    await edit.get_by_role("button", name="Save changes").click()
    await expect(adam.get_by_role("status")).to_contain_text("The changes are saved")
    edit = adam.get_by_role("form", name="Roles and scope")
    await expect(edit.get_by_role("checkbox", name="Manager")).to_be_checked()
    await expect(edit.get_by_label("Divisions managed")).to_have_value("Medicine, Surgery")
    await edit.get_by_label("Their own staff record").fill("E9999")
    await edit.get_by_role("button", name="Save changes").click()
    await expect(adam.get_by_role("alert")).to_contain_text("no member of staff")

    # ---- a leaver: deactivated, their open cases handed over in one action -------------------
    await adam.goto(f"{stack.base}/admin/users/alice")
    open_cases = adam.get_by_role("table", name="Open cases")
    for case_id in cases:
        await expect(open_cases).to_contain_text(case_id)
    await adam.get_by_role("button", name="Deactivate alice").click()
    await expect(adam.get_by_role("status")).to_contain_text("The account is deactivated")
    await expect(adam.get_by_role("button", name="Reactivate alice")).to_be_visible()
    await adam.get_by_label("Give all 2 to").select_option("bob")
    await adam.get_by_role("button", name="Reassign all open cases").click()
    await expect(adam.get_by_role("status")).to_contain_text("2 open cases reassigned to bob")
    await expect(adam.get_by_role("table", name="Open cases")).to_contain_text("No open cases")
    await shot(adam, "admin-user-reassigned")
    async with stack.database.sessions() as session:
        advisors = await session.scalars(select(Case.advisor).where(Case.id.in_(cases)))
        assert set(advisors) == {"bob"}
        assigned = await session.scalars(
            select(CaseEvent.case_id).where(CaseEvent.kind == "assigned")
        )
        assert sorted(assigned) == sorted(cases)

    async def bob_told() -> bool:
        return len([to for to, _ in smtp_server.messages if "bob@north.example" in to]) == 2

    await eventually(bob_told, 15)

    # ---- a new link, a reactivation --------------------------------------------------------
    await adam.get_by_role("button", name="Reactivate alice").click()
    await expect(adam.get_by_role("status")).to_contain_text("The account is active again")
    await adam.get_by_role("button", name="Send a new set-password link").click()
    await expect(adam.get_by_role("status")).to_contain_text("A new set-password link was mailed")

    # ---- "Forgot password?" from the sign-in page ------------------------------------------
    someone = await (await stack.browser.new_context()).new_page()
    await someone.goto(f"{stack.base}/sign-in")
    await someone.get_by_role("link", name="Forgot password?").click()
    await someone.get_by_label("Email address").fill("hannah@north.example")
    await someone.get_by_role("button", name="Send me a link").click()
    await expect(someone.get_by_role("status")).to_contain_text("If an account has this address")
    await shot(someone, "forgot-password-sent")

    async def hannah_mailed() -> bool:
        return any("hannah@north.example" in to for to, _ in smtp_server.messages)

    await eventually(hannah_mailed, 15)

    # ---- only admins: a manager sees a person's open cases, anyone else is refused -----------
    polly = await stack.page_for("polly")
    await expect(polly.get_by_role("link", name="Accounts")).to_have_count(0)
    reply = await polly.goto(f"{stack.base}/admin/users")
    assert reply is not None and reply.status == 403
    await expect(polly.get_by_role("main")).to_contain_text("Only an administrator")
    mark = await stack.page_for("mark")
    reply = await mark.goto(f"{stack.base}/admin/users")
    assert reply is not None and reply.status == 403
    reply = await mark.goto(f"{stack.base}/admin/users/bob")
    assert reply is not None and reply.status == 200
    await expect(mark.get_by_role("heading", name="Open cases of bob")).to_be_visible()
    await expect(mark.get_by_role("form", name="Roles and scope")).to_have_count(0)
