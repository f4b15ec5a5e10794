"""A person's open cases and handing them all to another advisor, through the API on the real
stack (dev server, worker, SQLite, SMTP): who may, what is checked before any case moves, and
that each case moves by its own assignment step, audited."""

from sqlalchemy import select

from records.models import AuditEntry, Case, CaseEvent, User
from records.people import create_user
from tests.support.people import DEMO_HASH
from tests.support.stack import ApiStack
from tests.web.test_web_security import Browser, open_case


async def test_open_cases_are_reassigned_in_one_action_by_an_admin_or_a_manager(
    api_stack: ApiStack,
) -> None:
    async with api_stack.database.transaction() as session:
        await create_user(
            session, api_stack.people.organisation, "adam", DEMO_HASH, ["admin"], "Adam", "a@n.ex"
        )
    cases = sorted([await open_case(api_stack, "alice"), await open_case(api_stack, "alice")])
    bobs = await open_case(api_stack, "bob")
    adam, mark = await api_stack.token("adam"), await api_stack.token("mark")

    listed = await api_stack.http.get("/api/users/alice/cases", headers=adam)
    assert listed.status_code == 200, listed.text
    assert [case["id"] for case in listed.json()["items"]] == cases
    assert listed.json()["hidden"] == 0
    for username, status in (("alice", 403), ("hannah", 403), ("polly", 403), ("oscar", 404)):
        reply = await api_stack.http.post(
            "/api/users/alice/reassign",
            json={"to": "bob"},
            headers=await api_stack.token(username),
        )
        assert reply.status_code == status, (username, reply.text)
    for to, named in (("hannah", "not an advisor"), ("alice", "other than alice"), ("oscar", "")):
        reply = await api_stack.http.post(
            "/api/users/alice/reassign", json={"to": to}, headers=adam
        )
        assert reply.status_code == 422 and named in reply.json()["detail"], reply.text

    # bob's staff record is the subject's line manager: a party to both cases, so none moves.
    async with api_stack.database.transaction() as session:
        bob = await session.scalar(select(User).where(User.username == "bob"))
        assert bob is not None
        bob.staff_employee_id = "E2001"
    refused = await api_stack.http.post(
        "/api/users/alice/reassign", json={"to": "bob"}, headers=mark
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].startswith("Nothing was reassigned: bob cannot be given case")
    assert "(1 more like it)" in refused.json()["detail"]
    async with api_stack.database.transaction() as session:
        bob = await session.scalar(select(User).where(User.username == "bob"))
        assert bob is not None
        bob.staff_employee_id = None

    moved = await api_stack.http.post("/api/users/alice/reassign", json={"to": "bob"}, headers=mark)

    assert moved.status_code == 200, moved.text
    assert moved.json() == {"to": "bob", "cases": cases, "hidden": 0}
    async with api_stack.database.sessions() as session:
        advisors = dict(
            (await session.execute(select(Case.id, Case.advisor).where(Case.id.in_(cases)))).all()
        )
        steps = list(
            await session.scalars(
                select(CaseEvent).where(CaseEvent.kind == "assigned").order_by(CaseEvent.case_id)
            )
        )
        audit = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.in_(["case.assign", "user.cases_reassigned"]))
                .order_by(AuditEntry.id)
            )
        )
    assert advisors == {case_id: "bob" for case_id in cases}
    assert [(step.case_id, step.actor) for step in steps] == [(case, "mark") for case in cases]
    assert [(row.action, row.username, row.case_id) for row in audit] == [
        ("case.assign", "mark", cases[0]),
        ("case.assign", "mark", cases[1]),
        ("user.cases_reassigned", "mark", None),
    ]
    after = await api_stack.http.get("/api/users/alice/cases", headers=adam)
    assert after.json() == {"items": [], "hidden": 0}
    mine = (await api_stack.http.get("/api/users/bob/cases", headers=mark)).json()
    assert sorted(case["id"] for case in mine["items"]) == sorted([*cases, bobs])


async def test_the_page_reassigns_with_a_form_post(api_stack: ApiStack) -> None:
    case_id = await open_case(api_stack, "alice")
    browser = Browser(api_stack.http)
    await browser.sign_in("mark")
    page = await browser.request("GET", "/admin/users/alice")
    assert page.status_code == 200 and case_id in page.text
    no_csrf = await browser.request("POST", "/admin/users/alice/reassign", data={"to": "bob"})
    assert no_csrf.status_code == 403
    reply = await browser.request(
        "POST", "/admin/users/alice/reassign", data={"to": "bob", "csrf_token": browser.csrf}
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == "/admin/users/alice?done=reassigned&count=1&to=bob"
    shown = await browser.request("GET", reply.headers["location"])
    assert "1 open case reassigned to bob." in shown.text
    async with api_stack.database.sessions() as session:
        assert (await session.get_one(Case, case_id)).advisor == "bob"
