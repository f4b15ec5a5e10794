"""Dates that cannot be (issue 19, defect 7): a date that records something done is not after
London's today, one that plans something not before it, as the policy's `when` says; the API
answers 422 with the sentence and the case does not move."""

from datetime import UTC, datetime, timedelta

from policies.calendar import LONDON
from tests.support.stack import ApiStack


async def test_a_done_date_ahead_and_a_planned_date_behind_are_refused(
    api_stack: ApiStack,
) -> None:
    http = api_stack.http
    alice = await api_stack.token("alice")
    today = datetime.now(UTC).astimezone(LONDON).date()
    tomorrow, yesterday = today + timedelta(days=1), today - timedelta(days=1)

    async def opened(case_type: str) -> str:
        reply = await http.post(
            "/api/cases",
            json={"case_type": case_type, "employee_id": "E1001", "summary": "Dates"},
            headers=alice,
        )
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    async def step(case_id: str, action: str, data: dict[str, str]) -> tuple[int, str]:
        reply = await http.post(
            f"/api/cases/{case_id}/actions/{action}", json={"data": data}, headers=alice
        )
        return reply.status_code, reply.json().get("detail", "")

    # Freedom to Speak Up: acknowledged_on records something done.
    concern = await opened("freedom_to_speak_up")
    acknowledged = {"confidentiality": "Openly"}
    status, detail = await step(
        concern, "acknowledge", {**acknowledged, "acknowledged_on": tomorrow.isoformat()}
    )
    assert status == 422
    assert detail == (
        "Date the concern was acknowledged records something already done, so it cannot be in "
        f"the future: give today ({today.isoformat()}) or an earlier day."
    )
    # Grievance: meeting_date plans something.
    grievance = await opened("grievance")
    status, detail = await step(
        grievance, "arrange_meeting", {"meeting_date": yesterday.isoformat(), "chair": "Ms Obi"}
    )
    assert status == 422
    assert "cannot be in the past" in detail
    for case_id in (concern, grievance):
        case = (await http.get(f"/api/cases/{case_id}", headers=alice)).json()
        assert case["stage"]["key"] == "received"

    assert await step(concern, "acknowledge", {**acknowledged, "acknowledged_on": str(today)}) == (
        200,
        "",
    )
    status, _ = await step(
        grievance, "arrange_meeting", {"meeting_date": today.isoformat(), "chair": "Ms Obi"}
    )
    assert status == 200
