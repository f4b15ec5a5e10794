"""/admin/case-import: upload a spreadsheet of cases under way, preview, fix a row in place,
import — over HTTP (its form rules) and in a real browser (the whole journey).

The deadlines shown are the disciplinary policy's, worked out by hand from its rules
(policies/definitions/disciplinary.yaml; policies/calendar.py): the assessment stage is due
5 working days after the day it began, not counting that day, weekends or England & Wales
bank holidays (gov.uk/bank-holidays: Good Friday 18 April and Easter Monday 21 April 2025),
at 23:59:59 London time; the whole case 32 calendar days after the day it opened, likewise.
"""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Locator, expect
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from records.database import Database
from records.models import Case
from tests.support.browser import chromium, shot, sign_in
from tests.support.configuration import settings_for
from tests.support.people import add_people
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer
from tests.support.stack import ApiStack
from tests.web.test_web_security import Browser
from worker import build_worker

HEADER = "case_type,employee_id,summary,risk,advisor,opened_at,stage,stage_started_at\n"
# Opened Mon 14 April 2025; assessment begun Tue 15 April: working days Wed 16, Thu 17,
# (Good Friday, the weekend, Easter Monday), Tue 22, Wed 23, Thu 24 → due Thu 24 April 2025
# 23:59:59 BST; the whole case 14 April + 32 days = Fri 16 May 2025.
EASTER = "disciplinary,E1001,Missed handovers,routine,alice,2025-04-14,assessment,2025-04-15\n"
EASTER_SHOWN = ("due Thu 24 Apr 2025, 23:59", "due Fri 16 May 2025, 23:59")
UNKNOWN = "disciplinary,E9999,Rota swaps,routine,bob,2025-04-14,,\n"
GRIEVANCE = "grievance,E1002,Shift allocation,routine,bob,2025-06-02,,\n"


def row_of(table: Locator, name: str) -> Locator:
    """A row of the file in the table ("Line 3"): its cells, and the case it would become."""
    header = table.page.get_by_role("rowheader", name=name, exact=True)
    return table.locator("tbody").filter(has=header)


async def case_count(database: Database) -> int:
    async with database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Case)) or 0


def form_of(page: str) -> dict[str, str]:
    """The preview table's form fields as the page holds them (hidden and text inputs)."""
    return {
        name: value
        for name, value in re.findall(
            r'<input type="(?:hidden|text)" name="([^"]+)" value="([^"]*)"', page
        )
    }


async def test_the_page_form_previews_edits_and_imports_by_post_redirect_get(
    api_stack: ApiStack,
) -> None:
    browser = Browser(api_stack.http)
    await browser.sign_in("alice")
    page = await browser.request("GET", "/admin/case-import")
    assert page.status_code == 200 and 'href="/admin/case-import"' in page.text  # the nav link
    template = await browser.request("GET", "/admin/case-import/template.csv")
    assert template.headers["content-type"].startswith("text/csv")
    assert template.text.splitlines()[0] == HEADER.strip()

    uploaded = await browser.request(
        "POST",
        "/admin/case-import/preview",
        data={"csrf_token": browser.csrf},
        files={"file": ("cases.csv", (HEADER + EASTER + UNKNOWN).encode(), "text/csv")},
    )
    assert uploaded.status_code == 422
    assert "There is no member of staff with id &#39;E9999&#39;." in uploaded.text
    assert all(shown in uploaded.text for shown in EASTER_SHOWN)
    assert "formaction=" not in uploaded.text  # no Import button while a row is bad
    fields = form_of(uploaded.text)
    assert fields["row-1-label"] == "line 3" and fields["row-1-employee_id"] == "E9999"

    # Fixed in place: the same rows, one cell changed, previewed again.
    fields["row-1-employee_id"] = "E1002"
    fixed = await browser.request("POST", "/admin/case-import/preview", data=fields)
    assert fixed.status_code == 200, fixed.text
    assert "All 2 rows are ready to import." in fixed.text
    ready = form_of(fixed.text)

    # Rows edited after their preview are previewed again, not imported.
    changed = {**ready, "row-0-summary": "Something else"}
    stale = await browser.request("POST", "/admin/case-import/import", data=changed)
    assert stale.status_code == 409 and "changed since the preview" in stale.text
    assert await case_count(api_stack.database) == 0

    imported = await browser.request("POST", "/admin/case-import/import", data=ready)
    assert imported.status_code == 303
    assert imported.headers["location"] == "/admin/case-import?imported=2"
    assert await case_count(api_stack.database) == 2

    # Someone whose role opens no case has neither the link nor the page.
    polly = Browser(api_stack.http)
    await polly.sign_in("polly")
    assert 'href="/admin/case-import"' not in (await polly.request("GET", "/policies")).text
    assert (await polly.request("GET", "/admin/case-import")).status_code == 403
    refused = await polly.request(
        "POST", "/admin/case-import/import", data={**ready, "csrf_token": polly.csrf}
    )
    assert refused.status_code == 403
    assert await case_count(api_stack.database) == 2


@pytest_asyncio.fixture
async def site(
    dev_server_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> AsyncIterator[str]:
    """The app under uvicorn with a worker on the dev server: the page imports for real."""
    await add_people(sqlite_database)
    port = free_port()
    settings = settings_for(
        sqlite_database,
        smtp_port=smtp_server.port,
        temporal_address=dev_server_env.client.service_client.config.target_host,
        task_queue=f"case-import-page-{uuid.uuid4()}",
        dev=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        async with build_worker(
            dev_server_env.client, sqlite_database, settings, settings.task_queue
        ):
            while not server.started:
                await asyncio.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@pytest.mark.browser
@pytest.mark.slow
async def test_an_er_lead_uploads_fixes_a_row_in_place_and_imports(
    site: str, sqlite_database: Database, tmp_path: Path
) -> None:
    spreadsheet = tmp_path / "cases.csv"
    spreadsheet.write_text(HEADER + EASTER + UNKNOWN + GRIEVANCE, encoding="utf-8")
    async with chromium() as browser:
        context = await browser.new_context(
            viewport={"width": 1400, "height": 900}, accept_downloads=True
        )
        page = await context.new_page()
        await sign_in(page, site, "alice")
        await page.get_by_role("link", name="Import cases").click()
        await expect(page.get_by_role("heading", name="Bring in cases under way")).to_be_visible()
        await expect(page.get_by_role("table", name="Columns")).to_contain_text("stage_started_at")

        async with page.expect_download() as downloading:
            await page.get_by_role("link", name="Download the template (CSV)").click()
        download = await downloading.value
        template = Path(await download.path()).read_text(encoding="utf-8")
        assert template.splitlines()[0] == HEADER.strip()

        await page.get_by_label("Spreadsheet of cases (CSV)").set_input_files(str(spreadsheet))
        await page.get_by_role("button", name="Preview", exact=True).click()
        grid = page.get_by_role("table", name="Cases to import")
        await expect(page.get_by_role("status")).to_contain_text("2 of 3 rows are ready; 1 to fix")
        line_2 = row_of(grid, "Line 2")
        for shown in EASTER_SHOWN:
            await expect(line_2).to_contain_text(shown)
        await expect(line_2).to_contain_text("Pre-formal assessment")
        await expect(line_2).to_contain_text("Breached")
        line_3 = row_of(grid, "Line 3")
        await expect(line_3).to_contain_text("There is no member of staff with id 'E9999'.")
        await expect(page.get_by_role("button", name=re.compile("^Import"))).to_have_count(0)
        await shot(page, "case-import-bad-row")
        assert await case_count(sqlite_database) == 0

        # The ER lead corrects the employee number in the table and previews again.
        await page.get_by_label("Line 3 employee_id").fill("E1002")
        await page.get_by_role("button", name="Preview again").click()
        await expect(page.get_by_role("status")).to_contain_text("All 3 rows are ready to import.")
        await expect(row_of(grid, "Line 3")).to_contain_text("Sam Jones")
        await shot(page, "case-import-preview")
        assert await case_count(sqlite_database) == 0

        await page.get_by_role("button", name="Import 3 cases").click()
        await expect(page.get_by_role("status")).to_contain_text("Imported 3 cases")
        assert page.url == f"{site}/admin/case-import?imported=3"  # post/redirect/get
        await shot(page, "case-import-imported")
        assert await case_count(sqlite_database) == 3
        await page.reload()  # a reload asks for the page again and imports nothing
        assert await case_count(sqlite_database) == 3

        await page.get_by_role("link", name="My cases").click()
        await expect(page.get_by_role("main")).to_contain_text("Missed handovers")
    async with httpx.AsyncClient(base_url=site) as http:
        assert (await http.get("/admin/case-import")).status_code == 303  # signed out: sign in
