"""A first walk through the API against the real stack (dev server, worker, SQLite, SMTP)."""

from tests.support.harness import JUST_CULTURE
from tests.support.stack import ApiStack


async def test_open_act_and_read_back(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    opened = await api_stack.http.post(
        "/api/cases",
        json={"case_type": "disciplinary", "employee_id": "E1001", "summary": "Timesheets"},
        headers=alice,
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["stage"]["key"] == "assessment" and case["advisor"] == "alice"
    acted = await api_stack.http.post(
        f"/api/cases/{case['id']}/actions/refer_to_investigation",
        json={
            "data": {
                "terms_of_reference": "ToR",
                "investigating_officer": "Dr Khan",
                **JUST_CULTURE,
            }
        },
        headers=alice,
    )
    assert acted.status_code == 200, acted.text
    assert acted.json()["stage"]["key"] == "investigation"
    read = await api_stack.http.get(f"/api/cases/{case['id']}", headers=alice)
    assert [entry["kind"] for entry in read.json()["timeline"]] == ["opened", "advanced"]
