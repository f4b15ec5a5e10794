"""Who may do what, route by route, against the real stack: roles, organisations, audit."""

import copy
from datetime import datetime
from typing import Any

import httpx
import yaml
from sqlalchemy import select

from policies.calendar import due_instant
from policies.durations import WorkingDays
from records.esr import default_mapping
from records.models import AuditEntry, Case, CaseEvent, Note, PolicyVersion, Staff
from records.people import create_user
from tests.support.harness import JUST_CULTURE
from tests.support.people import DEMO_HASH
from tests.support.stack import ApiStack
from tests.support.waiting import eventually
from tests.web.test_web_security import Browser

CASE = {"case_type": "disciplinary", "employee_id": "E1001", "summary": "Timesheets"}
REFER = {
    "terms_of_reference": "Timesheets, January to March",
    "investigating_officer": "Dr Khan",
    **JUST_CULTURE,
}
VERSIONS = "/api/policies/disciplinary/versions"


def refused(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    detail = response.json()["detail"]
    assert isinstance(detail, str) and " " in detail.strip(), response.text
    return detail


async def records(stack: ApiStack) -> dict[str, list[tuple[Any, ...]]]:
    """What a refused request must leave as it was (the audit log may grow)."""
    async with stack.database.sessions() as session:
        cases = await session.scalars(select(Case).order_by(Case.id))
        events = await session.scalars(select(CaseEvent).order_by(CaseEvent.id))
        notes = await session.scalars(select(Note).order_by(Note.id))
        policies = await session.scalars(select(PolicyVersion).order_by(PolicyVersion.id))
        staff = await session.scalars(select(Staff).order_by(Staff.id))
        return {
            "cases": [
                tuple(getattr(case, column.key) for column in Case.__table__.c) for case in cases
            ],
            "events": [(e.case_id, e.seq, e.kind) for e in events],
            "notes": [(n.case_id, n.body) for n in notes],
            "policies": [
                (p.organisation_id, p.case_type, p.version, p.definition) for p in policies
            ],
            "staff": [
                tuple(getattr(row, column.key) for column in Staff.__table__.c) for row in staff
            ],
        }


async def open_case(stack: ApiStack, username: str, **fields: Any) -> str:
    """Open a case as `username` and wait until its process has recorded that it started."""
    response = await stack.http.post(
        "/api/cases", json={**CASE, **fields}, headers=await stack.token(username)
    )
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]

    async def started() -> bool:
        async with stack.database.sessions() as session:
            found = await session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case_id))
            return found is not None

    await eventually(started, seconds=15)
    return case_id


async def listed(stack: ApiStack, headers: dict[str, str], **params: Any) -> list[str]:
    response = await stack.http.get("/api/cases", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def case_reads(stack: ApiStack) -> list[tuple[str | None, str | None]]:
    async with stack.database.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "case.read").order_by(AuditEntry.id)
        )
        return [(row.username, row.case_id) for row in rows]


def case_steps(case_id: str) -> list[tuple[str, dict[str, Any] | None]]:
    """Every route that changes a case, with a body that is valid for a new case."""
    return [
        (f"/api/cases/{case_id}/actions/refer_to_investigation", {"data": REFER}),
        (f"/api/cases/{case_id}/pause", {"reason": "Employee signed off sick"}),
        (f"/api/cases/{case_id}/resume", None),
        (f"/api/cases/{case_id}/assign", {"advisor": "bob"}),
        (f"/api/cases/{case_id}/notes", {"text": "Called the ward manager"}),
    ]


# ---- policies --------------------------------------------------------------------------


async def test_only_policy_owners_publish_and_invalid_versions_name_their_paths(
    api_stack: ApiStack,
) -> None:
    http = api_stack.http
    polly = await api_stack.token("polly")
    shipped = await http.get("/api/policies/disciplinary", headers=polly)
    assert shipped.status_code == 200 and shipped.json()["version"] == 1, shipped.text
    definition: dict[str, Any] = shipped.json()["definition"]
    quicker = copy.deepcopy(definition)
    quicker["stages"][0]["due"] = {"working_days": 3}
    before = await records(api_stack)

    for username in ("alice", "mark", "hannah", "oscar"):
        response = await http.post(VERSIONS, json=quicker, headers=await api_stack.token(username))
        assert refused(response, 403) == "Your role does not allow you to publish policies."
    assert await records(api_stack) == before

    invalid = copy.deepcopy(definition)
    invalid["stages"][0]["due"] = "five days"
    invalid["stages"][1]["actions"][0]["to"] = "nowhere"
    invalid["stages"][2]["escalations"][0]["notify"] = ["chief_executive"]
    invalid["colour"] = "blue"
    response = await http.post(VERSIONS, json=invalid, headers=polly)
    assert "(4 more in errors)" in refused(response, 422)
    errors = response.json()["errors"]
    assert {error["path"] for error in errors} == {
        "stages[0].due",
        "stages[1].actions[0].to",
        "stages[2].key",  # nothing leads to the hearing arrangement any more
        "stages[2].escalations[0].notify[0]",
        "colour",
    }
    assert all(isinstance(error["message"], str) and error["message"] for error in errors)

    yaml_headers = {**polly, "content-type": "application/yaml"}
    json_headers = {**polly, "content-type": "application/json"}
    for body, headers, named in [
        ("stages: [", yaml_headers, "not valid"),
        ("case_type: disciplinary\ncase_type: grievance\n", yaml_headers, "not valid"),
        ("- just\n- a list\n", yaml_headers, "not valid"),
        ("", yaml_headers, "not valid"),
        ("[" * 5000, yaml_headers, "nested"),
        ("{not json", json_headers, "not valid JSON"),
        ("", json_headers, "not valid JSON"),
        ("[" * 50_000, json_headers, "nested"),
        ('{"case_type": ' + "9" * 5000 + "}", json_headers, "cannot be read"),
        ("case_type: disciplinary\nreviewed: 2026-13-45\n", yaml_headers, "month"),
    ]:
        response = await http.post(VERSIONS, content=body, headers=headers)
        assert named in refused(response, 422), body
        if "yaml" in headers["content-type"] and named == "not valid":
            assert response.json()["errors"], body
    elsewhere = await http.post("/api/policies/grievance/versions", json=quicker, headers=polly)
    assert "for 'disciplinary'" in refused(elsewhere, 422)
    assert await records(api_stack) == before

    published = await http.post(
        VERSIONS, params={"change_note": "Shorter assessment"}, json=quicker, headers=polly
    )
    assert published.status_code == 201, published.text
    assert published.json() == {"case_type": "disciplinary", "version": 2, "warnings": []}
    as_yaml = await http.post(VERSIONS, content=yaml.safe_dump(quicker), headers=yaml_headers)
    assert as_yaml.status_code == 201, as_yaml.text
    assert as_yaml.json() == {"case_type": "disciplinary", "version": 3, "warnings": []}

    second = (await http.get("/api/policies/disciplinary?version=2", headers=polly)).json()
    assert (second["author"], second["change_note"]) == ("polly", "Shorter assessment")
    assert second["definition"]["stages"][0]["due"] == {"working_days": 3}
    latest = await http.get("/api/policies/disciplinary", headers=await api_stack.token("alice"))
    assert latest.json()["version"] == 3
    refused(await http.get("/api/policies/disciplinary?version=9", headers=polly), 404)
    # Another trust's policies are its own.
    theirs = await http.get("/api/policies/disciplinary", headers=await api_stack.token("oscar"))
    assert theirs.json()["version"] == 1

    # New cases use the newest version.
    alice = await api_stack.token("alice")
    opened = await http.post("/api/cases", json=CASE, headers=alice)
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["policy"] == {"case_type": "disciplinary", "version": 3}
    opened_at = datetime.fromisoformat(case["opened_at"])
    assert datetime.fromisoformat(case["stage"]["due_at"]) == due_instant(opened_at, WorkingDays(3))


# ---- cases, role by role ---------------------------------------------------------------


async def test_policy_owner_sees_and_changes_no_case(api_stack: ApiStack) -> None:
    case_id = await open_case(api_stack, "alice")
    polly = await api_stack.token("polly")
    before = await records(api_stack)

    refused(await api_stack.http.post("/api/cases", json=CASE, headers=polly), 403)
    listing = await api_stack.http.get("/api/cases", headers=polly)
    assert listing.status_code == 200 and listing.json()["items"] == []
    assert listing.json()["total"] == 0
    searched = await api_stack.http.get("/api/cases", params={"q": case_id}, headers=polly)
    assert searched.json()["total"] == 0
    refused(await api_stack.http.get(f"/api/cases/{case_id}", headers=polly), 404)
    # A case they may not see answers as if it did not exist, on every route.
    for url, body in case_steps(case_id):
        refused(await api_stack.http.post(url, json=body, headers=polly), 404)
    assert await records(api_stack) == before
    assert await case_reads(api_stack) == []


async def test_nobody_sees_another_organisations_cases(api_stack: ApiStack) -> None:
    north = await open_case(api_stack, "alice")
    south = await open_case(api_stack, "oscar", employee_id="S9001")
    oscar, alice = await api_stack.token("oscar"), await api_stack.token("alice")
    before = await records(api_stack)

    assert "no case" in refused(await api_stack.http.get(f"/api/cases/{north}", headers=oscar), 404)
    assert await listed(api_stack, oscar) == [south]
    for params in ({"q": north}, {"advisor": "alice"}, {"division": "Medicine"}):
        assert await listed(api_stack, oscar, **params) == [], params
    for url, body in case_steps(north):
        refused(await api_stack.http.post(url, json=body, headers=oscar), 404)
    # Nor can a case be handed to the other trust's advisor.
    assign_oscar = await api_stack.http.post(
        f"/api/cases/{north}/assign", json={"advisor": "oscar"}, headers=alice
    )
    assert "oscar" in refused(assign_oscar, 422)
    # Nor can either trust open a case about the other's staff, or for the other's advisor.
    for headers, body in [
        (oscar, {**CASE, "employee_id": "E1001"}),
        (oscar, {**CASE, "employee_id": "S9001", "advisor": "alice"}),
        (alice, {**CASE, "employee_id": "S9001"}),
    ]:
        refused(await api_stack.http.post("/api/cases", json=body, headers=headers), 422)
    # And the same holds the other way round.
    refused(await api_stack.http.get(f"/api/cases/{south}", headers=alice), 404)
    assert await listed(api_stack, alice) == [north]
    assert await records(api_stack) == before
    assert await case_reads(api_stack) == []


async def test_hr_director_reads_but_does_not_act_and_a_manager_acts(api_stack: ApiStack) -> None:
    case_id = await open_case(api_stack, "alice")
    hannah, mark = await api_stack.token("hannah"), await api_stack.token("mark")
    before = await records(api_stack)

    read = await api_stack.http.get(f"/api/cases/{case_id}", headers=hannah)
    assert read.status_code == 200 and read.json()["timeline"][0]["kind"] == "opened"
    assert await listed(api_stack, hannah) == [case_id]
    assert "cannot open or change" in refused(
        await api_stack.http.post("/api/cases", json={**CASE, "advisor": "alice"}, headers=hannah),
        403,
    )
    for url, body in case_steps(case_id):
        assert "cannot open or change" in refused(
            await api_stack.http.post(url, json=body, headers=hannah), 403
        )
    assert await records(api_stack) == before

    # A manager works cases of the trust.
    acted = await api_stack.http.post(
        f"/api/cases/{case_id}/actions/refer_to_investigation", json={"data": REFER}, headers=mark
    )
    assert acted.status_code == 200 and acted.json()["stage"]["key"] == "investigation"
    noted = await api_stack.http.post(
        f"/api/cases/{case_id}/notes", json={"text": "Checked the rota"}, headers=mark
    )
    assert noted.status_code == 201 and noted.json()["author"] == "mark"


async def test_every_read_of_a_case_is_audited(api_stack: ApiStack) -> None:
    case_id = await open_case(api_stack, "alice")
    assert await case_reads(api_stack) == []

    for username in ("alice", "alice", "hannah", "mark"):
        response = await api_stack.http.get(
            f"/api/cases/{case_id}", headers=await api_stack.token(username)
        )
        assert response.status_code == 200, response.text
    # Lists, refused reads and reads of unknown cases are not reads of this case.
    alice = await api_stack.token("alice")
    assert (await api_stack.http.get("/api/cases", headers=alice)).status_code == 200
    for username in ("oscar", "polly"):
        headers = await api_stack.token(username)
        refused(await api_stack.http.get(f"/api/cases/{case_id}", headers=headers), 404)
    refused(await api_stack.http.get("/api/cases/DIS-1999-0001", headers=alice), 404)

    assert await case_reads(api_stack) == [
        ("alice", case_id),
        ("alice", case_id),
        ("hannah", case_id),
        ("mark", case_id),
    ]
    async with api_stack.database.sessions() as session:
        rows = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "case.read"))
        )
    assert {row.organisation_id for row in rows} == {api_stack.people.organisation.id}
    assert all(row.client_address for row in rows)


# ---- the staff directory ---------------------------------------------------------------


async def add_admins(stack: ApiStack) -> None:
    """adam, an admin of the first trust, and olga, of the second."""
    async with stack.database.transaction() as session:
        for organisation, username in (
            (stack.people.organisation, "adam"),
            (stack.people.other_organisation, "olga"),
        ):
            await create_user(
                session, organisation, username, DEMO_HASH, ["admin"], username.title(),
                f"{username}@example.nhs.uk",
            )  # fmt: skip


async def test_staff_directory_changed_by_admins_only_and_all_or_nothing(
    api_stack: ApiStack,
) -> None:
    # Issue 22.5: any advisor could rewrite the directory (line managers, ethnicity,
    # disability). Directory writes are for admins; every changed field is audited.
    http = api_stack.http
    await add_admins(api_stack)
    alice, polly = await api_stack.token("alice"), await api_stack.token("polly")
    adam = await api_stack.token("adam")
    newcomer = {
        "id": "E3001",
        "name": "Nia Evans",
        "email": "nia.evans@north.example",
        "division": "Estates",
        "department": "Facilities",
        "line_manager": "E2001",
        "band": "4",
    }
    before = await records(api_stack)

    for refused_user in (polly, alice, await api_stack.token("mark")):
        assert "Only an administrator" in refused(
            await http.post("/api/staff", json=[newcomer], headers=refused_user), 403
        )
    for rows, status, named in [
        ([newcomer, {"id": "E3002"}, {**newcomer, "name": "Again"}], 422, "E3001"),
        ([newcomer, {"id": "E3002", "email": "not-an-email"}], 422, "1.email"),
        ([{"id": "E3002", "email": "two words@north.example"}], 422, "0.email"),
        ([{"id": "E3002", "email": "a@b@c"}], 422, "0.email"),
        ([{"name": "No Id"}], 422, "0.id"),
        ([{"id": ""}], 422, "0.id"),
        ([{"id": "   "}], 422, "0.id"),
        ([{"id": "E" * 41}], 422, "0.id"),
        ([{"id": "E3002", "salary": 30000}], 422, "0.salary"),
        ([{"id": "E3002", "name": 7}], 422, "0.name"),
        ([{"id": 3002}], 422, "0.id"),
        (newcomer, 422, "list"),
        ("E3001", 422, "list"),
    ]:
        response = await http.post("/api/staff", json=rows, headers=adam)
        assert named in refused(response, status), rows
    malformed = await http.post(
        "/api/staff", content="[{", headers={**adam, "content-type": "application/json"}
    )
    assert "not valid JSON" in refused(malformed, 422)
    assert await records(api_stack) == before

    updated = {
        "id": "E1002",
        "name": "Sam Jones",
        "email": "sam.jones@north.example",
        "division": "Surgery",
        "department": "Theatres",
    }
    imported = await http.post("/api/staff", json=[newcomer, updated], headers=adam)
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"created": 1, "updated": 1}
    # Another trust's import touches only its own directory.
    theirs = await http.post(
        "/api/staff",
        json=[{"id": "E1001", "name": "Someone Else"}],
        headers=await api_stack.token("olga"),
    )
    assert theirs.json() == {"created": 1, "updated": 0}, theirs.text
    async with api_stack.database.sessions() as session:
        staff = {
            (row.organisation_id, row.employee_id): row
            for row in await session.scalars(select(Staff))
        }
        audited = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "staff.import", AuditEntry.username == "adam"
            )
        )
    north, south = api_stack.people.organisation.id, api_stack.people.other_organisation.id
    assert staff[(north, "E3001")].division == "Estates"
    assert staff[(north, "E3001")].line_manager_id == "E2001"
    assert staff[(north, "E1002")].email == "sam.jones@north.example"
    assert staff[(north, "E1001")].name == "Priya Patel"
    assert staff[(south, "E1001")].name == "Someone Else"
    assert audited is not None
    assert (audited.detail["created"], audited.detail["updated"]) == (1, 1)
    # Each changed field with its value before and after; fields not sent are kept.
    assert audited.detail["changes"]["E1002"] == {
        "email": ["sam@north.example", "sam.jones@north.example"]
    }
    assert audited.detail["changes"]["E3001"]["line_manager_id"] == [None, "E2001"]

    # Someone just added can be the subject of a case.
    opened = await http.post("/api/cases", json={**CASE, "employee_id": "E3001"}, headers=alice)
    assert opened.status_code == 201, opened.text
    assert (opened.json()["division"], opened.json()["department"]) == ("Estates", "Facilities")


async def test_a_directory_change_that_would_reveal_a_case_to_its_maker_is_refused(
    api_stack: ApiStack,
) -> None:
    # Issue 22.5: Lena (E2001) is Priya's line manager, so she may not see Priya's case. An
    # admin linked to Lena's staff record who moves Priya to another line manager would gain
    # the case (404 → 200): refused, nothing changed. Another admin may make the same change.
    http = api_stack.http
    await add_admins(api_stack)
    async with api_stack.database.transaction() as session:
        await create_user(
            session, api_stack.people.organisation, "lena", DEMO_HASH, ["admin"], "Lena Line",
            "lena@north.example", staff_employee_id="E2001",
        )  # fmt: skip
    case_id = await open_case(api_stack, "alice")
    lena = await api_stack.token("lena")
    assert (await http.get(f"/api/cases/{case_id}", headers=lena)).status_code == 404

    moved = [{"id": "E1001", "line_manager": "E1002"}]
    reply = await http.post("/api/staff", json=moved, headers=lena)
    assert "would let you see 1 case" in refused(reply, 409)
    assert (await http.get(f"/api/cases/{case_id}", headers=lena)).status_code == 404
    columns = default_mapping()  # {field: the ESR column it is read from}
    cells = {"employee_id": "E1001", "name": "Priya Patel", "line_manager_id": "E1002"}
    esr = ",".join(columns.values()) + "\r\n"
    esr += ",".join(cells.get(field, "") for field in columns) + "\r\n"
    via_esr = await http.post(
        "/api/staff/import", files={"file": ("esr.csv", esr, "text/csv")}, headers=lena
    )
    assert "would let you see 1 case" in refused(via_esr, 409)
    async with api_stack.database.sessions() as session:
        priya = await session.scalar(select(Staff).where(Staff.employee_id == "E1001"))
    assert priya is not None and priya.line_manager_id == "E2001"

    adam = await api_stack.token("adam")
    assert (await http.post("/api/staff", json=moved, headers=adam)).status_code == 200


async def test_the_timeline_names_who_opened_the_case_not_its_advisor(api_stack: ApiStack) -> None:
    # Issue 22.16: a manager opened a case for alice and the timeline said alice opened it.
    case_id = await open_case(api_stack, "mark", advisor="alice")
    read = await api_stack.http.get(f"/api/cases/{case_id}", headers=await api_stack.token("mark"))
    opened = read.json()["timeline"][0]
    assert (opened["kind"], opened["actor"]) == ("opened", "mark")
    assert read.json()["advisor"] == "alice"


async def audited(stack: ApiStack, action: str) -> list[AuditEntry]:
    async with stack.database.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(rows)


async def test_lists_side_reads_and_reports_are_audited_with_what_they_showed(
    api_stack: ApiStack,
) -> None:
    # Issue 22.15: the README promises every read is audited; lists, searches, document and
    # time lists, restriction and legal-hold reads, reports and exports were not.
    http = api_stack.http
    case_id = await open_case(api_stack, "alice")
    alice, mark = await api_stack.token("alice"), await api_stack.token("mark")

    assert (await http.get("/api/cases?q=E1001", headers=alice)).status_code == 200
    [listing] = await audited(api_stack, "cases.list")
    assert listing.username == "alice" and listing.client_address
    assert listing.detail == {"filters": {"q": "E1001", "page": 1}, "cases": [case_id]}

    for url, action in (
        (f"/api/cases/{case_id}/documents", "case.documents.read"),
        (f"/api/cases/{case_id}/time", "case.time.read"),
        (f"/api/cases/{case_id}/restriction", "case.restriction.read"),
        (f"/api/cases/{case_id}/legal-hold", "case.legal_hold.read"),
    ):
        assert (await http.get(url, headers=mark)).status_code == 200, url
        [row] = await audited(api_stack, action)
        assert (row.username, row.case_id) == ("mark", case_id), action
        assert row.client_address, action

    assert (await http.get("/api/reports/workload", headers=mark)).status_code == 200
    foi = await http.get("/api/reports/kpis?foi=true", headers=mark)
    assert foi.status_code == 200
    reports = await audited(api_stack, "report.read")
    assert [(r.detail["report"], r.detail["output"]) for r in reports] == [
        ("workload", "json"),
        ("kpis", "foi"),
    ]
    # The web list page is the same service, audited the same way.
    browser = Browser(http)
    await browser.sign_in("alice")
    before = len(await audited(api_stack, "cases.list"))
    assert (await browser.request("GET", "/cases")).status_code == 200
    *_, shown = await audited(api_stack, "cases.list")
    assert len(await audited(api_stack, "cases.list")) == before + 1
    assert (shown.username, shown.detail["cases"]) == ("alice", [case_id])
