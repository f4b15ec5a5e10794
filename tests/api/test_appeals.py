"""An appeal is a case of its own, opened from a closed case within its window, linked both ways."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from records.models import Case
from tests.support.stack import ApiStack
from tests.web.test_web_security import Browser


async def closed_disciplinary(api_stack: ApiStack, headers: dict[str, str]) -> str:
    case = await api_stack.http.post(
        "/api/cases",
        json={"case_type": "disciplinary", "employee_id": "E1001", "summary": "Lateness"},
        headers=headers,
    )
    case_id: str = case.json()["id"]
    closed = await api_stack.http.post(
        f"/api/cases/{case_id}/actions/informal_resolution",
        json={"data": {"outcome": "Informal warning"}},
        headers=headers,
    )
    assert closed.json()["status"] == "closed", closed.text
    return case_id


async def test_an_appeal_opens_as_a_linked_case_within_the_window(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    http = api_stack.http
    original = await closed_disciplinary(api_stack, alice)

    blank = await http.post(f"/api/cases/{original}/appeal", json={"grounds": " "}, headers=alice)
    assert blank.status_code == 422
    polly = await api_stack.token("polly")
    forbidden = await http.post(
        f"/api/cases/{original}/appeal", json={"grounds": "Unfair"}, headers=polly
    )
    assert forbidden.status_code == 404  # a policy owner may not know the case exists

    appealed = await http.post(
        f"/api/cases/{original}/appeal", json={"grounds": "Procedure not followed"}, headers=alice
    )
    assert appealed.status_code == 201, appealed.text
    appeal = appealed.json()
    assert appeal["case_type"] == "appeal" and appeal["id"].startswith("APL-")
    assert (appeal["parent"], appeal["employee_id"], appeal["advisor"]) == (
        original,
        "E1001",
        "alice",
    )
    assert appeal["stage"]["key"] == "arrangement"
    assert "Procedure not followed" in appeal["summary"]
    both_ways = (await http.get(f"/api/cases/{original}", headers=alice)).json()
    assert both_ways["linked_cases"] == [
        {"id": appeal["id"], "case_type": "appeal", "status": "open"}
    ]
    again = await http.post(
        f"/api/cases/{original}/appeal", json={"grounds": "Again"}, headers=alice
    )
    assert again.status_code == 409 and appeal["id"] in again.json()["detail"]


async def test_no_appeal_while_open_or_after_the_window(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    http = api_stack.http
    still_open = await http.post(
        "/api/cases",
        json={"case_type": "disciplinary", "employee_id": "E1002", "summary": "Conduct"},
        headers=alice,
    )
    early = await http.post(
        f"/api/cases/{still_open.json()['id']}/appeal", json={"grounds": "x"}, headers=alice
    )
    assert early.status_code == 409 and "still open" in early.json()["detail"]

    late = await closed_disciplinary(api_stack, alice)
    async with api_stack.database.transaction() as session:
        await session.execute(
            update(Case)
            .where(Case.id == late)
            .values(closed_at=datetime.now(UTC) - timedelta(days=30))
        )
    too_late = await http.post(f"/api/cases/{late}/appeal", json={"grounds": "x"}, headers=alice)
    assert too_late.status_code == 409 and "window" in too_late.json()["detail"]
    missing = await http.post(
        "/api/cases/DIS-1999-0001/appeal", json={"grounds": "x"}, headers=alice
    )
    assert missing.status_code == 404


async def test_the_case_pages_show_each_side_of_the_link(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    original = await closed_disciplinary(api_stack, alice)
    appeal = await api_stack.http.post(
        f"/api/cases/{original}/appeal", json={"grounds": "Unfair"}, headers=alice
    )
    appeal_id = appeal.json()["id"]
    browser = Browser(api_stack.http)
    await browser.sign_in("alice")
    original_page = await browser.request("GET", f"/cases/{original}")
    assert f'<a href="/cases/{appeal_id}">{appeal_id}</a> (appeal, open)' in original_page.text
    appeal_page = await browser.request("GET", f"/cases/{appeal_id}")
    assert f'<dt>Linked to</dt><dd><a href="/cases/{original}">' in appeal_page.text
