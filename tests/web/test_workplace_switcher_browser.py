"""The "Working in" switcher in a real browser (Debian's chromium via Playwright) against the
real stack: the North Trust's admin adds shona, a manager of the South Trust, as one of its
advisors on /admin/users (by her username and address); she signs in to her own trust, sees
only its cases, switches to the North Trust and sees only its; a page of the trust she left
is then as if it did not exist. Someone who works in one organisation sees no switcher."""

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from records.models import AuditEntry, Case, Organisation
from records.people import create_user
from tests.support.browser import shot
from tests.support.people import DEMO_HASH, SHARED
from tests.support.waiting import eventually
from tests.web.test_web_browser import WebStack, web_stack

__all__ = ["web_stack"]  # the fixture, shared with the role journeys
pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_a_person_of_two_organisations_works_in_one_at_a_time(web_stack: WebStack) -> None:
    stack = web_stack
    async with stack.database.transaction() as session:
        north = await session.scalar(select(Organisation).where(Organisation.code == "RXA"))
        south = await session.scalar(select(Organisation).where(Organisation.code == "RXB"))
        assert north is not None and south is not None
        await create_user(session, north, "adam", DEMO_HASH, ["admin"], "Adam Admin", "adam@n.ex")
        await create_user(
            session,
            south,
            SHARED,
            DEMO_HASH,
            ["manager"],
            "Shona Shared",
            "shona@shared.example",
            divisions=["Estates"],
        )
    north_case = await stack.open_case("alice")  # alice's, of shona's team in the North
    opened = await stack.api(
        "POST",
        "/api/cases",
        "oscar",
        json={"case_type": "disciplinary", "employee_id": "S9001", "summary": "Rota"},
    )
    south_case = str(opened["id"])

    async def south_case_recorded() -> bool:
        async with stack.database.sessions() as session:
            return await session.get(Case, south_case) is not None

    await eventually(south_case_recorded, seconds=15)

    adam = await stack.page_for("adam")
    await adam.get_by_role("link", name="Accounts").click()
    form = adam.get_by_role("form", name="Add someone from another organisation")
    await form.get_by_label("Their username").fill(SHARED)
    await form.get_by_label("The email address of their account").fill("shona@elsewhere.example")
    await form.get_by_role("checkbox", name="Advisor").check()
    await form.get_by_label("Team here").fill("North ER")
    await form.get_by_role("button", name="Add as a member").click()
    await expect(adam.get_by_role("alert")).to_contain_text("There is no active account")
    form = adam.get_by_role("form", name="Add someone from another organisation")
    await form.get_by_label("The email address of their account").fill("shona@shared.example")
    await form.get_by_role("button", name="Add as a member").click()
    await expect(adam.get_by_role("status")).to_contain_text("now a member of your organisation")
    await expect(adam.get_by_text("Member from another organisation")).to_be_visible()
    await shot(adam, "admin-user-member")

    shona = await stack.page_for(SHARED)
    switcher = shona.get_by_label("Working in")
    await expect(switcher).to_have_value("RXB")
    await shona.goto(f"{stack.base}/cases")
    await expect(shona.get_by_role("link", name=south_case)).to_be_visible()
    await expect(shona.get_by_role("link", name=north_case)).to_have_count(0)
    await shot(shona, "workplace-south")

    await shona.get_by_label("Working in").select_option("RXA")
    await shona.get_by_role("button", name="Switch").click()
    await shona.wait_for_load_state("networkidle")
    await expect(shona.get_by_label("Working in")).to_have_value("RXA")
    await expect(shona.get_by_text("(advisor)")).to_be_visible()
    # As an advisor there, the cases she sees are her team's (alice's is one), not only hers.
    await shona.goto(f"{stack.base}/cases?scope=all")
    await expect(shona.get_by_role("link", name=north_case)).to_be_visible()
    await expect(shona.get_by_role("link", name=south_case)).to_have_count(0)
    await shot(shona, "workplace-north")
    reply = await shona.goto(f"{stack.base}/cases/{south_case}")
    assert reply is not None and reply.status == 404

    async with stack.database.sessions() as session:
        chosen = list(
            await session.scalars(
                select(AuditEntry.organisation_id).where(
                    AuditEntry.action == "auth.organisation_chosen",
                    AuditEntry.username == SHARED,
                )
            )
        )
    assert chosen == [north.id]

    alice = await stack.page_for("alice")
    await expect(alice.get_by_text("Signed in as")).to_be_visible()
    await expect(alice.get_by_label("Working in")).to_have_count(0)
