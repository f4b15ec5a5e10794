"""The absence feed and the attendance record: through the API (dev server, real worker,
SQLite), and the records on SQLite and PostgreSQL alike."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest_asyncio
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from policies.calendar import LONDON, is_working_day
from records.database import Database
from records.models import Absence, Case
from services.absences import AbsenceCommands, parse_csv
from services.access import Principal
from services.errors import RowsInvalid
from tests.support.people import add_people
from tests.support.stack import ApiStack
from tests.support.waiting import eventually
from workflows import attendance_workflow_id

HEADER = "Employee ID,First day,Last day,Reason\n"


def working_days_back(count: int, gap: int) -> list[date]:
    """`count` working days, the most recent at least `gap` days ago, `gap` days apart or more."""
    days: list[date] = []
    day = datetime.now(LONDON).date() - timedelta(days=gap)
    while len(days) < count:
        if is_working_day(day):
            days.append(day)
            day -= timedelta(days=gap)
        else:
            day -= timedelta(days=1)
    return sorted(days)


async def absence_count(db: Database) -> int:
    async with db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Absence)) or 0


async def end_monitors(client: Client, organisation_id: int, employees: list[str]) -> None:
    """Monitors live on the shared dev server: end this test's, as cases are ended."""
    for employee in employees:
        handle = client.get_workflow_handle(attendance_workflow_id(organisation_id, employee))
        with contextlib.suppress(RPCError):  # never started, or already ended
            await handle.terminate("test over")


@pytest_asyncio.fixture
async def stack(
    api_stack: ApiStack, dev_server_env: WorkflowEnvironment
) -> AsyncIterator[ApiStack]:
    yield api_stack
    await end_monitors(
        dev_server_env.client, api_stack.people.organisation.id, ["E1001", "E1002", "E2001"]
    )


async def test_a_fourth_spell_opens_a_sickness_case_visible_with_its_numbers(
    stack: ApiStack,
) -> None:
    alice = await stack.token("alice")
    four = working_days_back(4, 40)  # four one-day spells in the last 365 days
    csv = HEADER + "".join(f"E1001,{day.isoformat()},{day.isoformat()},Migraine\n" for day in four)
    headers = {**alice, "content-type": "text/csv"}
    reply = await stack.http.post("/api/absences/import", content=csv, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"created": 4, "updated": 0, "unchanged": 0}

    async def case_opened() -> bool:
        record = await stack.http.get("/api/staff/E1001/attendance", headers=alice)
        return record.json()["open_case"] is not None

    await eventually(case_opened, 15)
    record = (await stack.http.get("/api/staff/E1001/attendance", headers=alice)).json()
    today = datetime.now(LONDON).date()
    case_id = record["open_case"]
    assert case_id.startswith(f"SCK-{today.year}-")
    [fired] = record["triggers_fired"]
    assert fired["trigger"] == "episodes" and fired["fired_on"] == today.isoformat()
    assert (fired["spells"], fired["working_days_lost"], fired["bradford"]) == (4, 4, 64)
    assert (fired["threshold"], fired["opens_at"], fired["case_id"]) == (4, "informal", case_id)
    assert (fired["outcome"], fired["reason"]) == ("opened", None)
    [listed] = record["sickness_cases"]
    assert (listed["id"], listed["status"], listed["opened_by"]) == (
        case_id,
        "open",
        "attendance-monitor",
    )
    assert (record["name"], record["division"]) == ("Priya Patel", "Medicine")
    assert record["figures"]["episodes"]["value"] == 4
    assert record["figures"]["days_lost"] == {
        "period_start": (today - timedelta(days=364)).isoformat(),
        "value": 4,
        "threshold": 8,
    }
    assert record["figures"]["bradford"]["value"] == 64
    assert [a["first_day"] for a in record["absences"]] == [day.isoformat() for day in four]
    assert all(a["working_days"] == 1 and a["source"] == "import" for a in record["absences"])

    case = (await stack.http.get(f"/api/cases/{case_id}", headers=alice)).json()
    assert (case["case_type"], case["stage"]["key"], case["employee_id"]) == (
        "sickness",
        "informal",
        "E1001",
    )

    # Restricted to alice alone (by mark, her manager), the case is not named to bob, her
    # team-mate, even here.
    restricting = await stack.http.put(
        f"/api/cases/{case_id}/restriction",
        json={"restricted": True, "people": ["alice"]},
        headers=await stack.token("mark"),
    )
    assert restricting.status_code == 200, restricting.text
    bob = await stack.token("bob")
    seen_by_bob = (await stack.http.get("/api/staff/E1001/attendance", headers=bob)).json()
    assert seen_by_bob["open_case"] is None and seen_by_bob["sickness_cases"] == []
    assert [t["case_id"] for t in seen_by_bob["triggers_fired"]] == [None]
    assert seen_by_bob["triggers_fired"][0]["outcome"] == "opened"

    # The same file again adds nothing, and no second case opens.
    again = await stack.http.post("/api/absences/import", content=csv, headers=headers)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 4}
    assert await absence_count(stack.database) == 4
    async with stack.database.sessions() as session:
        sickness = list(await session.scalars(select(Case.id).where(Case.case_type == "sickness")))
    assert sickness == [case_id]


async def test_an_open_episode_is_closed_by_a_later_feed(stack: ApiStack) -> None:
    alice = await stack.token("alice")
    [first] = working_days_back(1, 3)
    opened = await stack.http.post(
        "/api/absences",
        json={"employee_id": "E1002", "first_day": first.isoformat(), "reason": "Flu"},
        headers=alice,
    )
    assert opened.json() == {"created": 1, "updated": 0, "unchanged": 0}
    record = (await stack.http.get("/api/staff/E1002/attendance", headers=alice)).json()
    assert record["absences"][0]["last_day"] is None
    assert record["figures"]["current_spell"]["first_day"] == first.isoformat()
    assert (
        record["figures"]["current_spell"]["long_term_from"]
        == (first + timedelta(days=27)).isoformat()
    )

    closing = HEADER + f"E1002,{first.strftime('%d/%m/%Y')},{first.isoformat()},Flu\n"
    reply = await stack.http.post(
        "/api/absences/import", content=closing, headers={**alice, "content-type": "text/csv"}
    )
    assert reply.json() == {"created": 0, "updated": 1, "unchanged": 0}
    record = (await stack.http.get("/api/staff/E1002/attendance", headers=alice)).json()
    assert record["absences"][0]["last_day"] == first.isoformat()
    assert "current_spell" not in record["figures"]
    assert record["open_case"] is None and record["triggers_fired"] == []


async def test_bad_input_is_a_4xx_sentence_and_nothing_is_written(stack: ApiStack) -> None:
    alice = await stack.token("alice")
    csv_headers = {**alice, "content-type": "text/csv"}
    tomorrow = datetime.now(LONDON).date() + timedelta(days=1)
    csv = (
        HEADER
        + "E1001,2026-03-02,2026-03-03,Back pain\n"  # line 2: fine
        + "E9999,2026-03-02,,Flu\n"  # line 3: nobody
        + "E1001,2026-02-30,,Flu\n"  # line 4: no such date
        + "E1002,2026-03-05,2026-03-04,Flu\n"  # line 5: ends before it starts
        + "S9001,2026-03-02,,Flu\n"  # line 6: another trust's employee
        + f"E1002,{tomorrow.isoformat()},,Flu\n"  # line 7: not yet
        + "E1001,2026-03-02,2026-03-04,Back pain\n"  # line 8: line 2 again, differently
        + "E1002,2026-03-09,,\n"  # line 9: no reason
        + "E1002,2026-03-10,,Flu,extra\n"  # line 10: a value too many
    )
    reply = await stack.http.post("/api/absences/import", content=csv, headers=csv_headers)
    assert reply.status_code == 422
    body = reply.json()
    assert [error["row"] for error in body["errors"]] == [f"line {n}" for n in range(3, 11)]
    messages = [error["message"] for error in body["errors"]]
    assert messages[0] == "there is no member of staff with id 'E9999'"
    assert messages[1] == "first_day '2026-02-30' is not a date such as 2030-01-14 or 14/01/2030"
    assert messages[2] == "last_day 2026-03-04 is before first_day 2026-03-05"
    assert messages[3] == "there is no member of staff with id 'S9001'"
    assert messages[4] == f"first_day {tomorrow.isoformat()} is in the future"
    assert messages[5].startswith("the absence of E1001 from 2026-03-02 is also on line 2")
    assert messages[6] == "missing reason"
    assert body["detail"].startswith("Nothing was imported: line 3:")
    assert await absence_count(stack.database) == 0

    refusals = [
        await stack.http.post("/api/absences", content="{", headers={**alice, **JSON}),
        await stack.http.post("/api/absences", content="[]", headers={**alice, **JSON}),
        await stack.http.post("/api/absences", content="a,b", headers=csv_headers),
        await stack.http.post("/api/absences/import", content="x,y\n1,2\n", headers=csv_headers),
        await stack.http.post("/api/absences/import", content=b"\xff\xfe", headers=csv_headers),
        await stack.http.post("/api/absences", json=[1], headers=alice),
    ]
    assert [reply.status_code for reply in refusals] == [422] * 6
    assert all(isinstance(reply.json()["detail"], str) for reply in refusals)
    polly = await stack.token("polly")
    forbidden = await stack.http.post(
        "/api/absences",
        json={"employee_id": "E1001", "first_day": "2026-03-02", "reason": "Flu"},
        headers=polly,
    )
    assert forbidden.status_code == 403
    assert (await stack.http.get("/api/staff/E1001/attendance", headers=polly)).status_code == 403
    for unknown in ("E9999", "S9001"):  # nobody, and another trust's employee: the same 404
        missing = await stack.http.get(f"/api/staff/{unknown}/attendance", headers=alice)
        assert missing.status_code == 404 and "no member of staff" in missing.json()["detail"]
    assert (await stack.http.get("/api/staff/E1001/attendance")).status_code == 401
    assert await absence_count(stack.database) == 0


JSON = {"content-type": "application/json"}


async def test_re_import_and_closing_on_sqlite_and_postgresql(
    database: Database, dev_server_env: WorkflowEnvironment
) -> None:
    people = await add_people(database)
    organisation_id = people.organisation.id

    async def client() -> Client:
        return dev_server_env.client

    commands = AbsenceCommands(
        database,
        client,
        f"nobody-polls-{uuid.uuid4()}",  # the monitors are started; this test reads records
        Principal("alice", organisation_id, frozenset({"advisor"})),
    )
    export = HEADER + "E1001,2026-01-05,2026-01-07,Cold\nE1001,2026-02-02,,Back pain\n"
    try:
        first = await commands.record(parse_csv(export), "import")
        again = await commands.record(parse_csv(export), "import")
        closing = export.replace("2026-02-02,,", "2026-02-02,2026-02-06,")
        closed = await commands.record(parse_csv(closing), "import")
        try:
            await commands.record(parse_csv(closing + "E1001,2026-03-02,,\n"), "import")
        except RowsInvalid as refused:
            assert refused.errors == [{"row": "line 4", "message": "missing reason"}]
        else:
            raise AssertionError("a file with a bad row was accepted")
    finally:
        await end_monitors(dev_server_env.client, organisation_id, ["E1001"])
    assert (first.created, again.unchanged, closed.updated, closed.unchanged) == (2, 2, 1, 1)
    async with database.sessions() as session:
        rows = list(await session.scalars(select(Absence).order_by(Absence.first_day)))
    assert [(row.first_day, row.last_day) for row in rows] == [
        (date(2026, 1, 5), date(2026, 1, 7)),
        (date(2026, 2, 2), date(2026, 2, 6)),
    ]
