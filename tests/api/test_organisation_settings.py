"""Each organisation's own settings through GET and PATCH /api/organisation/settings: who may
read and change them, a sentence for each bad field with nothing written, the audit row with
old and new values, the environment's values for what is not set, and what uses them (the
reports, mail's From, the bank holidays of cases opened afterwards)."""

import json
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select

from policies.calendar import LONDON
from records.models import AuditEntry, Case
from records.people import create_user
from tests.support.people import DEMO_HASH
from tests.support.stack import ApiStack
from tests.support.waiting import eventually

URL = "/api/organisation/settings"


async def add_admins(stack: ApiStack) -> None:
    """An admin in each of the two trusts (add_people has none)."""
    async with stack.database.transaction() as session:
        for organisation, username in [
            (stack.people.organisation, "ada"),
            (stack.people.other_organisation, "otto"),
        ]:
            await create_user(
                session,
                organisation,
                username,
                DEMO_HASH,
                ["admin"],
                f"{username.title()} Admin",
                f"{username}@example.nhs.uk",
            )


async def audit_rows(stack: ApiStack) -> list[AuditEntry]:
    async with stack.database.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == "organisation.settings")
        return list(await session.scalars(query.order_by(AuditEntry.id)))


async def test_admins_change_hr_directors_read_and_others_are_refused(
    api_stack: ApiStack,
) -> None:
    await add_admins(api_stack)
    ada, hannah = await api_stack.token("ada"), await api_stack.token("hannah")
    defaults = api_stack.settings

    shown = (await api_stack.http.get(URL, headers=ada)).json()
    assert shown == {
        "organisation": "RXA",
        "name": "North Trust",
        "holiday_region": "england-and-wales",
        "case_type_weights": defaults.report_case_type_weights,
        "risk_weights": defaults.report_risk_weights,
        "hourly_rates": defaults.report_hourly_rates,
        "foi_threshold": defaults.foi_threshold,
        "mail_sender_name": None,
        "defaults": [
            "case_type_weights",
            "risk_weights",
            "hourly_rates",
            "foi_threshold",
            "mail_sender_name",
        ],
    }
    assert (await api_stack.http.get(URL, headers=hannah)).json() == shown
    refused = await api_stack.http.patch(URL, json={"foi_threshold": 7}, headers=hannah)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only an admin may change the organisation's settings."
    for username in ("alice", "mark", "polly", "oscar"):
        headers = await api_stack.token(username)
        assert (await api_stack.http.get(URL, headers=headers)).status_code == 403
        patched = await api_stack.http.patch(URL, json={"foi_threshold": 7}, headers=headers)
        assert patched.status_code == 403
    assert (await api_stack.http.get(URL)).status_code == 401
    assert await audit_rows(api_stack) == []


async def test_each_bad_field_is_named_and_nothing_is_written(api_stack: ApiStack) -> None:
    await add_admins(api_stack)
    ada = await api_stack.token("ada")
    before = (await api_stack.http.get(URL, headers=ada)).json()
    bad: dict[str, Any] = {
        "holiday_region": "wales",
        "case_type_weights": {"grievance": -1},
        "risk_weights": {"urgent": "high"},
        "hourly_rates": {"advisor": 40, "nurse": 30},
        "foi_threshold": 0,
        "mail_sender_name": "North HR\r\nBcc: everyone@example.com",
        "colour": "blue",
        "investigation_weights": {"x": 1},
    }
    reply = await api_stack.http.patch(URL, json=bad, headers=ada)
    assert reply.status_code == 422
    body = reply.json()
    assert body["detail"] == (
        "Nothing was changed: holiday_region: 'wales' is not a bank-holiday region; use one of "
        "england-and-wales, scotland, northern-ireland. (7 more in errors)"
    )
    messages = {error["field"]: error["message"] for error in body["errors"]}
    assert set(messages) == set(bad)
    assert messages["case_type_weights"] == (
        "case_type_weights: the figure for grievance may not be negative."
    )
    assert messages["risk_weights"] == "risk_weights: the figure for urgent must be a number."
    assert messages["hourly_rates"].startswith("hourly_rates: 'nurse' is not a role; the roles")
    assert messages["foi_threshold"].startswith("foi_threshold must be from 1 to 100")
    assert "line breaks" in messages["mail_sender_name"]
    assert messages["colour"].startswith("colour is not a setting; the settings are")
    # One good field beside a bad one: still nothing.
    mixed = {"foi_threshold": 9, "holiday_region": "Scotland"}
    assert (await api_stack.http.patch(URL, json=mixed, headers=ada)).status_code == 422
    assert (await api_stack.http.patch(URL, json=[1], headers=ada)).status_code == 422
    assert (await api_stack.http.get(URL, headers=ada)).json() == before
    assert await audit_rows(api_stack) == []


async def test_a_change_is_audited_with_old_and_new_and_stays_in_its_organisation(
    api_stack: ApiStack,
) -> None:
    await add_admins(api_stack)
    ada, otto = await api_stack.token("ada"), await api_stack.token("otto")
    other_before = (await api_stack.http.get(URL, headers=otto)).json()
    change = {
        "holiday_region": "scotland",
        "foi_threshold": 10,
        "hourly_rates": {"advisor": 40, "admin": 30.5},
        "mail_sender_name": "  North Trust HR  ",
    }
    reply = await api_stack.http.patch(URL, json=change, headers=ada)
    assert reply.status_code == 200, reply.text
    shown = reply.json()
    assert shown["holiday_region"] == "scotland"
    assert shown["foi_threshold"] == 10
    assert shown["hourly_rates"] == {"advisor": 40, "admin": 30.5}
    assert shown["mail_sender_name"] == "North Trust HR"
    assert shown["defaults"] == ["case_type_weights", "risk_weights"]
    assert (await api_stack.http.get(URL, headers=otto)).json() == other_before

    [row] = await audit_rows(api_stack)
    assert row.username == "ada"
    assert row.organisation_id == api_stack.people.organisation.id
    assert row.detail["changed"] == {
        "holiday_region": {"old": "england-and-wales", "new": "scotland"},
        "foi_threshold": {"old": api_stack.settings.foi_threshold, "new": 10},
        "hourly_rates": {
            "old": api_stack.settings.report_hourly_rates,
            "new": {"advisor": 40, "admin": 30.5},
        },
        "mail_sender_name": {"old": None, "new": "North Trust HR"},
    }

    # The same again changes nothing and writes no audit row; null goes back to the default.
    assert (await api_stack.http.patch(URL, json=change, headers=ada)).status_code == 200
    assert len(await audit_rows(api_stack)) == 1
    reset = (await api_stack.http.patch(URL, json={"foi_threshold": None}, headers=ada)).json()
    assert reset["foi_threshold"] == api_stack.settings.foi_threshold
    assert "foi_threshold" in reset["defaults"]
    last = (await audit_rows(api_stack))[-1]
    assert last.detail["changed"] == {
        "foi_threshold": {"old": 10, "new": api_stack.settings.foi_threshold, "default": True}
    }


async def test_reports_use_the_organisations_weights_rates_and_threshold(
    api_stack: ApiStack,
) -> None:
    await add_admins(api_stack)
    ada, hannah = await api_stack.token("ada"), await api_stack.token("hannah")
    change = {
        "case_type_weights": {"disciplinary": 5, "grievance": 1.5},
        "risk_weights": {"urgent": 3, "routine": 1},
        "hourly_rates": {"advisor": 41, "manager": 50},
        "foi_threshold": 11,
    }
    assert (await api_stack.http.patch(URL, json=change, headers=ada)).status_code == 200

    workload = (await api_stack.http.get("/api/reports/workload", headers=hannah)).json()
    notes = " ".join(workload["notes"])
    assert "disciplinary 5, grievance 1.5" in notes
    assert "routine 1, urgent 3" in notes
    cost = (await api_stack.http.get("/api/reports/cost", headers=hannah)).json()
    assert "Hourly rates: advisor £41, manager £50" in " ".join(cost["notes"])
    foi = await api_stack.http.get("/api/reports/kpis?foi=true", headers=hannah)
    assert "# Small-number suppression (threshold 11)" in foi.text
    # A threshold asked for in the request still wins.
    asked = await api_stack.http.get("/api/reports/kpis?threshold=3", headers=hannah)
    assert "(threshold 3)" in asked.text
    # South Trust's reports keep the environment's figures.
    oscar = await api_stack.token("oscar")
    theirs = (await api_stack.http.get("/api/reports/workload", headers=oscar)).json()
    assert "disciplinary 3" in " ".join(theirs["notes"])


async def test_cases_opened_after_a_change_of_region_use_it_and_mail_carries_the_sender(
    api_stack: ApiStack,
) -> None:
    """Bullying and harassment: the 'received' stage is due in 5 working days. Imported as
    started on Mon 24 November 2025 (00:00 London): England and Wales count Tue 25 to Fri 28
    and Mon 1 December, so due Mon 1 December 23:59:59; in Scotland Mon 1 December is St
    Andrew's Day's substitute (30 November 2025 is a Sunday; gov.uk/bank-holidays), so due
    Tue 2 December 23:59:59 (both GMT)."""
    await add_admins(api_stack)
    ada, alice = await api_stack.token("ada"), await api_stack.token("alice")
    row = {
        "case_type": "bullying_harassment",
        "employee_id": "E1001",
        "summary": "Comments at handover",
        "opened_at": "2025-11-24",
        "stage": "received",
        "stage_started_at": "2025-11-24",
    }

    async def import_one() -> dict[str, Any]:
        reply = await api_stack.http.post(
            "/api/cases/import",
            content=json.dumps([row]),
            headers={**alice, "content-type": "application/json"},
        )
        assert reply.status_code == 201, reply.text
        [case] = reply.json()["cases"]
        return dict(case)

    def end_of(day: int) -> datetime:
        return datetime.combine(date(2025, 12, day), time(23, 59, 59), tzinfo=LONDON)

    english = await import_one()
    assert datetime.fromisoformat(english["stage"]["due_at"]) == end_of(1)
    change = {"holiday_region": "scotland", "mail_sender_name": "North Trust HR"}
    assert (await api_stack.http.patch(URL, json=change, headers=ada)).status_code == 200
    scottish = await import_one()
    assert datetime.fromisoformat(scottish["stage"]["due_at"]) == end_of(2)

    async def projected_by_the_workflow() -> bool:
        # The workflow's own clock, once its recording has projected the row.
        async with api_stack.database.sessions() as session:
            cases = {
                case.id: case
                for case in await session.scalars(
                    select(Case).where(Case.id.in_([english["id"], scottish["id"]]))
                )
            }
        return all(case.last_seq > 0 for case in cases.values()) and [
            cases[english["id"]].holiday_region,
            cases[scottish["id"]].holiday_region,
        ] == ["england-and-wales", "scotland"]

    await eventually(projected_by_the_workflow, 20)
    for case, day in [(english, 1), (scottish, 2)]:
        shown = await api_stack.http.get(f"/api/cases/{case['id']}", headers=alice)
        assert datetime.fromisoformat(shown.json()["stage"]["due_at"]) == end_of(day)

    # The Scottish case is past its deadline: its breach mail comes from the sender name.
    async def breach_mail_sent() -> bool:
        return any(
            message["X-Ercase-Case"] == scottish["id"] for _, message in api_stack.smtp.messages
        )

    await eventually(breach_mail_sent, 20)
    sender = api_stack.settings.mail_from
    froms = {
        message["From"]
        for _, message in api_stack.smtp.messages
        if message["X-Ercase-Case"] == scottish["id"]
    }
    assert froms == {f"North Trust HR <{sender}>"}
