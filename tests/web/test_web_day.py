"""An HR team's working day in a real browser (issue 19): finding closed cases, long text
refused and kept, errors as pages, a step from a stale tab, and dates that cannot be.
Same stack as test_web_browser.py: the app under uvicorn, a worker, SQLite and SMTP."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from policies.calendar import LONDON
from tests.support.browser import shot
from tests.web.test_web_browser import REFER, REPORT, WebStack, web_stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["web_stack"]  # the fixture, used by name


def london_today() -> datetime:
    return datetime.now(UTC).astimezone(LONDON)


async def test_closed_cases_are_found_by_status_name_and_summary_words(
    web_stack: WebStack,
) -> None:
    """Defect 1: /cases listed open cases only, and a closed reference said 'No open cases
    match'. Now a status filter, date ranges and a search over reference, employee number,
    employee name and summary words find it."""
    stack = web_stack
    enquiry = await stack.api(
        "POST",
        "/api/cases",
        "alice",
        json={"case_type": "enquiry", "employee_id": "E1001", "summary": "Rota dispute, ward 7"},
    )
    closed = enquiry["id"]
    await stack.api(
        "POST",
        f"/api/cases/{closed}/actions/close_with_advice",
        "alice",
        json={"data": {"outcome": "Follow the rota policy"}},
    )
    still_open = await stack.open_case("alice")

    alice = await stack.page_for("alice")
    rows = alice.locator("#case-rows")
    await alice.get_by_label("Search").fill(closed)
    await expect(rows).to_contain_text("No open or paused cases match")
    await expect(rows).to_contain_text("Any status")
    await alice.get_by_label("Status").select_option("closed")
    await expect(rows.get_by_role("link", name=closed)).to_be_visible()
    await expect(rows).to_contain_text("Closed")
    await alice.get_by_label("Search").fill("priya rota")
    await expect(rows.get_by_role("link", name=closed)).to_be_visible()
    await alice.get_by_label("Status").select_option("all")
    await alice.get_by_label("Search").fill("Patel")
    await expect(rows.get_by_role("link", name=closed)).to_be_visible()
    await expect(rows.get_by_role("link", name=still_open)).to_be_visible()
    await shot(alice, "advisor-search-any-status")
    tomorrow = (london_today() + timedelta(days=1)).date().isoformat()
    await alice.get_by_label("Closed from").fill(tomorrow)
    await expect(rows.get_by_role("link", name=closed)).to_have_count(0)
    await alice.get_by_label("Closed from").fill(london_today().date().isoformat())
    await expect(rows.get_by_role("link", name=closed)).to_be_visible()
    await expect(rows.get_by_role("link", name=still_open)).to_have_count(0)
    # The search is in the address, so the list can be reloaded or bookmarked.
    await alice.reload()
    await expect(alice.locator("#case-rows").get_by_role("link", name=closed)).to_be_visible()


async def test_a_note_too_long_is_refused_with_its_limit_and_kept(web_stack: WebStack) -> None:
    """Defect 4: a 205,200-character note was saved as 20,000 characters with 'Note added'."""
    stack = web_stack
    case_id = await stack.open_case("alice")
    alice = await stack.page_for("alice")
    await alice.goto(f"{stack.base}/cases/{case_id}")
    long_note = "Handover notes. " * 12_825  # 205,200 characters
    assert len(long_note.strip()) == 205_199
    await alice.locator("#note-text").fill(long_note)
    await alice.get_by_role("button", name="Add note").click()
    error = alice.locator("#note-text-error")
    await expect(error).to_contain_text("205,199 characters long")
    await expect(error).to_contain_text("at most 20,000")
    await expect(alice.get_by_role("status")).to_have_count(0)
    kept = await alice.locator("#note-text").input_value()
    assert kept == long_note.strip()
    await shot(alice, "advisor-note-too-long")
    notes = await stack.api("GET", f"/api/cases/{case_id}/notes", "alice")
    assert notes == []


async def test_refused_forms_reload_as_pages_and_errors_are_pages(web_stack: WebStack) -> None:
    """Defect 5: reloading after a refused form showed {"detail":"Method Not Allowed"}; every
    error a browser reaches is a page in the layout with a way back."""
    stack = web_stack
    case_id = await stack.open_case("alice")
    alice = await stack.page_for("alice")
    await alice.goto(f"{stack.base}/cases/{case_id}")
    form = alice.locator("form", has=alice.get_by_role("heading", name="Pause the clock"))
    await form.get_by_label("Reason").fill("   ")
    await form.get_by_label("Reason").evaluate("field => field.removeAttribute('required')")
    await form.get_by_role("button", name="Pause").click()
    await expect(alice.locator(".field-error, .error-summary").first).to_be_visible()
    # The address of the refusal serves a GET: the case page, never JSON.
    await alice.reload()
    await expect(alice.get_by_role("heading", name=f"Case {case_id}")).to_be_visible()
    assert alice.url.endswith(f"/cases/{case_id}")
    await alice.goto(f"{stack.base}/cases/{case_id}/notes")
    await expect(alice.get_by_role("heading", name=f"Case {case_id}")).to_be_visible()

    missing = await alice.goto(f"{stack.base}/no-such-page")
    assert missing is not None and missing.status == 404
    assert "text/html" in (missing.headers.get("content-type") or "")
    await expect(alice.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(alice.get_by_role("link", name="Go to your start page")).to_be_visible()
    await expect(alice.get_by_role("button", name="Sign out")).to_be_visible()  # the layout
    await shot(alice, "error-not-found")
    hidden = await alice.goto(f"{stack.base}/cases/DIS-1999-0001")
    assert hidden is not None and hidden.status == 404
    await expect(alice.get_by_role("heading", name="Not found")).to_be_visible()
    forbidden = await alice.goto(f"{stack.base}/team")
    assert forbidden is not None and forbidden.status == 403
    await expect(alice.get_by_role("heading", name="Not allowed")).to_be_visible()
    # A form posted from elsewhere with the wrong method: a page, with the way back.
    await alice.goto(f"{stack.base}/cases/{case_id}")
    wrong = await alice.evaluate(
        "async () => { const r = await fetch('/cases', {method: 'POST'});"
        " return [r.status, r.headers.get('content-type'), await r.text()]; }"
    )
    assert wrong[0] == 405 and "text/html" in wrong[1] and "Not a page" in wrong[2]
    # The API stays JSON.
    api = await alice.goto(f"{stack.base}/api/no-such-thing")
    assert api is not None and api.status == 404
    assert "application/json" in (api.headers.get("content-type") or "")


async def test_a_step_from_a_stale_tab_says_why_and_keeps_the_text(web_stack: WebStack) -> None:
    """Defect 6: with the case open in two tabs, the second tab's step was refused (409) but
    the page redrew with no message and the typed text was lost."""
    stack = web_stack
    case_id = await stack.open_case("alice", ("refer_to_investigation", REFER))
    alice = await stack.page_for("alice")
    first = alice
    second = await alice.context.new_page()
    for tab in (first, second):
        await tab.goto(f"{stack.base}/cases/{case_id}")
    form = first.locator(
        "form", has=first.get_by_role("heading", name="Submit investigation report")
    )
    await form.get_by_label("Summary of the investigation report").fill(REPORT["report_summary"])
    await form.get_by_label("Recommendation").select_option(REPORT["recommendation"])
    await form.get_by_role("button").click()
    await expect(first.get_by_role("status")).to_contain_text("the step is recorded")

    stale = second.locator(
        "form", has=second.get_by_role("heading", name="Submit investigation report")
    )
    typed = "The timesheets were signed by the ward manager, not the employee."
    await stale.get_by_label("Summary of the investigation report").fill(typed)
    await stale.get_by_label("Recommendation").select_option("No case to answer")
    await stale.get_by_role("button").click()
    refusal = second.locator("#not-done")
    await expect(refusal).to_contain_text("This case moved to Arrange hearing since you opened it")
    await expect(refusal).to_contain_text("so this was not done")
    await expect(refusal.get_by_label("Summary of the investigation report")).to_have_value(typed)
    await shot(second, "advisor-stale-tab")
    case = await stack.api("GET", f"/api/cases/{case_id}", "alice")
    assert case["stage"]["key"] == "hearing_arrangement"
    assert all(typed not in str(event) for event in case["timeline"])


async def test_dates_say_which_way_they_look_and_impossible_ones_are_refused(
    web_stack: WebStack,
) -> None:
    """Defect 7: an outcome letter 'sent' next June closed the case. A date that records
    something done cannot be in the future; every date field's hint says which."""
    stack = web_stack
    concern = await stack.api(
        "POST",
        "/api/cases",
        "alice",
        json={"case_type": "freedom_to_speak_up", "employee_id": "E1001", "summary": "Rotas"},
    )
    alice = await stack.page_for("alice")
    await alice.goto(f"{stack.base}/cases/{concern['id']}")
    form = alice.locator("form", has=alice.get_by_role("heading", name="Acknowledged"))
    date_field = form.get_by_label("Date the concern was acknowledged")
    await expect(form).to_contain_text("The day it was done: today or earlier.")
    today = london_today().date()
    await expect(date_field).to_have_attribute("max", today.isoformat())
    # Past the browser's own check, the server's rule still holds.
    await date_field.evaluate("field => field.removeAttribute('max')")
    await date_field.fill((today + timedelta(days=200)).isoformat())
    await form.get_by_label("How the person chose to speak up").select_option("Openly")
    await form.get_by_role("button").click()
    error = alice.locator(".has-error", has=alice.get_by_label("Date the concern was acknowledged"))
    await expect(error.locator(".field-error")).to_contain_text("cannot be in the future")
    await shot(alice, "advisor-date-in-the-future")
    case = await stack.api("GET", f"/api/cases/{concern['id']}", "alice")
    assert case["stage"]["key"] == "received"


async def test_a_stage_running_late_is_counted_beside_the_on_time_rate(
    web_stack: WebStack,
) -> None:
    """Defect 3: a stage's on-time rate counted only finished stages, so an investigation past
    its deadline and still open was invisible. An imported case in investigation for 30 days
    (the policy gives 21) is shown as open overdue, and the rate so far counts it late."""
    stack = web_stack
    now = london_today()
    await stack.api(
        "POST",
        "/api/cases/import",
        "alice",
        json=[
            {
                "case_type": "disciplinary",
                "employee_id": "E1001",
                "summary": "Timesheets",
                "opened_at": (now - timedelta(days=40)).isoformat(),
                "stage": "investigation",
                "stage_started_at": (now - timedelta(days=30)).isoformat(),
            }
        ],
    )
    hannah = await stack.page_for("hannah")
    await hannah.goto(f"{stack.base}/reports")
    table = hannah.get_by_role("table", name="Stages by case type")
    headers = [text.strip() for text in await table.locator("thead th").all_inner_texts()]
    row = table.locator("tbody tr", has_text="investigation")
    cells = [text.strip() for text in await row.locator("td").all_inner_texts()]
    found = dict(zip(headers, cells, strict=True))
    assert found["stage"] == "investigation"
    assert found["ended"] == "0"
    assert found["open overdue"] == "1"
    assert found["on time rate so far"] == "0.00"
    await shot(hannah, "director-reports-open-overdue")
