"""The dry run of bringing cases in: each row's case, stage and deadlines, and nothing written.

Deadlines are checked against dates worked out by hand from the disciplinary policy
(policies/definitions/disciplinary.yaml) and the calendar's rules (policies/calendar.py):

- assessment: `{working_days: 5}` — five working days not counting the day the stage
  started; weekends and England & Wales bank holidays are not working days; due at
  23:59:59 London time on the last of them;
- investigation: `P21D` — due at 23:59:59 London time on the 21st calendar day after the day
  the stage started;
- the whole case: `target: P32D` from the day it opened, the same way.

Bank holidays from gov.uk/bank-holidays: Good Friday 18 April 2025, Easter Monday 21 April 2025.
"""

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from policies.calendar import LONDON
from records.database import Database
from records.models import AuditEntry, Case
from tests.api.test_security import link_staff
from tests.support.smtp import SmtpServer
from tests.support.stack import ApiStack, api_stack_on
from tests.support.waiting import eventually

HEADER = "case_type,employee_id,summary,risk,advisor,opened_at,stage,stage_started_at\n"
# Opened on Monday 14 April 2025 (00:00 London, a date alone), its assessment begun on the
# Tuesday: over Easter, so the working-day count skips Good Friday and Easter Monday.
EASTER_ROW = (
    "disciplinary,E1001,Missed handovers,routine,alice,2025-04-14,assessment,"
    "2025-04-15T10:00:00+01:00\n"
)
# Wed 16, Thu 17 (1, 2), Fri 18 and Mon 21 bank holidays, Tue 22, Wed 23, Thu 24 (3, 4, 5).
EASTER_STAGE_DUE = datetime(2025, 4, 24, 23, 59, 59, tzinfo=LONDON)
# 14 April + 32 days = 16 May 2025 (April has 30 days: 16 to its end, 16 into May).
EASTER_CASE_DUE = datetime(2025, 5, 16, 23, 59, 59, tzinfo=LONDON)


def london_today() -> date:
    return datetime.now(LONDON).date()


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON)


def recent_row() -> tuple[str, datetime, datetime]:
    """A case opened 10 days ago, in investigation for 3: nothing due yet.

    Its deadlines by hand: the stage 21 calendar days after the day it started, the whole
    case 32 after the day it opened, each at the end of that day in London."""
    opened, started = london_today() - timedelta(days=10), london_today() - timedelta(days=3)
    row = f"disciplinary,E1002,Conduct,urgent,bob,{opened},investigation,{started}\n"
    return row, end_of(started + timedelta(days=21)), end_of(opened + timedelta(days=32))


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@pytest_asyncio.fixture
async def stack(
    dev_server_env: WorkflowEnvironment, database: Database, smtp_server: SmtpServer
) -> AsyncIterator[ApiStack]:
    """The API with a worker, on SQLite and on PostgreSQL."""
    async with api_stack_on(dev_server_env, database, smtp_server) as running:
        yield running


async def count(stack: ApiStack, model: Any) -> int:
    async with stack.database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def post_csv(stack: ApiStack, who: str, text: str, dry_run: bool) -> Any:
    return await stack.http.post(
        "/api/cases/import",
        params={"dry_run": "true"} if dry_run else {},
        content=text,
        headers={**await stack.token(who), "content-type": "text/csv"},
    )


async def test_a_dry_run_shows_each_case_and_its_deadlines_and_writes_nothing(
    stack: ApiStack,
) -> None:
    recent, recent_stage_due, recent_case_due = recent_row()
    text = (
        HEADER
        + EASTER_ROW
        + recent
        + "disciplinary,E9999,Unknown person,routine,alice,2025-04-14,,\n"
        + "disciplinary,E1001,Bad date,routine,alice,yesterday,,\n"
        + "disciplinary,E1001,Bad stage,routine,alice,2025-04-14,tea_break,\n"
    )
    reply = await post_csv(stack, "alice", text, dry_run=True)
    assert reply.status_code == 200, reply.text
    preview = reply.json()
    assert preview["dry_run"] is True and preview["valid"] == 2
    assert {error["row"]: error["message"] for error in preview["errors"]} == {
        "line 4": "There is no member of staff with id 'E9999'.",
        "line 5": "opened_at 'yesterday' is not a date such as 2026-03-14",
        "line 6": "The Disciplinary policy has no stage 'tea_break'.",
    }
    easter, fresh = preview["cases"]

    assert easter["row"] == "line 2"
    assert (easter["case_type"], easter["employee_id"], easter["employee_name"]) == (
        "disciplinary",
        "E1001",
        "Priya Patel",
    )
    assert easter["stage"]["key"] == "assessment"
    assert easter["stage"]["name"] == "Pre-formal assessment"
    assert at(easter["stage"]["due_at"]) == EASTER_STAGE_DUE
    assert at(easter["due_at"]) == EASTER_CASE_DUE
    assert easter["breached"] is True
    assert [(b["deadline"], at(b["due_at"])) for b in easter["breaches"]] == [
        ("stage", EASTER_STAGE_DUE),
        ("case", EASTER_CASE_DUE),
    ]
    # Past deadlines mail their escalations at once (level 0 mails as the breach); the
    # reminders before a passed deadline are not sent.
    assert [(mail["kind"], mail["roles"]) for mail in easter["mail_at_once"]] == [
        ("breach", ["advisor", "manager"]),
        ("escalation", ["hr_director"]),
        ("breach", ["manager", "hr_director"]),
    ]

    assert fresh["row"] == "line 3" and fresh["advisor"] == "bob" and fresh["risk"] == "urgent"
    assert fresh["stage"]["key"] == "investigation"
    assert at(fresh["stage"]["due_at"]) == recent_stage_due
    assert at(fresh["due_at"]) == recent_case_due
    assert fresh["breached"] is False
    assert fresh["breaches"] == [] and fresh["mail_at_once"] == []

    # Nothing written: no case, no audit entry (and, below, no reference drawn).
    assert await count(stack, Case) == 0
    assert await count(stack, AuditEntry) == 0

    # The same rows as a multipart upload (the page's file input) preview the same.
    uploaded = await stack.http.post(
        "/api/cases/import?dry_run=true",
        files={"file": ("cases.csv", (HEADER + EASTER_ROW + recent).encode(), "text/csv")},
        headers=await stack.token("alice"),
    )
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["cases"] == [easter, fresh] and uploaded.json()["errors"] == []


async def test_the_preview_agrees_with_what_the_import_then_records(stack: ApiStack) -> None:
    recent, _, _ = recent_row()
    text = HEADER + EASTER_ROW + recent
    preview = (await post_csv(stack, "alice", text, dry_run=True)).json()
    assert preview["errors"] == []

    # Imported as the page's file input sends it: a multipart upload.
    imported = await stack.http.post(
        "/api/cases/import",
        files={"file": ("cases.csv", text.encode(), "text/csv")},
        headers=await stack.token("alice"),
    )
    assert imported.status_code == 201, imported.text
    cases = imported.json()["cases"]
    # The dry run drew no reference: the import's first case has the year's first number.
    assert cases[0]["id"] == "DIS-2025-0001"
    alice = await stack.token("alice")
    for foreseen, case in zip(preview["cases"], cases, strict=True):
        assert case["stage"]["key"] == foreseen["stage"]["key"]
        assert at(case["stage"]["due_at"]) == at(foreseen["stage"]["due_at"])
        assert at(case["due_at"]) == at(foreseen["due_at"])
        assert at(case["stage"]["started_at"]) == at(foreseen["stage"]["started_at"])
        assert case["advisor"] == foreseen["advisor"]

        async def recorded(case_id: str = case["id"], foreseen: dict[str, Any] = foreseen) -> bool:
            """The workflow has recorded the breaches the preview foresaw, and no others."""
            read = (await stack.http.get(f"/api/cases/{case_id}", headers=alice)).json()
            breaches = [
                (entry["kind"], at(entry["detail"]["due_at"]))
                for entry in read["timeline"]
                if entry["kind"] in ("stage_breach", "target_breach")
            ]
            expected = [
                ({"stage": "stage_breach", "case": "target_breach"}[b["deadline"]], at(b["due_at"]))
                for b in foreseen["breaches"]
            ]
            return bool(
                read["breached"] == foreseen["breached"]
                and breaches == expected
                and any(entry["kind"] == "opened" for entry in read["timeline"])
            )

        await eventually(recorded, 15)


async def test_a_dry_run_names_bad_items_and_batch_limits_and_is_refused_to_non_workers(
    stack: ApiStack,
) -> None:
    alice = await stack.token("alice")

    def request(summary: str, days_ago: int) -> dict[str, str]:
        opened = london_today() - timedelta(days=days_ago)
        return {
            "case_type": "flexible_working",
            "employee_id": "E1001",
            "summary": summary,
            "opened_at": opened.isoformat(),
        }

    reply = await stack.http.post(
        "/api/cases/import?dry_run=true",
        json=[
            {"case_type": "disciplinary", "employee_id": "E1001", "summary": "x"},
            request("Compressed hours", 300),
            request("Term-time working", 100),
            request("Remote working", 10),
            "junk",
        ],
        headers=alice,
    )
    assert reply.status_code == 200, reply.text
    errors = {error["row"]: error["message"] for error in reply.json()["errors"]}
    assert set(errors) == {"item 1", "item 4", "item 5"}
    assert "opened_at" in errors["item 1"]
    # The two rows before it in the same file are named by their items (no reference yet).
    assert "(item 2, item 3)" in errors["item 4"] and "at most 2" in errors["item 4"]
    assert [case["row"] for case in reply.json()["cases"]] == ["item 2", "item 3"]

    refused = await stack.http.post(
        "/api/cases/import?dry_run=true",
        content=HEADER + EASTER_ROW,
        headers={**await stack.token("polly"), "content-type": "text/csv"},
    )
    assert refused.status_code == 403
    empty_form = await stack.http.post(
        "/api/cases/import?dry_run=true", files={"other": ("x.csv", b"", "text/csv")}, headers=alice
    )
    assert empty_form.status_code == 422 and "`file` field" in empty_form.json()["detail"]
    assert await count(stack, Case) == 0


async def test_an_advisor_who_is_a_party_is_a_bad_row_in_the_preview_and_the_import(
    stack: ApiStack,
) -> None:
    await link_staff(stack, "bob", "E1002")  # bob is also on the staff, as E1002
    text = HEADER + EASTER_ROW + "disciplinary,E1002,About bob,routine,bob,2025-04-14,,\n"
    conflict = (
        "bob cannot handle a case about E1002: they are a party to it (conflict of interest)."
    )
    preview = (await post_csv(stack, "alice", text, dry_run=True)).json()
    assert preview["errors"] == [{"row": "line 3", "message": conflict}]
    imported = await post_csv(stack, "alice", text, dry_run=False)
    assert imported.status_code == 422 and imported.json()["errors"] == preview["errors"]
    assert await count(stack, Case) == 0
