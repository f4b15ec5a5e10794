"""The staff directory from an ESR staff-in-post extract: ESR's coded values and dates, the
column mapping, the dry run's diff, all-or-nothing with line-numbered errors, leavers kept,
who may do it and which organisation it touches — through the API on SQLite and PostgreSQL,
and the /admin/staff page in a real browser (Debian's chromium via Playwright)."""

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from asgi_lifespan import LifespanManager
from playwright.async_api import expect
from sqlalchemy import func, select

from api.main import create_app
from policies.calendar import LONDON
from records.database import Database
from records.esr import (
    ExtractError,
    checked_mapping,
    default_mapping,
    disability,
    esr_date,
    ethnic_origin,
    read_extract,
)
from records.models import AuditEntry, Staff
from records.people import create_user
from tests.support.browser import chromium, shot, sign_in
from tests.support.configuration import make_settings, settings_for
from tests.support.people import DEMO_HASH, People, add_people
from tests.support.ports import free_port

HEADER = [
    "Employee Number",
    "Assignment Number",
    "Full Name",
    "Email Address",
    "Org L3",
    "Organisation",
    "Cost Centre",
    "Position Title",
    "Supervisor Employee Number",
    "Ethnic Origin",
    "Disability",
    "Assignment Start Date",
    "Termination Date",
]


def extract(*rows: list[str], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


# What add_people holds: E1001 Priya Patel and E1002 Sam Jones (line manager E2001 Lena Line).
PRIYA = ["E1001", "1001-1", "Priya Patel", "priya@north.example", "Medicine", "Cardiology"]
PRIYA += ["CC100", "Staff Nurse", "E2001", "H Asian or Asian British - Indian", "N No"]
PRIYA += ["01/04/2019", ""]
SAM_LEAVING = ["E1002", "1002-1", "Sam Jones", "sam@north.example", "Surgery", "Theatres"]
SAM_LEAVING += ["CC200", "Theatre Practitioner", "E2001", "A White - British", "Y Yes"]
SAM_LEAVING += ["01-MAR-2015", "31-OCT-2026"]
NEWCOMER = ["E4001", "4001-1", "Nia Evans", "nia@north.example", "Estates", "Facilities"]
NEWCOMER += ["CC300", "Porter", "E2001", "Z Not Stated", "Z Not Stated", "2026-11-02", ""]


# ---- reading the extract (no database) -------------------------------------------------


def test_esr_coded_values_become_the_categories_the_reports_group_by() -> None:
    assert ethnic_origin("A White - British") == "White - British"
    assert ethnic_origin("CA White English") == "White - Any other White background"
    assert ethnic_origin("H Asian or Asian British - Indian") == "Asian or Asian British - Indian"
    assert ethnic_origin("Z Not Stated") == "Not stated"
    assert ethnic_origin("S") == "Any other ethnic group"
    for bad in ("White", "Q Unknown", "a white - british"):
        with pytest.raises(ValueError, match="ESR code"):
            ethnic_origin(bad)
    assert disability("Y Yes") == "Yes"
    assert disability("N No") == "No"
    assert disability("Z Not Stated") == "Not stated"
    assert disability("Not Declared") == "Not stated"
    assert disability("Prefer Not To Answer") == "Not stated"
    with pytest.raises(ValueError, match="ESR's answers"):
        disability("Maybe")


def test_esr_dates_in_the_forms_exports_use() -> None:
    assert esr_date("01/04/2026") == date(2026, 4, 1)
    assert esr_date("01-APR-2026") == date(2026, 4, 1)
    assert esr_date("1-apr-2026") == date(2026, 4, 1)
    assert esr_date("2026-04-01") == date(2026, 4, 1)
    assert esr_date("01/04/2026 00:00:00") == date(2026, 4, 1)
    for bad in ("31/02/2026", "04/01/26", "01-ABC-2026", "tomorrow"):
        with pytest.raises(ValueError, match="not a date"):
            esr_date(bad)


def test_the_mapping_names_columns_and_is_checked() -> None:
    shipped = default_mapping()
    assert shipped["employee_id"] == "Employee Number"
    assert shipped["left_on"] == "Termination Date"
    assert checked_mapping({"employee_id": " Staff No ", "name": "Name"}) == {
        "employee_id": "Staff No",
        "name": "Name",
    }
    for raw, named in [
        ({"name": "Name"}, "employee number"),
        ({"employee_id": "No", "salary": "Pay"}, "salary"),
        ({"employee_id": ""}, "employee_id"),
        ({"employee_id": 7}, "employee_id"),
        (["employee_id"], "object"),
    ]:
        with pytest.raises(ExtractError, match=named):
            checked_mapping(raw)


def test_extract_lines_are_read_through_the_mapping_with_line_numbers() -> None:
    mapping = {"employee_id": "Staff No", "name": "Name", "start_date": "Started"}
    text = "\ufeffNAME , staff no,Started,Other\nAda,A1,01/02/2020,x\n\n,,,\nBo,,bad,y\nAda,A1,,\n"
    read = read_extract(text, mapping, max_rows=10)
    assert [(row.line, row.values) for row in read.rows] == [
        (2, {"employee_id": "A1", "name": "Ada", "start_date": date(2020, 2, 1)})
    ]
    assert read.problems == [
        (
            5,
            "the employee number is empty; 'bad' is not a date such as 01/04/2026, "
            "01-APR-2026 or 2026-04-01",
        ),
        (
            6,
            "employee number A1 is also on line 2: send one row per person (their primary "
            "assignment)",
        ),
    ]
    with pytest.raises(ExtractError, match=r"no column 'Started' \(start_date\)"):
        read_extract("Staff No,Name\nA1,Ada\n", mapping, max_rows=10)
    with pytest.raises(ExtractError, match="at most 1"):
        read_extract("Staff No,Name,Started\nA1,Ada,\nA2,Bo,\n", mapping, max_rows=1)
    with pytest.raises(ExtractError, match="empty"):
        read_extract("", mapping, max_rows=10)


# ---- through the API, on SQLite and PostgreSQL ------------------------------------------


@dataclass
class Stack:
    http: httpx.AsyncClient
    database: Database
    people: People
    # Signing in hashes a password (slow on purpose): once per user and test.
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    async def token(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            reply = await self.http.post(
                "/api/auth/token", data={"username": username, "password": "demo"}
            )
            assert reply.status_code == 200, reply.text
            self.tokens[username] = {"Authorization": f"Bearer {reply.json()['access_token']}"}
        return self.tokens[username]

    async def upload(
        self, username: str, text: str, *, dry_run: bool = False, full: bool = False
    ) -> httpx.Response:
        return await self.http.post(
            "/api/staff/import",
            files={"file": ("esr.csv", text.encode(), "text/csv")},
            data={"dry_run": str(dry_run).lower(), "full": str(full).lower()},
            headers=await self.token(username),
        )

    async def directory(self) -> dict[tuple[int, str], dict[str, Any]]:
        async with self.database.sessions() as session:
            rows = await session.scalars(select(Staff))
            return {
                (row.organisation_id, row.employee_id): {
                    key: value for key, value in vars(row).items() if not key.startswith("_")
                }
                for row in rows
            }

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.database.sessions() as session:
            return list(
                await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
            )


async def add_admin(db: Database, people: People) -> None:
    """An admin and an auditor beside add_people's users, and olga, the other trust's admin."""
    async with db.transaction() as session:
        for organisation, username, role in (
            (people.organisation, "adam", "admin"),
            (people.organisation, "audrey", "auditor"),
            (people.other_organisation, "olga", "admin"),
        ):
            await create_user(
                session, organisation, username, DEMO_HASH, [role], username, "a@north.ex"
            )


@pytest_asyncio.fixture
async def stack(database: Database) -> AsyncIterator[Stack]:
    """The app in-process over a real database; no case engine is needed to import staff."""
    people = await add_people(database)
    await add_admin(database, people)
    settings = settings_for(database)
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://ercase.test"
        ) as http,
    ):
        yield Stack(http, database, people)


def today() -> str:
    return datetime.now(LONDON).date().isoformat()


async def test_dry_run_shows_additions_changes_and_leavers_and_writes_nothing(
    stack: Stack,
) -> None:
    before = await stack.directory()
    text = extract(PRIYA, SAM_LEAVING, NEWCOMER)
    reply = await stack.upload("adam", text, dry_run=True, full=True)
    assert reply.status_code == 200, reply.text
    outcome = reply.json()
    assert (outcome["dry_run"], outcome["full"]) == (True, True)
    assert (outcome["added"], outcome["changed"], outcome["left"], outcome["unchanged"]) == (
        1,
        1,
        2,
        0,
    )
    assert outcome["additions"] == [{"line": 4, "employee_id": "E4001", "name": "Nia Evans"}]
    [priya] = outcome["changes"]
    assert (priya["line"], priya["employee_id"]) == (2, "E1001")
    assert {
        change["field"]: (change["before"], change["after"]) for change in priya["changes"]
    } == {
        "assignment_number": (None, "1001-1"),
        "cost_centre": (None, "CC100"),
        "position": (None, "Staff Nurse"),
        "ethnic_group": ("Asian or Asian British", "Asian or Asian British - Indian"),
        "start_date": (None, "2019-04-01"),
    }
    sam, lena = outcome["leavers"]
    assert (sam["employee_id"], sam["line"], sam["left_on"]) == ("E1002", 3, "2026-10-31")
    assert {"field": "left_on", "before": None, "after": "2026-10-31"} in sam["changes"]
    # Lena is not in the extract, which the caller says is full: she left today.
    assert (lena["employee_id"], lena["line"], lena["left_on"]) == ("E2001", None, today())
    assert await stack.directory() == before
    assert await stack.audit("staff.esr_import") == []

    # Without `full`, nobody is marked as left for being absent.
    partial = (await stack.upload("adam", text, dry_run=True)).json()
    assert [leaver["employee_id"] for leaver in partial["leavers"]] == ["E1002"]


async def test_import_writes_it_all_keeps_leavers_and_audits_the_counts(stack: Stack) -> None:
    north, south = stack.people.organisation.id, stack.people.other_organisation.id
    reply = await stack.upload("adam", extract(PRIYA, SAM_LEAVING, NEWCOMER), full=True)
    assert reply.status_code == 200, reply.text
    assert (reply.json()["added"], reply.json()["changed"], reply.json()["left"]) == (1, 1, 2)
    staff = await stack.directory()
    assert staff[(north, "E4001")] | {"id": 0} == {
        "id": 0,
        "organisation_id": north,
        "employee_id": "E4001",
        "assignment_number": "4001-1",
        "name": "Nia Evans",
        "email": "nia@north.example",
        "division": "Estates",
        "department": "Facilities",
        "cost_centre": "CC300",
        "position": "Porter",
        "band": None,
        "line_manager_id": "E2001",
        "ethnic_group": "Not stated",
        "disability": "Not stated",
        "start_date": date(2026, 11, 2),
        "left_on": None,
    }
    assert staff[(north, "E1001")]["position"] == "Staff Nurse"
    assert staff[(north, "E1001")]["band"] == "5"  # not in the extract: kept
    # Leavers keep their rows, marked with the date.
    assert staff[(north, "E1002")]["left_on"] == date(2026, 10, 31)
    assert staff[(north, "E2001")]["left_on"] == date.fromisoformat(today())
    assert staff[(north, "E2001")]["name"] == "Lena Line"
    # The other trust's directory is never touched, even by a full extract.
    assert staff[(south, "S9001")]["left_on"] is None
    [audited] = await stack.audit("staff.esr_import")
    assert (audited.username, audited.organisation_id) == ("adam", north)
    counts = ("rows", "full", "added", "changed", "left", "unchanged")
    assert {key: audited.detail[key] for key in counts} == {
        "rows": 3,
        "full": True,
        "added": 1,
        "changed": 1,
        "left": 2,
        "unchanged": 0,
    }
    # Every changed field with its value before and after (issue 22.5), and who was added.
    assert audited.detail["changes"]["E2001"]["left_on"] == [None, today()]
    assert set(audited.detail["changes"]) == {"E1001", "E1002", "E2001"}
    assert audited.detail["added_ids"] == [NEWCOMER[0]]

    # The same extract again changes nothing; someone who left and is back is in post again.
    again = await stack.upload("adam", extract(PRIYA, SAM_LEAVING, NEWCOMER), full=True)
    assert (again.json()["unchanged"], again.json()["left"]) == (3, 0), again.text
    back = [*SAM_LEAVING[:-1], ""]
    rejoined = (await stack.upload("adam", extract(back))).json()
    assert rejoined["changes"][0]["changes"] == [
        {"field": "left_on", "before": "2026-10-31", "after": None}
    ]
    assert (await stack.directory())[(north, "E1002")]["left_on"] is None


async def test_a_bad_line_is_named_by_its_number_and_nothing_is_written(stack: Stack) -> None:
    before = await stack.directory()
    bad_date = ["E4005", *NEWCOMER[1:11], "31/02/2026", ""]
    no_number = ["", *PRIYA[1:]]
    bad_code = [*SAM_LEAVING[:9], "White", *SAM_LEAVING[10:]]
    bad_email = ["E4002", "", "Bo", "bo at north", *[""] * 9]
    left_first = ["E4003", "", "Cy", "", "", "", "", "", "", "", "", "01/04/2026", "01/03/2026"]
    text = extract(NEWCOMER[:], bad_date, no_number, bad_code, bad_email, left_first)
    for dry_run in (True, False):
        reply = await stack.upload("adam", text, dry_run=dry_run)
        assert reply.status_code == 422, reply.text
        errors = {error["row"]: error["message"] for error in reply.json()["errors"]}
        assert list(errors) == ["line 3", "line 4", "line 5", "line 6", "line 7"]
        assert "'31/02/2026' is not a date" in errors["line 3"]
        assert "employee number is empty" in errors["line 4"]
        assert "ethnic origin 'White' is not an ESR code" in errors["line 5"]
        assert "'bo at north' is not an email address" in errors["line 6"]
        assert "before the start date" in errors["line 7"]
        assert reply.json()["detail"].startswith("Nothing was imported: line 3:")
    for text, status, named in [
        ("Full Name\nAda\n", 422, "'Employee Number' (employee_id)"),
        ("", 422, "empty"),
        (",".join(HEADER) + "\n", 422, "no staff"),
        (",".join(HEADER) + '\n"E1\n', 422, "not valid CSV"),
    ]:
        reply = await stack.upload("adam", text)
        assert reply.status_code == status and named in reply.json()["detail"], reply.text
    latin = await stack.http.post(
        "/api/staff/import",
        files={"file": ("esr.csv", "Employee Number,Full Name\nE1,Zoë\n".encode("latin-1"))},
        headers=await stack.token("adam"),
    )
    assert latin.status_code == 422 and "UTF-8" in latin.json()["detail"]
    missing = await stack.http.post(
        "/api/staff/import", data={"dry_run": "true"}, headers=await stack.token("adam")
    )
    assert missing.status_code == 422 and "file" in missing.json()["detail"]
    assert await stack.directory() == before
    assert await stack.audit("staff.esr_import") == []


async def test_who_may_import_and_edit_the_mapping(stack: Stack) -> None:
    north, south = stack.people.organisation.id, stack.people.other_organisation.id
    text = extract(PRIYA)
    for username in ("polly", "audrey"):  # neither imports nor reads the mapping
        reply = await stack.upload(username, text, dry_run=True)
        assert reply.status_code == 403 and "staff directory" in reply.json()["detail"]
        # Refused for who they are, whatever they send.
        garbage = await stack.http.post(
            "/api/staff/import",
            files={"file": ("x.csv", b"\xff\xfe")},
            headers=await stack.token(username),
        )
        assert garbage.status_code == 403
        mapping = await stack.http.get(
            "/api/staff/import/mapping", headers=await stack.token(username)
        )
        assert mapping.status_code == 403
    # Only admins change the directory (issue 22.5); case workers may still read the mapping.
    for username in ("alice", "mark", "hannah"):
        reply = await stack.upload(username, text, dry_run=True)
        assert reply.status_code == 403 and "staff directory" in reply.json()["detail"], username
    assert (await stack.upload("adam", text, dry_run=True)).status_code == 200
    assert (await stack.directory())[(north, "E1001")]["position"] is None
    # Another trust's import touches only its own directory.
    theirs = await stack.upload("olga", extract(PRIYA), full=True)
    assert (theirs.json()["added"], theirs.json()["left"]) == (1, 1), theirs.text
    staff = await stack.directory()
    assert staff[(south, "E1001")]["position"] == "Staff Nurse"
    assert staff[(south, "S9001")]["left_on"] == date.fromisoformat(today())
    assert staff[(north, "E1001")]["position"] is None
    assert staff[(north, "E2001")]["left_on"] is None

    # Only an admin changes the mapping; it is the organisation's own.
    own = {"employee_id": "Staff No", "name": "Name", "position": "Job"}
    refused = await stack.http.put(
        "/api/staff/import/mapping", json={"columns": own}, headers=await stack.token("alice")
    )
    assert refused.status_code == 403 and "mapping" in refused.json()["detail"]
    adam = await stack.token("adam")
    for columns, named in [
        ({"name": "Name"}, "employee number"),
        ({**own, "salary": "Pay"}, "salary"),
        ({**own, "name": ""}, "name"),
    ]:
        reply = await stack.http.put(
            "/api/staff/import/mapping", json={"columns": columns}, headers=adam
        )
        assert reply.status_code == 422 and named in reply.json()["detail"], reply.text
    saved = await stack.http.put("/api/staff/import/mapping", json={"columns": own}, headers=adam)
    assert saved.status_code == 200, saved.text
    assert saved.json()["columns"] == own and saved.json()["source"] == "organisation"
    shown = await stack.http.get("/api/staff/import/mapping", headers=await stack.token("mark"))
    assert shown.json()["columns"] == own
    assert shown.json()["fields"]["left_on"] == "Leaving date"
    south_view = await stack.http.get(
        "/api/staff/import/mapping", headers=await stack.token("oscar")
    )
    assert south_view.json() == {**south_view.json(), "source": "default"}
    assert south_view.json()["columns"] == default_mapping()
    [audited] = await stack.audit("staff.import_mapping")
    assert (audited.username, audited.detail) == ("adam", {"columns": own})

    # The next import reads the organisation's own column names.
    reply = await stack.upload("adam", "Staff No,Name,Job,Ignored\nE1001,Priya Patel,Sister,x\n")
    assert reply.status_code == 200, reply.text
    assert (await stack.directory())[(north, "E1001")]["position"] == "Sister"
    old_shape = await stack.upload("adam", extract(PRIYA))
    assert old_shape.status_code == 422 and "'Staff No'" in old_shape.json()["detail"]


# ---- the page, in a real browser --------------------------------------------------------


@pytest_asyncio.fixture
async def web(sqlite_database: Database) -> AsyncIterator[str]:
    people = await add_people(sqlite_database)
    await add_admin(sqlite_database, people)
    port = free_port()
    url = str(sqlite_database.engine.url).replace("+aiosqlite", "")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(make_settings(url, dev=True)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
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


async def test_the_admin_page_previews_imports_and_names_bad_lines(
    web: str, sqlite_database: Database, tmp_path: Any
) -> None:
    good, bad = tmp_path / "esr.csv", tmp_path / "esr-bad.csv"
    good.write_text(extract(PRIYA, SAM_LEAVING, NEWCOMER), encoding="utf-8")
    bad.write_text(extract(NEWCOMER, ["E4009", *NEWCOMER[1:9], "Q Unknown", *NEWCOMER[10:]]))
    async with chromium() as browser:
        page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
        await sign_in(page, web, "adam")
        await page.get_by_role("link", name="Staff directory").click()
        await expect(page.get_by_role("heading", name="Staff directory from ESR")).to_be_visible()

        await page.get_by_label("ESR extract (CSV)").set_input_files(str(bad))
        await page.get_by_role("button", name="Preview changes").click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("Nothing was imported")
        await expect(page.get_by_role("list", name="Lines to fix")).to_contain_text(
            "Line 3: ethnic origin 'Q Unknown' is not an ESR code"
        )
        await shot(page, "admin-staff-bad-line")

        await page.get_by_label("ESR extract (CSV)").set_input_files(str(good))
        await page.get_by_label("This is a full extract").check()
        await page.get_by_role("button", name="Preview changes").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Would add 1, change 1, mark 2 as left; 0 unchanged."
        )
        changed = page.get_by_role("table", name="Changed")
        await expect(changed).to_contain_text("Position: — → Staff Nurse")
        await expect(page.get_by_role("table", name="Marked as left")).to_contain_text(
            "not in the extract"
        )
        await shot(page, "admin-staff-preview")
        async with sqlite_database.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Staff)) == 4

        await page.get_by_label("ESR extract (CSV)").set_input_files(str(good))
        await page.get_by_label("This is a full extract").check()
        await page.get_by_role("button", name="Import", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Added 1, changed 1, marked 2 as left; 0 unchanged."
        )
        await shot(page, "admin-staff-imported")
        async with sqlite_database.sessions() as session:
            left = await session.scalar(select(Staff.left_on).where(Staff.employee_id == "E1002"))
        assert left == date(2026, 10, 31)

        # The admin renames a column; the page shows the organisation's own mapping.
        await page.get_by_label("Position", exact=True).fill("Job Title")
        await page.get_by_role("button", name="Save mapping").click()
        await expect(page.get_by_role("status")).to_contain_text("The column mapping is saved")
        await expect(page.get_by_label("Position", exact=True)).to_have_value("Job Title")
        await expect(page.get_by_text("this organisation's own mapping")).to_be_visible()

        # Someone outside STAFF_EDITORS is refused the page.
        polly = await (await browser.new_context()).new_page()
        await polly.goto(f"{web}/sign-in")
        await polly.get_by_label("Username").fill("polly")
        await polly.get_by_label("Password").fill("demo")
        await polly.get_by_role("button", name="Sign in").click()
        await expect(polly.get_by_role("link", name="Staff directory")).to_have_count(0)
        reply = await polly.goto(f"{web}/admin/staff")
        assert reply is not None and reply.status == 403
        await expect(polly.get_by_role("main")).to_contain_text("Your role does not allow")
