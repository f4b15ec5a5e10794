"""Each advisor's private calendar feed, through the API on the real stack, read by icalendar."""

from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import icalendar
from sqlalchemy import select

from policies.calendar import LONDON
from records.models import AuditEntry
from services.calendar_feed import FeedEvent, render_feed
from tests.support.harness import JUST_CULTURE
from tests.support.stack import ApiStack

CASE = {"case_type": "disciplinary", "employee_id": "E1001", "summary": "Timesheets on ward 7"}
REFER = {"terms_of_reference": "Timesheets", "investigating_officer": "Dr Khan", **JUST_CULTURE}


def london_day(text: str) -> date:
    return datetime.fromisoformat(text).astimezone(LONDON).date()


async def feed(stack: ApiStack, url: str) -> tuple[int, icalendar.Calendar | None]:
    response = await stack.http.get(urlsplit(url).path)
    if response.status_code != 200:
        return response.status_code, None
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "no-store" in response.headers["cache-control"]
    return 200, icalendar.Calendar.from_ical(response.text)


def events(calendar: icalendar.Calendar | None) -> dict[str, Any]:
    assert calendar is not None
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


async def test_an_advisors_feed_holds_their_deadlines_and_follows_them(
    api_stack: ApiStack,
) -> None:
    alice, bob = await api_stack.token("alice"), await api_stack.token("bob")
    opened = (await api_stack.http.post("/api/cases", headers=alice, json=CASE)).json()
    theirs = await api_stack.http.post("/api/cases", headers=bob, json=CASE)
    assert theirs.status_code == 201
    case_id = opened["id"]
    mine = (await api_stack.http.get("/api/me/calendar", headers=alice)).json()
    assert mine == (await api_stack.http.get("/api/me/calendar", headers=alice)).json()
    assert mine["webcal_url"] == mine["url"].replace("http://", "webcal://")

    status, calendar = await feed(api_stack, mine["url"])

    assert status == 200
    found = events(calendar)
    assert set(found) == {f"{case_id}-stage-assessment@ercase", f"{case_id}-target@ercase"}
    stage = found[f"{case_id}-stage-assessment@ercase"]
    assert stage["SUMMARY"] == f"{case_id}: Pre-formal assessment due"
    # A day-based deadline is an all-day event on its day in London.
    assert stage.decoded("DTSTART") == london_day(opened["stage"]["due_at"])
    assert found[f"{case_id}-target@ercase"].decoded("DTSTART") == london_day(opened["due_at"])
    assert str(stage["URL"]).endswith(f"/cases/{case_id}")
    assert calendar is not None
    assert "Timesheets" not in calendar.to_ical().decode() and "Priya" not in str(calendar)

    # The case moves on: the assessment deadline leaves the feed, the investigation's arrives.
    moved = await api_stack.http.post(
        f"/api/cases/{case_id}/actions/refer_to_investigation", headers=alice, json={"data": REFER}
    )
    assert moved.status_code == 200, moved.text
    _, calendar = await feed(api_stack, mine["url"])
    after = events(calendar)
    assert set(after) == {f"{case_id}-stage-investigation@ercase", f"{case_id}-target@ercase"}
    investigation = after[f"{case_id}-stage-investigation@ercase"]
    assert investigation.decoded("DTSTART") == london_day(moved.json()["stage"]["due_at"])
    assert (
        after[f"{case_id}-target@ercase"]["SEQUENCE"]
        > found[f"{case_id}-target@ercase"]["SEQUENCE"]
    )

    # Paused, the deadlines are not fixed: the case leaves the feed until it resumes.
    paused = await api_stack.http.post(
        f"/api/cases/{case_id}/pause", headers=alice, json={"reason": "Off sick"}
    )
    assert paused.status_code == 200
    _, calendar = await feed(api_stack, mine["url"])
    assert events(calendar) == {}

    async with api_stack.database.sessions() as session:
        reads = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "calendar.feed"))
        )
    assert [entry.username for entry in reads] == ["alice"] * 3


async def test_replacing_or_revoking_the_token_ends_the_old_url(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    first = (await api_stack.http.get("/api/me/calendar", headers=alice)).json()["url"]

    replaced = await api_stack.http.post("/api/me/calendar/token", headers=alice)
    second = replaced.json()["url"]

    assert replaced.status_code == 200 and second != first
    assert (await feed(api_stack, first))[0] == 404
    assert (await feed(api_stack, second))[0] == 200
    revoked = await api_stack.http.delete("/api/me/calendar/token", headers=alice)
    assert revoked.status_code == 204
    assert (await feed(api_stack, second))[0] == 404
    assert (await feed(api_stack, "/calendar/not-a-token.ics"))[0] == 404
    assert (await api_stack.http.get("/api/me/calendar")).status_code == 401


def test_long_and_awkward_text_is_escaped_and_folded() -> None:
    due = datetime(2026, 12, 4, 15, 30, tzinfo=LONDON)  # not the end of a day: a timed event
    name = "Stage; with, commas\\ and a very long name " * 3
    text = render_feed(
        "x", [FeedEvent("U-1@ercase", 4, f"DIS-1: {name}due", due, "https://er.x/c")], due
    )

    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    [event] = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"DIS-1: {name}due"
    assert event.decoded("DTSTART") == due
    assert event["SEQUENCE"] == 4
