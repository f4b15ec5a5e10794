"""Finding any case through `GET /api/cases` (issue 19, defect 1): by status (open, paused,
closed or all), by the days it was opened or closed, and by words found in its reference,
employee number, employee's name or summary — only among the cases the reader may see, on
SQLite and PostgreSQL alike."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from policies.calendar import LONDON
from records.database import Database
from tests.support.smtp import SmtpServer
from tests.support.stack import ApiStack, api_stack_on


@pytest_asyncio.fixture
async def stack_on_both(
    dev_server_env: WorkflowEnvironment, database: Database, smtp_server: SmtpServer
) -> AsyncIterator[ApiStack]:
    async with api_stack_on(dev_server_env, database, smtp_server) as stack:
        yield stack


async def test_closed_cases_are_found_by_status_dates_name_and_summary_words(
    stack_on_both: ApiStack,
) -> None:
    http = stack_on_both.http
    alice = await stack_on_both.token("alice")
    oscar = await stack_on_both.token("oscar")

    async def opened(employee_id: str, case_type: str, summary: str) -> str:
        reply = await http.post(
            "/api/cases",
            json={"case_type": case_type, "employee_id": employee_id, "summary": summary},
            headers=alice,
        )
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    closed = await opened("E1001", "enquiry", "Rota dispute on ward 7: 100% sure")
    still_open = await opened("E1002", "disciplinary", "Missed handovers")
    reply = await http.post(
        f"/api/cases/{closed}/actions/close_with_advice",
        json={"data": {"outcome": "Follow the rota policy"}},
        headers=alice,
    )
    assert reply.status_code == 200, reply.text

    async def found(headers: dict[str, str] = alice, **params: str) -> list[str]:
        reply = await http.get("/api/cases", params=params, headers=headers)
        assert reply.status_code == 200, reply.text
        return sorted(item["id"] for item in reply.json()["items"])

    assert await found(status="open") == [still_open]
    assert await found(status="closed") == [closed]
    assert await found(status="all") == sorted([closed, still_open])
    assert await found() == sorted([closed, still_open])
    # The employee's name (Priya Patel, from the staff directory), any case.
    assert await found(q="priya") == [closed]
    assert await found(q="PATEL", status="closed") == [closed]
    # Words of the summary, each found somewhere, in any order.
    assert await found(q="ward rota") == [closed]
    assert await found(q="ward handovers") == []
    # The reference and the employee number, as before.
    assert await found(q=closed.lower()) == [closed]
    assert await found(q="E1002") == [still_open]
    # % and _ are letters in a search, not wildcards.
    assert await found(q="100%") == [closed]
    assert await found(q="%") == [closed]
    assert await found(q="_") == []

    today = datetime.now(UTC).astimezone(LONDON).date()
    yesterday, tomorrow = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1))
    assert await found(opened_from=today.isoformat()) == sorted([closed, still_open])
    assert await found(opened_to=yesterday) == []
    assert await found(opened_from=tomorrow.isoformat()) == []
    assert await found(closed_from=today.isoformat(), closed_to=today.isoformat()) == [closed]
    assert await found(closed_to=yesterday) == []

    # Within what the reader may see: another trust finds nothing by the name or the words.
    assert await found(oscar, q="priya") == []
    assert await found(oscar, q="rota") == []

    backwards = await http.get(
        "/api/cases",
        params={"opened_from": today.isoformat(), "opened_to": yesterday},
        headers=alice,
    )
    assert backwards.status_code == 422
    assert "give the earlier day first" in backwards.json()["detail"]
    too_long = await http.get("/api/cases", params={"q": "x" * 101}, headers=alice)
    assert too_long.status_code == 422
    assert "100 characters" in too_long.json()["detail"]
    too_many = await http.get("/api/cases", params={"q": " ".join("abcdefghijk")}, headers=alice)
    assert too_many.status_code == 422
    assert "at most 10 words" in too_many.json()["detail"]
    unknown = await http.get("/api/cases", params={"status": "finished"}, headers=alice)
    assert unknown.status_code == 422
