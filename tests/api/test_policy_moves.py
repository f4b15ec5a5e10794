"""Moving a running case to a newer policy version: explicit, audited, refused with a reason."""

from typing import Any

from sqlalchemy import select

from policies.loader import shipped_policies
from records.models import AuditEntry
from tests.support.stack import ApiStack

PATH = "/api/policies/disciplinary/versions"


def version_with(**changes: Any) -> dict[str, Any]:
    definition = shipped_policies()["disciplinary"].model_dump(mode="json")
    first = definition["stages"][0]
    for field, value in changes.items():
        first[field] = value
    return definition


async def test_a_case_moves_only_when_asked_and_only_where_its_stage_exists(
    api_stack: ApiStack,
) -> None:
    http = api_stack.http
    alice = await api_stack.token("alice")
    mark = await api_stack.token("mark")
    polly = await api_stack.token("polly")
    opened = await http.post(
        "/api/cases",
        json={"case_type": "disciplinary", "employee_id": "E1001", "summary": "Rota"},
        headers=alice,
    )
    case = opened.json()
    longer = await http.post(PATH, json=version_with(due={"working_days": 10}), headers=polly)
    assert longer.status_code == 201 and longer.json()["version"] == 2
    # Publishing changes nothing for a running case.
    unchanged = (await http.get(f"/api/cases/{case['id']}", headers=alice)).json()
    assert unchanged["policy"]["version"] == 1
    assert unchanged["stage"]["due_at"] == case["stage"]["due_at"]

    renamed = version_with(key="triage")
    renamed["stages"][0]["name"] = "Triage"
    assert (await http.post(PATH, json=renamed, headers=polly)).status_code == 201

    url = f"/api/cases/{case['id']}/policy"
    forbidden = await http.post(url, json={"version": 2}, headers=alice)
    assert forbidden.status_code == 403
    refused = await http.post(url, json={"version": 3}, headers=mark)
    assert refused.status_code == 409
    assert "stage 'assessment'" in refused.json()["detail"]
    missing = await http.post(url, json={"version": 9}, headers=mark)
    assert missing.status_code == 422 and "no version 9" in missing.json()["detail"]

    moved = await http.post(url, json={"version": 2}, headers=polly)
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"case_type": "disciplinary", "version": 2}  # no case content
    after = (await http.get(f"/api/cases/{case['id']}", headers=alice)).json()
    assert after["policy"]["version"] == 2
    assert after["stage"]["due_at"] > case["stage"]["due_at"]  # 10 working days, not 5
    change = [entry for entry in after["timeline"] if entry["kind"] == "policy_changed"]
    assert [(c["actor"], c["detail"]) for c in change] == [
        ("polly", {"from_version": 1, "to_version": 2})
    ]
    back = await http.post(url, json={"version": 1}, headers=mark)
    assert back.status_code == 409 and "already follows version 2" in back.json()["detail"]
    async with api_stack.database.sessions() as session:
        audited = list(
            await session.scalars(
                select(AuditEntry.username).where(AuditEntry.action == "case.policy_change")
            )
        )
    assert audited == ["polly"]
