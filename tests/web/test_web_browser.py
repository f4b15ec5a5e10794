"""Each role's main journey through the web pages, in a real browser (Debian's chromium via
Playwright), against the real stack: the app under uvicorn on a loopback port, a worker on the
Temporal dev server, SQLite and SMTP. A screenshot of every page lands in
test-artifacts/screenshots/ (git-ignored) for a person to look at."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from policies.calendar import LONDON, add_working_days
from records.database import Database
from records.models import CaseEvent, Staff
from tests.api.test_absences import end_monitors, working_days_back
from tests.support.browser import chromium, shot
from tests.support.configuration import settings_for
from tests.support.harness import JUST_CULTURE
from tests.support.people import add_people
from tests.support.ports import free_port
from tests.support.smtp import SmtpServer
from tests.support.temporal import end_case_workflows
from tests.support.waiting import eventually
from worker import build_worker

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REFER = {
    "terms_of_reference": "Timesheets, January to March",
    "investigating_officer": "Dr Khan",
    **JUST_CULTURE,
}
REPORT = {"report_summary": "Case to answer", "recommendation": "Formal hearing"}


@dataclass
class WebStack:
    base: str
    database: Database
    browser: Browser

    async def api(self, method: str, path: str, username: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(base_url=self.base) as http:
            token = await http.post(
                "/api/auth/token", data={"username": username, "password": "demo"}
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            reply = await http.request(method, path, headers=headers, **kwargs)
            assert reply.status_code < 300, reply.text
            return reply.json()

    async def open_case(self, username: str, *steps: tuple[str, dict[str, str]]) -> str:
        case = await self.api(
            "POST",
            "/api/cases",
            username,
            json={"case_type": "disciplinary", "employee_id": "E1001", "summary": "Timesheets"},
        )

        async def started() -> bool:
            async with self.database.sessions() as session:
                kinds = await session.scalars(
                    select(CaseEvent.kind).where(CaseEvent.case_id == case["id"])
                )
                return "opened" in list(kinds)

        await eventually(started, seconds=15)
        for action, data in steps:
            await self.api(
                "POST", f"/api/cases/{case['id']}/actions/{action}", username, json={"data": data}
            )
        return str(case["id"])

    async def page_for(self, username: str) -> Page:
        """A fresh browser context (its own cookies), signed in as `username`."""
        context = await self.browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await page.goto(f"{self.base}/")
        await shot(page, "sign-in")
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password").fill("demo")
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_load_state("networkidle")
        return page


@pytest_asyncio.fixture
async def web_stack(
    dev_server_env: WorkflowEnvironment, sqlite_database: Database, smtp_server: SmtpServer
) -> AsyncIterator[WebStack]:
    await add_people(sqlite_database)
    port = free_port()
    settings = settings_for(
        sqlite_database,
        smtp_port=smtp_server.port,
        temporal_address=dev_server_env.client.service_client.config.target_host,
        task_queue=f"web-test-{uuid.uuid4()}",
        dev=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    worker = build_worker(dev_server_env.client, sqlite_database, settings, settings.task_queue)
    try:
        async with worker, chromium() as browser:
            while not server.started:
                await asyncio.sleep(0.05)
            yield WebStack(f"http://127.0.0.1:{port}", sqlite_database, browser)
            await end_case_workflows(dev_server_env, sqlite_database)
    finally:
        server.should_exit = True
        await serving


def working_days_ahead(days: int) -> str:
    today = datetime.now(UTC).astimezone(LONDON).date()
    return add_working_days(today, days).isoformat()


async def test_each_role_main_journey(web_stack: WebStack) -> None:
    stack = web_stack
    first = await stack.open_case("alice")
    hearing = await stack.open_case(
        "alice", ("refer_to_investigation", REFER), ("submit_report", REPORT)
    )
    await stack.open_case("bob")

    # ---- advisor: my cases, a case advanced, a rule's refusal beside its field --------------
    alice = await stack.page_for("alice")
    await expect(alice.get_by_role("heading", name="My cases")).to_be_visible()
    await expect(alice.get_by_role("link", name=first)).to_be_visible()
    await shot(alice, "advisor-my-cases")
    await alice.get_by_label("Search").fill(hearing)
    await expect(alice.get_by_role("link", name=first)).to_have_count(0)
    await alice.get_by_label("Search").fill("")
    await alice.get_by_role("link", name=first).click()
    await expect(alice.get_by_role("heading", name=f"Case {first}")).to_be_visible()
    await shot(alice, "advisor-case")
    form = alice.locator("form", has=alice.get_by_role("heading", name="Refer to formal"))
    await form.get_by_label("Terms of reference").fill(REFER["terms_of_reference"])
    await form.get_by_label("Investigating officer").fill(REFER["investigating_officer"])
    # The Just Culture record the policy asks for before any formal route.
    await form.get_by_label("Was there any intention to cause harm?").select_option("No")
    await form.get_by_label("Are there indications of ill health").select_option("No")
    await form.get_by_label("Did the person knowingly depart").select_option("Yes")
    await form.get_by_label("Are there indications that other individuals").select_option("No")
    await form.get_by_label("Significant mitigating circumstances").fill("Short-staffed ward")
    await form.get_by_role("button").click()
    await expect(alice.get_by_role("status")).to_contain_text("the step is recorded")
    await expect(alice.locator("dl.summary").first).to_contain_text("Investigation")
    await shot(alice, "advisor-case-advanced")

    await alice.goto(f"{stack.base}/cases/{hearing}")
    form = alice.locator("form", has=alice.get_by_role("heading", name="Schedule hearing"))
    await form.get_by_label("Hearing date").fill(working_days_ahead(1))
    await form.get_by_label("Panel chair").fill("Ms Obi")
    await form.get_by_role("button").click()
    date_field = alice.locator(".has-error", has=alice.get_by_label("Hearing date"))
    await expect(date_field.locator(".field-error")).to_contain_text("notice")
    await shot(alice, "advisor-rule-error")
    form = alice.locator("form", has=alice.get_by_role("heading", name="Schedule hearing"))
    await form.get_by_label("Hearing date").fill(working_days_ahead(8))
    await form.get_by_role("button").click()
    await expect(alice.locator("dl.summary").first).to_contain_text("Hearing")

    await alice.goto(f"{stack.base}/cases/new")
    await shot(alice, "advisor-new-case")
    await alice.goto(f"{stack.base}/enquiries/new")
    await shot(alice, "advisor-enquiry")

    # ---- manager: the team's workload, and a case reassigned -------------------------------
    mark = await stack.page_for("mark")
    await expect(mark.get_by_role("heading", name="Team")).to_be_visible()
    await shot(mark, "manager-team")
    await mark.get_by_label(f"Advisor for {first}").select_option("bob")
    await mark.get_by_role("button", name=f"Reassign {first}").click()
    await expect(mark.get_by_role("status")).to_contain_text(f"Case {first} reassigned")
    case = await stack.api("GET", f"/api/cases/{first}", "mark")
    assert case["advisor"] == "bob"

    # ---- policy owner: an invalid edit shown at its line, fixed, diffed, published ---------
    polly = await stack.page_for("polly")
    await expect(polly.get_by_role("heading", name="Policies")).to_be_visible()
    await shot(polly, "policy-owner-policies")
    await polly.goto(f"{stack.base}/policies/disciplinary/edit")
    editor = polly.get_by_label("Definition (YAML)")
    text = await editor.input_value()
    broken = text.replace("due: P21D", "due: 21 days", 1)
    assert broken != text
    await editor.fill(broken)
    await polly.get_by_role("button", name="Check").click()
    wrong_line = broken.splitlines().index("  due: 21 days") + 1
    line = polly.locator(f"#line-{wrong_line}")
    await expect(line).to_have_class(re.compile("bad"))
    await expect(polly.locator(".msg").first).to_contain_text(f"Line {wrong_line}")
    await expect(polly.locator(".msg").first).to_contain_text("stages[1].due")
    await shot(polly, "policy-owner-invalid-edit")
    await polly.get_by_label("Definition (YAML)").fill(text.replace("due: P21D", "due: P28D", 1))
    await polly.get_by_role("button", name="Check").click()
    await expect(polly.locator(".changes")).to_contain_text("Stage 'investigation'")
    await polly.get_by_label("Change note").fill("Investigations get four weeks")
    await shot(polly, "policy-owner-diff")
    await polly.get_by_role("button", name="Publish version 2").click()
    await expect(polly.get_by_role("status")).to_contain_text("Version 2 published")
    await shot(polly, "policy-owner-published")

    # ---- HR director: the overview and its heat map ----------------------------------------
    hannah = await stack.page_for("hannah")
    await expect(hannah.get_by_role("heading", name="Overview")).to_be_visible()
    heat = hannah.get_by_role("img", name="Heat map of open cases by division and case type")
    await expect(heat).to_be_visible()
    await expect(heat.locator("desc")).to_contain_text("Medicine, Disciplinary: 3 open")
    await shot(hannah, "director-overview")

    # ---- HR director: the reports page, from the navigation ---------------------------------
    await hannah.get_by_role("link", name="Reports").click()
    await expect(hannah.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    # The three disciplinary cases opened above, in the first row of cases by type.
    by_type = hannah.get_by_role("table", name="Opened, closed and open cases by case type")
    await expect(by_type.locator("tbody tr").first.locator("td").nth(0)).to_have_text(
        "disciplinary"
    )
    await expect(by_type.locator("tbody tr").first.locator("td").nth(1)).to_have_text("3")
    await expect(hannah.get_by_role("heading", name="WRES indicator 3")).to_be_visible()
    await shot(hannah, "director-reports")


async def test_attendance_page_from_the_case_it_opened(
    web_stack: WebStack, dev_server_env: WorkflowEnvironment
) -> None:
    """Four one-day spells from the e-roster open a sickness case; the advisor goes from the
    case to the employee's attendance page: the record, the Bradford score, the trigger with
    its figures and the case it opened. Who may not read it is refused as by the API."""
    stack = web_stack
    async with stack.database.sessions() as session:
        organisation_id = await session.scalar(
            select(Staff.organisation_id).where(Staff.employee_id == "E1001")
        )
    assert organisation_id is not None
    four = [day.isoformat() for day in working_days_back(4, 40)]
    try:
        await stack.api(
            "POST",
            "/api/absences",
            "alice",
            json=[
                {"employee_id": "E1001", "first_day": day, "last_day": day, "reason": "Migraine"}
                for day in four
            ],
        )

        async def opened() -> bool:
            record = await stack.api("GET", "/api/staff/E1001/attendance", "alice")
            return record["open_case"] is not None

        await eventually(opened, 20)
        record = await stack.api("GET", "/api/staff/E1001/attendance", "alice")
        case_id = record["open_case"]

        alice = await stack.page_for("alice")
        await alice.goto(f"{stack.base}/cases/{case_id}")
        await alice.get_by_role("link", name="attendance record").click()
        await expect(alice.get_by_role("heading", name="Attendance")).to_contain_text("E1001")
        await expect(alice.locator("#figure-bradford")).to_contain_text("64")
        await expect(alice.locator("#figure-bradford")).to_contain_text("4² \u00d7 4 working days")
        await expect(alice.locator("#figure-episodes")).to_contain_text("4")
        triggers = alice.locator("#triggers tbody tr")
        await expect(triggers).to_have_count(1)
        await expect(triggers.first).to_contain_text("Episodes of absence")
        await expect(triggers.first).to_contain_text("4 spell(s), 4 working day(s) lost")
        await expect(triggers.first).to_contain_text("Bradford 64")
        await expect(triggers.first).to_contain_text("Case opened")
        absences = alice.locator("#absences tbody tr")
        await expect(absences).to_have_count(4)
        await expect(absences.first).to_contain_text(four[-1])  # the latest first
        cases = alice.locator("#sickness-cases")
        await expect(cases).to_contain_text("Informal attendance review meeting")
        await expect(cases).to_contain_text("attendance monitoring")
        await shot(alice, "advisor-attendance")
        await triggers.first.get_by_role("link", name=case_id).click()
        await expect(alice.get_by_role("heading", name=f"Case {case_id}")).to_be_visible()

        # The work list links each employee to their attendance page too.
        await alice.goto(f"{stack.base}/cases?scope=all&q={case_id}")
        employee = alice.locator("#case-rows").get_by_role("link", name="E1001")
        await expect(employee).to_have_attribute("href", "/staff/E1001/attendance")

        # The API's rules: a policy owner reads no attendance; another trust finds no one.
        polly = await stack.page_for("polly")
        refused = await polly.goto(f"{stack.base}/staff/E1001/attendance")
        assert refused is not None and refused.status == 403
        oscar = await stack.page_for("oscar")
        hidden = await oscar.goto(f"{stack.base}/staff/E1001/attendance")
        assert hidden is not None and hidden.status == 404
        await expect(oscar.get_by_role("heading", name="Not found")).to_be_visible()
    finally:
        await end_monitors(dev_server_env.client, organisation_id, ["E1001"])


async def test_letters_section_previews_and_saves_a_letter(web_stack: WebStack) -> None:
    """The advisor picks the hearing invitation offered at the hearing stage, reads it filled
    in, saves it as a PDF and finds it in the documents; an HR director previews but cannot
    save. (The dates' rules are checked in tests/api/test_letters.py.)"""
    stack = web_stack
    hearing = working_days_ahead(6)
    case_id = await stack.open_case(
        "alice",
        ("refer_to_investigation", REFER),
        ("submit_report", REPORT),
        ("schedule_hearing", {"hearing_date": hearing, "panel_chair": "Ms Ode"}),
    )
    on = datetime.fromisoformat(hearing)
    alice = await stack.page_for("alice")
    await alice.goto(f"{stack.base}/cases/{case_id}")
    letters = alice.locator("#letters")
    await letters.get_by_label("Letter to the employee").select_option(
        label="Invitation to a disciplinary hearing"
    )
    await letters.get_by_role("button", name="Preview").click()
    preview = alice.locator("#letter-preview")
    await expect(preview).to_contain_text("Dear Priya Patel,")
    await expect(preview).to_contain_text(f"Date: {on.day} {on:%B %Y}")
    await expect(preview).to_contain_text("Chaired by: Ms Ode")
    await expect(preview).to_contain_text("Timesheets, January to March")
    await shot(alice, "case-letter-preview")
    await alice.locator("#letters").get_by_role("button", name="Save as PDF").click()
    await expect(alice.get_by_text("Letter saved: it is in the documents.")).to_be_visible()
    filename = f"{case_id} Invitation to a disciplinary hearing.pdf"
    await expect(alice.locator("#documents")).to_contain_text(filename)
    await expect(alice.get_by_text(f"Document added: {filename}")).to_be_visible()
    documents = await stack.api("GET", f"/api/cases/{case_id}/documents", "alice")
    assert [d["filename"] for d in documents] == [filename]

    hannah = await stack.page_for("hannah")
    await hannah.goto(f"{stack.base}/cases/{case_id}?letter=hearing_invitation#letters")
    await expect(hannah.locator("#letter-preview")).to_contain_text("Dear Priya Patel,")
    await expect(
        hannah.locator("#letters").get_by_role("button", name="Save as PDF")
    ).to_have_count(0)
