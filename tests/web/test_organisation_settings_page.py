"""/admin/settings in a real browser (Debian's chromium via Playwright), against the app under
uvicorn over SQLite: an admin sees the settings in force, a refused change is shown with each
problem beside its field and nothing saved, a good one is saved (post, redirect, get) and
audited; an HR director reads the page without changing it; others are refused."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import expect
from sqlalchemy import select

from api.main import create_app
from records.database import Database
from records.models import AuditEntry, Organisation
from records.people import create_user
from tests.support.browser import chromium, shot, sign_in
from tests.support.configuration import make_settings
from tests.support.people import DEMO_HASH, add_people
from tests.support.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest_asyncio.fixture
async def web(sqlite_database: Database) -> AsyncIterator[str]:
    people = await add_people(sqlite_database)
    async with sqlite_database.transaction() as session:
        await create_user(
            session, people.organisation, "ada", DEMO_HASH, ["admin"], "Ada Admin", "ada@x.nhs.uk"
        )
    port = free_port()
    url = str(sqlite_database.engine.url).replace("+aiosqlite", "")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(make_settings(url)), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def test_an_admin_changes_the_settings_with_problems_shown_beside_their_fields(
    web: str, sqlite_database: Database
) -> None:
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 1400})
        page = await context.new_page()
        await sign_in(page, web, "ada")
        await page.get_by_role("link", name="Settings").click()
        await expect(
            page.get_by_role("heading", name="Organisation settings: North Trust")
        ).to_be_visible()
        await expect(page.get_by_label("Region")).to_have_value("england-and-wales")
        await expect(page.get_by_label("Show counts below this as *")).to_have_value("5")
        await expect(page.locator("#default-hourly_rates")).to_be_checked()
        await shot(page, "admin-settings")

        # Two bad fields: each problem beside its own, nothing saved.
        await page.locator("#default-hourly_rates").uncheck()
        await page.locator("#hourly_rates-advisor").fill("-4")
        await page.locator("#default-foi_threshold").uncheck()
        await page.get_by_label("Show counts below this as *").fill("0")
        await page.get_by_label("Region").select_option("scotland")
        await page.get_by_role("button", name="Save settings").click()
        await expect(page.get_by_role("alert")).to_contain_text("Nothing was changed")
        await expect(page.locator("#hourly_rates-error")).to_contain_text(
            "hourly_rates: the figure for advisor may not be negative."
        )
        await expect(page.locator("#foi-threshold-error")).to_contain_text(
            "foi_threshold must be from 1 to 100"
        )
        # What was typed is still there to correct.
        await expect(page.locator("#hourly_rates-advisor")).to_have_value("-4")
        await expect(page.get_by_label("Region")).to_have_value("scotland")
        await shot(page, "admin-settings-problems")
        async with sqlite_database.sessions() as session:
            north = await session.scalar(select(Organisation).where(Organisation.code == "RXA"))
            assert north is not None
            assert (north.holiday_region, north.hourly_rates, north.foi_threshold) == (
                "england-and-wales",
                None,
                None,
            )

        await page.locator("#hourly_rates-advisor").fill("40")
        await page.get_by_label("Show counts below this as *").fill("10")
        await page.get_by_label("Sender name").fill("North Trust HR")
        await page.get_by_role("button", name="Save settings").click()
        await expect(page.get_by_role("status")).to_contain_text("The settings are saved")
        assert page.url.endswith("/admin/settings?saved=yes")
        await expect(page.get_by_label("Region")).to_have_value("scotland")
        await expect(page.locator("#hourly_rates-advisor")).to_have_value("40")
        await expect(page.locator("#default-hourly_rates")).not_to_be_checked()
        await expect(page.locator("#default-case_type_weights")).to_be_checked()
        await shot(page, "admin-settings-saved")
        async with sqlite_database.sessions() as session:
            [row] = await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "organisation.settings")
            )
        assert set(row.detail["changed"]) == {
            "holiday_region",
            "hourly_rates",
            "foi_threshold",
            "mail_sender_name",
        }
        assert row.detail["changed"]["hourly_rates"]["new"]["advisor"] == 40

        # Saving the page as it is changes nothing.
        await page.get_by_role("button", name="Save settings").click()
        await expect(page.get_by_role("status")).to_contain_text("The settings are saved")
        async with sqlite_database.sessions() as session:
            rows = await session.scalars(
                select(AuditEntry.id).where(AuditEntry.action == "organisation.settings")
            )
            assert len(list(rows)) == 1

        # An HR director reads the page without a way to change it; an advisor is refused.
        hannah = await (await browser.new_context()).new_page()
        await sign_in(hannah, web, "hannah")
        await expect(hannah.get_by_role("link", name="Settings")).to_have_count(0)
        await hannah.goto(f"{web}/admin/settings")
        await expect(hannah.get_by_label("Region")).to_be_disabled()
        await expect(hannah.get_by_role("button", name="Save settings")).to_have_count(0)
        alice = await (await browser.new_context()).new_page()
        await sign_in(alice, web, "alice")
        reply = await alice.goto(f"{web}/admin/settings")
        assert reply is not None and reply.status == 403
