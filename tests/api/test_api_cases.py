"""Cases through the HTTP API, against the real stack (dev server, worker, SQLite, SMTP).

Every refusal is checked twice: the reply (status, a `detail` sentence) and the records
afterwards (nothing changed).
"""

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import delete, select
from temporalio.testing import WorkflowEnvironment

from api.security import create_access_token
from policies.calendar import LONDON, add_working_days, due_instant
from policies.durations import WorkingDays
from records.models import (
    Case,
    CaseEvent,
    Note,
    PolicyVersion,
    ReferenceCounter,
    Staff,
    User,
)
from tests.support.harness import JUST_CULTURE
from tests.support.stack import ApiStack
from tests.support.waiting import eventually
from workflows import workflow_id

CASE = {"case_type": "disciplinary", "employee_id": "E1001", "summary": "Timesheets"}
ASSESSMENT_ACTIONS = [
    "refer_to_investigation",
    "open_investigation_case",
    "informal_resolution",
    "no_further_action",
]
REFER = {
    "terms_of_reference": "Timesheets, January to March",
    "investigating_officer": "Dr Khan",
    **JUST_CULTURE,
}
JSON_HEADERS = {"content-type": "application/json"}

# ---- helpers ---------------------------------------------------------------------------


def refused(response: httpx.Response, status: int) -> str:
    """The `detail` sentence of a refusal with this status, after checking its shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    detail = response.json()["detail"]
    assert isinstance(detail, str) and " " in detail.strip(), response.text
    return detail


def when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text} has no offset"
    return moment


async def records(stack: ApiStack) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a refused request must leave as it was (the audit log may grow)."""
    async with stack.database.sessions() as session:
        cases = await session.scalars(select(Case).order_by(Case.id))
        events = await session.scalars(select(CaseEvent).order_by(CaseEvent.id))
        notes = await session.scalars(select(Note).order_by(Note.id))
        counters = await session.scalars(select(ReferenceCounter))
        policies = await session.scalars(select(PolicyVersion).order_by(PolicyVersion.id))
        staff = await session.scalars(select(Staff).order_by(Staff.id))
        return {
            "cases": [
                tuple(getattr(case, column.key) for column in Case.__table__.c) for case in cases
            ],
            "events": [(e.case_id, e.seq, e.kind, e.detail) for e in events],
            "notes": [(n.case_id, n.kind, n.body) for n in notes],
            "counters": [(c.prefix, c.year, c.last) for c in counters],
            "policies": [(p.organisation_id, p.case_type, p.version) for p in policies],
            "staff": [(s.organisation_id, s.employee_id, s.email, s.division) for s in staff],
        }


async def event_kinds(stack: ApiStack, case_id: str) -> list[str]:
    async with stack.database.sessions() as session:
        kinds = await session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
        )
        return list(kinds)


async def open_case(stack: ApiStack, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """Open a case and wait until its process has recorded that it started."""
    response = await stack.http.post("/api/cases", json={**CASE, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()

    async def started() -> bool:
        return "opened" in await event_kinds(stack, case["id"])

    await eventually(started, seconds=15)
    return case


async def act(
    stack: ApiStack, headers: dict[str, str], case_id: str, action: str, **body: Any
) -> httpx.Response:
    return await stack.http.post(
        f"/api/cases/{case_id}/actions/{action}", json=body, headers=headers
    )


async def listed(stack: ApiStack, headers: dict[str, str], **params: Any) -> list[str]:
    response = await stack.http.get("/api/cases", params=params, headers=headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] >= len(page["items"])
    return [item["id"] for item in page["items"]]


def london_today() -> str:
    return datetime.now(UTC).astimezone(LONDON).date().isoformat()


# ---- opening and reading ---------------------------------------------------------------


async def test_open_case_reply_follows_the_contract(api_stack: ApiStack) -> None:
    alice, mark = await api_stack.token("alice"), await api_stack.token("mark")
    before = datetime.now(UTC)
    response = await api_stack.http.post("/api/cases", json=CASE, headers=alice)
    assert response.status_code == 201, response.text
    case = response.json()

    opened_at = when(case["opened_at"])
    assert before <= opened_at <= datetime.now(UTC)
    assert re.fullmatch(rf"DIS-{opened_at.year}-\d{{4}}", case["id"]), case["id"]
    assert case["case_type"] == "disciplinary" and case["status"] == "open"
    assert case["risk"] == "routine" and case["advisor"] == "alice"
    assert case["employee_id"] == "E1001" and case["summary"] == "Timesheets"
    assert (case["division"], case["department"]) == ("Medicine", "Cardiology")
    assert case["policy"] == {"case_type": "disciplinary", "version": 1}
    assert case["breached"] is False and case["outcome"] is None and case["closed_at"] is None
    assert case["actions"] == ASSESSMENT_ACTIONS
    stage = case["stage"]
    assert (stage["key"], stage["name"]) == ("assessment", "Pre-formal assessment")
    assert when(stage["started_at"]) == opened_at
    assert when(stage["due_at"]) == due_instant(opened_at, WorkingDays(5))
    assert when(case["due_at"]) > when(stage["due_at"])

    # A manager names the advisor; references count up.
    second = await api_stack.http.post(
        "/api/cases",
        json={**CASE, "employee_id": "E1002", "risk": "urgent", "advisor": "bob"},
        headers=mark,
    )
    assert second.status_code == 201, second.text
    assert second.json()["advisor"] == "bob" and second.json()["risk"] == "urgent"
    assert second.json()["division"] == "Surgery"
    number = int(case["id"].rsplit("-", 1)[1])
    assert second.json()["id"] == f"DIS-{opened_at.year}-{number + 1:04d}"

    # The read gives the same case, with its timeline and its linked cases (none).
    read = await api_stack.http.get(f"/api/cases/{case['id']}", headers=alice)
    assert read.status_code == 200, read.text
    read_only = {"timeline", "linked_cases"}
    assert {k: v for k, v in read.json().items() if k not in read_only} == {
        k: v for k, v in case.items() if k not in read_only
    }
    assert read.json()["linked_cases"] == [] and read.json()["parent"] is None


async def test_bad_open_requests_are_refused_and_change_nothing(api_stack: ApiStack) -> None:
    alice, mark = await api_stack.token("alice"), await api_stack.token("mark")
    before = await records(api_stack)
    post = api_stack.http.post

    async def bad_json(body: str | bytes, content_type: str = "application/json") -> str:
        response = await post(
            "/api/cases", content=body, headers={**alice, "content-type": content_type}
        )
        assert 400 <= response.status_code < 500
        return refused(response, response.status_code)

    assert "not valid JSON" in await bad_json('{"case_type": "disciplinary",')
    await bad_json(b'{"summary": "\xff\xfe"}')  # not UTF-8
    assert "JSON" in await bad_json("case_type=disciplinary", "text/plain")
    assert "JSON" in await bad_json("case_type=disciplinary", "application/x-www-form-urlencoded")
    await bad_json("[" * 50_000)  # nested far too deep to read: a 4xx, not a crash
    refused(await post("/api/cases", headers=alice), 422)  # no body at all
    refused(await post("/api/cases", json=[CASE], headers=alice), 422)
    refused(await post("/api/cases", json="disciplinary", headers=alice), 422)

    bodies: list[tuple[dict[str, Any], str]] = [
        ({k: v for k, v in CASE.items() if k != "summary"}, "summary"),
        ({k: v for k, v in CASE.items() if k != "employee_id"}, "employee_id"),
        ({k: v for k, v in CASE.items() if k != "case_type"}, "case_type"),
        ({**CASE, "colour": "red"}, "colour"),
        ({**CASE, "Summary": "typo"}, "Summary"),
        ({**CASE, "summary": 123}, "summary"),
        ({**CASE, "summary": None}, "summary"),
        ({**CASE, "summary": ""}, "summary"),
        ({**CASE, "summary": "   \n\t "}, "summary"),
        ({**CASE, "summary": "x" * 5001}, "summary"),
        ({**CASE, "employee_id": 1001}, "employee_id"),
        ({**CASE, "employee_id": "E" * 41}, "employee_id"),
        ({**CASE, "case_type": ["disciplinary"]}, "case_type"),
        ({**CASE, "case_type": "d" * 61}, "case_type"),
        ({**CASE, "case_type": "gardening_leave"}, "gardening_leave"),
        ({**CASE, "case_type": "Disciplinary"}, "Disciplinary"),
        ({**CASE, "employee_id": "E9999"}, "E9999"),
        ({**CASE, "employee_id": "S9001"}, "S9001"),  # staff of the other trust
        ({**CASE, "advisor": "mark"}, "mark"),  # a manager, not an advisor
        ({**CASE, "advisor": "oscar"}, "oscar"),  # an advisor of the other trust
        ({**CASE, "advisor": "nobody"}, "nobody"),
        ({**CASE, "advisor": ""}, "advisor"),
        ({**CASE, "advisor": "a" * 81}, "advisor"),
        ({**CASE, "risk": "critical"}, "risk"),
        ({**CASE, "risk": "URGENT"}, "risk"),
        ({**CASE, "risk": 1}, "risk"),
        ({**CASE, "risk": None}, "risk"),
    ]
    for body, named in bodies:
        detail = refused(await post("/api/cases", json=body, headers=alice), 422)
        assert named in detail, (body, detail)
    # Someone who is not an advisor must say who handles the case.
    assert "advisor" in refused(await post("/api/cases", json=CASE, headers=mark), 422)

    assert await records(api_stack) == before
    # No reference was used up by the refusals.
    opened = await post("/api/cases", json=CASE, headers=alice)
    assert opened.status_code == 201, opened.text
    assert opened.json()["id"].endswith("-0001")


async def test_list_filters_return_the_right_subsets(api_stack: ApiStack) -> None:
    alice, polly = await api_stack.token("alice"), await api_stack.token("polly")
    a = await open_case(api_stack, alice)
    b = await open_case(api_stack, alice, employee_id="E1002", advisor="bob", risk="urgent")
    c = await open_case(api_stack, alice, summary="Lateness")
    # A policy version whose first stage falls due after a second gives a breached case.
    definition = (await api_stack.http.get("/api/policies/disciplinary", headers=polly)).json()[
        "definition"
    ]
    definition["stages"][0]["due"] = "PT1S"
    definition["stages"][0]["reminders"] = []  # none could come before a one-second stage
    published = await api_stack.http.post(
        "/api/policies/disciplinary/versions", json=definition, headers=polly
    )
    assert published.status_code == 201, published.text
    d = await open_case(api_stack, alice, employee_id="E1002")
    assert d["policy"]["version"] == 2

    paused = await api_stack.http.post(
        f"/api/cases/{b['id']}/pause", json={"reason": "Employee signed off sick"}, headers=alice
    )
    assert paused.status_code == 200, paused.text
    closed = await act(api_stack, alice, c["id"], "informal_resolution", data={"outcome": "Words"})
    assert closed.status_code == 200, closed.text

    async def breached() -> bool:
        return d["id"] in await listed(api_stack, alice, breached=True)

    await eventually(breached, seconds=15)
    ids = {"a": a["id"], "b": b["id"], "c": c["id"], "d": d["id"]}

    async def subset(**params: Any) -> set[str]:
        found = await listed(api_stack, alice, **params)
        assert len(found) == len(set(found))
        return {name for name, case_id in ids.items() if case_id in found}

    # Soonest stage deadline first; closed cases (no deadline) last.
    assert await listed(api_stack, alice) == [d["id"], a["id"], b["id"], c["id"]]
    assert await subset(status="open") == {"a", "d"}
    assert await subset(status="paused") == {"b"}
    assert await subset(status="closed") == {"c"}
    assert await subset(case_type="disciplinary") == {"a", "b", "c", "d"}
    assert await subset(case_type="grievance") == set()
    assert await subset(advisor="bob") == {"b"}
    assert await subset(advisor="alice") == {"a", "c", "d"}
    assert await subset(advisor="nobody") == set()
    assert await subset(division="Surgery") == {"b", "d"}
    assert await subset(division="Medicine") == {"a", "c"}
    assert await subset(breached=True) == {"d"}
    assert await subset(breached=False) == {"a", "b", "c"}
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await subset(due_before=soon) == {"d"}
    assert await subset(due_before="2100-01-01T00:00:00+01:00") == {"a", "b", "d"}
    assert await subset(due_before="2000-01-01T00:00:00Z") == set()
    assert await subset(q=a["id"].lower()) == {"a"}
    assert await subset(q=" e1002 ") == {"b", "d"}
    assert await subset(q="no such case") == set()
    assert await subset(status="open", division="Medicine") == {"a"}
    assert await subset(advisor="alice", breached=False, status="closed") == {"c"}
    assert await subset(page=1) == {"a", "b", "c", "d"}
    page_two = await api_stack.http.get("/api/cases", params={"page": 2}, headers=alice)
    assert page_two.json() == {"items": [], "total": 4, "page": 2, "page_size": 50}
    last = await api_stack.http.get("/api/cases", params={"page": 100_000}, headers=alice)
    assert last.status_code == 200 and last.json()["items"] == []

    # Running cases keep the policy version they started with.
    first = (await api_stack.http.get(f"/api/cases/{a['id']}", headers=alice)).json()
    assert first["policy"]["version"] == 1 and first["stage"]["due_at"] == a["stage"]["due_at"]

    bad_params: list[tuple[dict[str, Any], str]] = [
        ({"status": "pending"}, "status"),
        ({"breached": "maybe"}, "breached"),
        ({"due_before": "2026-12-01T00:00:00"}, "time zone"),
        ({"due_before": "2026-12-01"}, "time zone"),
        ({"due_before": "next tuesday"}, "due_before"),
        ({"due_before": "2026-13-45T00:00:00Z"}, "due_before"),
        ({"page": 0}, "page"),
        ({"page": -1}, "page"),
        ({"page": 100_001}, "page"),
        ({"page": 10**30}, "page"),
        ({"page": "two"}, "page"),
        ({"page": 1.5}, "page"),
        ({"q": "x" * 101}, "q"),
    ]
    for params, named in bad_params:
        response = await api_stack.http.get("/api/cases", params=params, headers=alice)
        assert named in refused(response, 422), params


@pytest_asyncio.fixture
async def fifty_five_case_rows(api_stack: ApiStack) -> AsyncIterator[list[str]]:
    """Rows of the read model only (paging reads nothing else); removed before the stack
    ends, as they have no process on the dev server to end."""
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    case_ids = [f"DIS-2020-{number:04d}" for number in range(1, 56)]
    async with api_stack.database.transaction() as session:
        for number, case_id in enumerate(case_ids, start=1):
            session.add(
                Case(
                    id=case_id,
                    organisation_id=api_stack.people.organisation.id,
                    case_type="disciplinary",
                    policy_version=1,
                    employee_id="E1001",
                    summary=f"Case {number}",
                    risk="routine",
                    advisor="alice",
                    division="Medicine",
                    department="Cardiology",
                    opened_by="alice",
                    status="open",
                    stage_key="assessment",
                    stage_name="Pre-formal assessment",
                    stage_started_at=start,
                    # Due in the reverse order of their numbers, so the order is by deadline.
                    stage_due_at=start + timedelta(days=100 - number),
                    due_at=None,
                    opened_at=start,
                    actions=[],
                )
            )
    yield case_ids
    async with api_stack.database.transaction() as session:
        await session.execute(delete(Case).where(Case.id.in_(case_ids)))


async def test_pages_hold_fifty_cases_each(
    api_stack: ApiStack, fifty_five_case_rows: list[str]
) -> None:
    alice = await api_stack.token("alice")
    pages = []
    for page in (1, 2, 3):
        response = await api_stack.http.get("/api/cases", params={"page": page}, headers=alice)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 55 and body["page"] == page and body["page_size"] == 50
        pages.append([item["id"] for item in body["items"]])
    assert [len(page) for page in pages] == [50, 5, 0]
    assert pages[0] + pages[1] == fifty_five_case_rows[::-1]
    filtered = await api_stack.http.get(
        "/api/cases", params={"page": 2, "q": "dis-2020-00"}, headers=alice
    )
    assert filtered.json()["total"] == 55 and len(filtered.json()["items"]) == 5


# ---- steps -----------------------------------------------------------------------------


async def test_steps_walk_every_stage_and_timeline_is_oldest_first(
    api_stack: ApiStack, dev_server_env: WorkflowEnvironment
) -> None:
    alice = await api_stack.token("alice")
    case = await open_case(api_stack, alice)
    case_id = case["id"]

    reply = await act(api_stack, alice, case_id, "refer_to_investigation", data=REFER)
    assert reply.status_code == 200, reply.text
    assert reply.json()["stage"]["key"] == "investigation"
    assert reply.json()["actions"] == ["submit_report", "no_case_to_answer"]
    note = await api_stack.http.post(
        f"/api/cases/{case_id}/notes", json={"text": "Spoke to the ward manager"}, headers=alice
    )
    assert note.status_code == 201, note.text
    report = {"report_summary": "Timesheets altered", "recommendation": "Formal hearing"}
    reply = await act(api_stack, alice, case_id, "submit_report", data=report)
    assert reply.json()["stage"]["key"] == "hearing_arrangement", reply.text

    # A hearing needs five working days' notice, a real date, and a chair.
    earliest = add_working_days(datetime.now(UTC).astimezone(LONDON).date(), 5).isoformat()
    baseline = await records(api_stack)
    for data, status, named in [
        ({"hearing_date": london_today(), "panel_chair": "Ms Ode"}, 422, earliest),
        ({"hearing_date": "next tuesday", "panel_chair": "Ms Ode"}, 422, "hearing_date"),
        ({"hearing_date": 20261201, "panel_chair": "Ms Ode"}, 422, "hearing_date"),
        ({"hearing_date": f"{earliest} or so", "panel_chair": "Ms Ode"}, 422, "hearing_date"),
        ({"hearing_date": earliest}, 422, "panel_chair"),
        ({"hearing_date": earliest, "panel_chair": "  "}, 422, "panel_chair"),
        ({}, 422, "hearing_date, panel_chair"),
    ]:
        response = await act(api_stack, alice, case_id, "schedule_hearing", data=data)
        assert named in refused(response, status), data
    assert await records(api_stack) == baseline

    hearing = {"hearing_date": earliest, "panel_chair": "Ms Ode"}
    steps: list[tuple[str, dict[str, str], str]] = [
        ("schedule_hearing", hearing, "hearing"),
        (
            "record_decision",
            {
                "outcome": "Final written warning",
                "sanction": "Final written warning",
                "accompanied": "Chose not to be accompanied",
            },
            "outcome_letter",
        ),
        ("send_outcome_letter", {"letter_sent_on": london_today()}, "closed"),
    ]
    for action, data, stage in steps:
        reply = await act(api_stack, alice, case_id, action, data=data)
        assert reply.status_code == 200, reply.text
        assert reply.json()["stage"]["key"] == stage

    final = reply.json()
    assert final["status"] == "closed" and final["actions"] == []
    assert final["outcome"] == "Final written warning" and final["closed_at"] is not None

    read = await api_stack.http.get(f"/api/cases/{case_id}", headers=alice)
    assert read.status_code == 200, read.text
    timeline = read.json()["timeline"]
    assert [entry["kind"] for entry in timeline] == [
        "opened",
        "advanced",
        "note.note",
        *["advanced"] * 3,
        "closed",
    ]
    times = [when(entry["at"]) for entry in timeline]
    assert times == sorted(times)
    assert timeline[2]["detail"] == {"text": "Spoke to the ward manager"}
    assert timeline[1]["detail"]["data"] == REFER and timeline[1]["actor"] == "alice"
    assert timeline[-1]["detail"]["to"] == "closed"

    # A closed case takes no more steps, and its process has finished.
    before = await records(api_stack)
    for path, body in [
        ("actions/send_outcome_letter", {"data": {"letter_sent_on": london_today()}}),
        ("pause", {"reason": "Too late"}),
        ("resume", {}),
        ("assign", {"advisor": "bob"}),
    ]:
        response = await api_stack.http.post(
            f"/api/cases/{case_id}/{path}", json=body, headers=alice
        )
        assert "closed" in refused(response, 409), path
    assert await records(api_stack) == before
    handle = dev_server_env.client.get_workflow_handle(workflow_id(case_id))
    result = await asyncio.wait_for(handle.result(), timeout=10)
    assert result["status"] == "closed"


async def test_bad_steps_are_refused_and_change_nothing(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    case = await open_case(api_stack, alice)
    case_id = case["id"]
    before = await records(api_stack)

    unknown = await act(api_stack, alice, case_id, "fire_them", data={})
    assert "Allowed now: refer_to_investigation" in refused(unknown, 409)
    later = await act(api_stack, alice, case_id, "submit_report", data={"report_summary": "x"})
    assert "not a step of the stage" in refused(later, 409)
    for data, named in [
        ({}, "terms_of_reference, investigating_officer"),
        ({"terms_of_reference": "ToR"}, "investigating_officer"),
        ({**REFER, "investigating_officer": "   "}, "investigating_officer"),
        ({**REFER, "investigating_officer": None}, "investigating_officer"),
    ]:
        response = await act(api_stack, alice, case_id, "refer_to_investigation", data=data)
        assert named in refused(response, 422), data
    deep: Any = "bottom"
    for _ in range(30):
        deep = [deep]
    for body, named in [
        ({"data": "ToR"}, "data"),
        ({"data": [REFER]}, "data"),
        ({"data": {**REFER, "nested": deep}}, "deep"),
        ({"data": {**REFER, "terms_of_reference": "x" * 200_000}}, "at most 20,000"),
        ({"data": {**REFER, **{f"extra_{n}": "x" * 19_000 for n in range(6)}}}, "too large"),
        ({"data": REFER, "request_id": ""}, "request_id"),
        ({"data": REFER, "request_id": "r" * 101}, "request_id"),
        ({"data": REFER, "request_id": 7}, "request_id"),
        ({"data": REFER, "actor": "hannah"}, "actor"),
    ]:
        response = await api_stack.http.post(
            f"/api/cases/{case_id}/actions/refer_to_investigation", json=body, headers=alice
        )
        assert named in refused(response, 422), body
    malformed = await api_stack.http.post(
        f"/api/cases/{case_id}/actions/refer_to_investigation",
        content='{"data": {"terms_of_reference": }}',
        headers={**alice, **JSON_HEADERS},
    )
    assert "not valid JSON" in refused(malformed, 422)
    assert await records(api_stack) == before

    # A NUL byte in the path is refused before any route (api/nul_guard.py).
    nul = await api_stack.http.get("/api/cases/DIS-2026-0001%00", headers=alice)
    assert "NUL character" in refused(nul, 422)
    # Unknown cases, whatever the step.
    for missing in ("DIS-2026-9999", "nonsense", "x" * 5000):
        assert "no case" in refused(
            await api_stack.http.get(f"/api/cases/{missing}", headers=alice), 404
        )
        for path, body in [
            ("actions/refer_to_investigation", {"data": REFER}),
            ("pause", {"reason": "Sick"}),
            ("resume", {}),
            ("assign", {"advisor": "bob"}),
            ("notes", {"text": "Hello"}),
        ]:
            response = await api_stack.http.post(
                f"/api/cases/{missing}/{path}", json=body, headers=alice
            )
            refused(response, 404)
    assert await records(api_stack) == before


async def test_same_request_id_acts_once(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    case_id = (await open_case(api_stack, alice))["id"]

    body = {"data": REFER, "request_id": "refer-1"}
    first = await act(api_stack, alice, case_id, "refer_to_investigation", **body)
    again = await act(api_stack, alice, case_id, "refer_to_investigation", **body)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await event_kinds(api_stack, case_id) == ["opened", "advanced"]

    # The retry of the step that closed the case still gets its answer, and acts once.
    closing = {"data": {"outcome": "No case"}, "request_id": "close-1"}
    first = await act(api_stack, alice, case_id, "no_case_to_answer", **closing)
    again = await act(api_stack, alice, case_id, "no_case_to_answer", **closing)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json() and first.json()["status"] == "closed"
    assert await event_kinds(api_stack, case_id) == ["opened", "advanced", "closed"]
    # A new request on the closed case is refused.
    other = {"data": {"outcome": "No case"}, "request_id": "close-2"}
    refused(await act(api_stack, alice, case_id, "no_case_to_answer", **other), 409)
    assert await event_kinds(api_stack, case_id) == ["opened", "advanced", "closed"]


async def test_pause_stops_the_clock_and_resume_moves_the_deadlines(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    case = await open_case(api_stack, alice)
    case_id = case["id"]
    pause_url, resume_url = f"/api/cases/{case_id}/pause", f"/api/cases/{case_id}/resume"
    before = await records(api_stack)

    for body, named in [
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "  \n "}, "reason"),
        ({"reason": None}, "reason"),
        ({"reason": 42}, "reason"),
        ({"reason": "x" * 2001}, "reason"),
        ({"reason": "Sick", "until": "2027-01-01"}, "until"),
    ]:
        response = await api_stack.http.post(pause_url, json=body, headers=alice)
        assert named in refused(response, 422), body
    assert "not paused" in refused(await api_stack.http.post(resume_url, headers=alice), 409)
    assert await records(api_stack) == before

    paused = await api_stack.http.post(
        pause_url, json={"reason": "  Employee signed off sick  "}, headers=alice
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused" and paused.json()["actions"] == []
    assert paused.json()["paused_reason"] == "Employee signed off sick"

    while_paused = await records(api_stack)
    again = await api_stack.http.post(pause_url, json={"reason": "Still sick"}, headers=alice)
    assert "already paused" in refused(again, 409)
    step = await act(api_stack, alice, case_id, "refer_to_investigation", data=REFER)
    assert "paused" in refused(step, 409)
    assert await records(api_stack) == while_paused

    await asyncio.sleep(1.1)
    resumed = await api_stack.http.post(resume_url, headers=alice)
    assert resumed.status_code == 200, resumed.text
    after = resumed.json()
    assert after["status"] == "open" and after["paused_reason"] is None
    assert after["actions"] == ASSESSMENT_ACTIONS

    timeline = (await api_stack.http.get(f"/api/cases/{case_id}", headers=alice)).json()["timeline"]
    kinds = {entry["kind"]: entry for entry in timeline}
    assert [entry["kind"] for entry in timeline] == ["opened", "paused", "resumed"]
    paused_for = when(kinds["resumed"]["at"]) - when(kinds["paused"]["at"])
    assert paused_for >= timedelta(seconds=1)
    assert kinds["resumed"]["detail"]["paused_seconds"] == int(paused_for.total_seconds())
    assert when(after["stage"]["due_at"]) == when(case["stage"]["due_at"]) + paused_for
    assert when(after["due_at"]) == when(case["due_at"]) + paused_for

    assert "not paused" in refused(await api_stack.http.post(resume_url, headers=alice), 409)
    reply = await act(api_stack, alice, case_id, "refer_to_investigation", data=REFER)
    assert reply.status_code == 200 and reply.json()["stage"]["key"] == "investigation"


async def test_assign_and_notes(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    case_id = (await open_case(api_stack, alice))["id"]
    assign_url, notes_url = f"/api/cases/{case_id}/assign", f"/api/cases/{case_id}/notes"
    before = await records(api_stack)

    for body, named in [
        ({"advisor": "mark"}, "mark"),
        ({"advisor": "oscar"}, "oscar"),
        ({"advisor": "nobody"}, "nobody"),
        ({"advisor": ""}, "advisor"),
        ({"advisor": "b" * 81}, "advisor"),
        ({}, "advisor"),
        ({"advisor": ["bob"]}, "advisor"),
        ({"advisor": "bob", "reason": "holiday"}, "reason"),
    ]:
        response = await api_stack.http.post(assign_url, json=body, headers=alice)
        assert named in refused(response, 422), body
    for body, named in [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 20_001}, "text"),
        ({}, "text"),
        ({"text": "Hello", "kind": "gossip"}, "kind"),
        ({"text": "Hello", "author": "bob"}, "author"),
        ({"text": ["Hello"]}, "text"),
    ]:
        response = await api_stack.http.post(notes_url, json=body, headers=alice)
        assert named in refused(response, 422), body
    assert await records(api_stack) == before

    assign = {"advisor": "bob", "request_id": "assign-1"}
    assigned = await api_stack.http.post(assign_url, json=assign, headers=alice)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["advisor"] == "bob"
    repeated = await api_stack.http.post(assign_url, json=assign, headers=alice)
    assert repeated.status_code == 200 and repeated.json() == assigned.json()
    assert await listed(api_stack, alice, advisor="bob") == [case_id]
    assert await listed(api_stack, alice, advisor="alice") == []

    note = await api_stack.http.post(
        notes_url, json={"text": "  Called the employee  ", "kind": "call"}, headers=alice
    )
    assert note.status_code == 201, note.text
    assert note.json()["kind"] == "call" and note.json()["author"] == "alice"
    assert note.json()["text"] == "Called the employee"
    long_note = await api_stack.http.post(notes_url, json={"text": "y" * 20_000}, headers=alice)
    assert long_note.status_code == 201, long_note.text

    timeline = (await api_stack.http.get(f"/api/cases/{case_id}", headers=alice)).json()["timeline"]
    assert [entry["kind"] for entry in timeline] == ["opened", "assigned", "note.call", "note.note"]
    assert timeline[1]["detail"] == {"from": "alice", "to": "bob"}
    assert timeline[2]["actor"] == "alice" and timeline[2]["detail"]["text"] == note.json()["text"]


# ---- signing in ------------------------------------------------------------------------


async def test_missing_garbage_and_expired_tokens_are_refused(api_stack: ApiStack) -> None:
    http, settings = api_stack.http, api_stack.settings
    alice = await api_stack.token("alice")
    case_id = (await open_case(api_stack, alice))["id"]
    before = await records(api_stack)

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    expired = create_access_token("alice", settings.secret_key, -1)
    forged = create_access_token("alice", "another-secret-key-that-is-long-enough", 30)
    ghost = create_access_token("ghost", settings.secret_key, 30)
    credentials: list[dict[str, str]] = [
        {},
        bearer("garbage"),
        bearer(""),
        bearer(expired),
        bearer(forged),
        bearer(ghost),
        bearer(expired + "x"),
        {"Authorization": "Basic YWxpY2U6ZGVtbw=="},
        {"Authorization": alice["Authorization"].removeprefix("Bearer ")},
    ]
    requests: list[tuple[str, str, Any]] = [
        ("GET", "/api/cases", None),
        ("GET", f"/api/cases/{case_id}", None),
        ("POST", "/api/cases", CASE),
        ("POST", f"/api/cases/{case_id}/actions/refer_to_investigation", {"data": REFER}),
        ("POST", f"/api/cases/{case_id}/pause", {"reason": "Sick"}),
        ("POST", f"/api/cases/{case_id}/notes", {"text": "Hello"}),
        ("POST", "/api/staff", [{"id": "E7777"}]),
        ("GET", "/api/policies", None),
    ]
    for headers in credentials:
        for method, url, body in requests:
            response = await http.request(method, url, json=body, headers=headers)
            refused(response, 401)
            assert response.headers["www-authenticate"] == "Bearer", (headers, url)
    assert await records(api_stack) == before

    # Signing in: wrong passwords and unknown users get the same answer.
    for form in (
        {"username": "alice", "password": "wrong"},
        {"username": "ALICE", "password": "demo"},
        {"username": "ghost", "password": "demo"},
    ):
        response = await http.post("/api/auth/token", data=form)
        assert refused(response, 401) == "The username or password is wrong."
    refused(await http.post("/api/auth/token", data={"username": "alice"}), 422)
    refused(await http.post("/api/auth/token", data={"username": "alice", "password": ""}), 422)
    refused(await http.post("/api/auth/token", json={"username": "alice", "password": "demo"}), 422)

    # A user who is switched off can neither sign in nor use a token given earlier.
    async with api_stack.database.transaction() as session:
        user = await session.scalar(select(User).where(User.username == "alice"))
        assert user is not None
        user.active = False
    refused(await http.get("/api/cases", headers=alice), 401)
    refused(await http.post("/api/auth/token", data={"username": "alice", "password": "demo"}), 401)
