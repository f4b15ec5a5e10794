"""Bringing in cases already under way: real dates drive the clocks; a bad row stops the file."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from records.models import Case
from tests.support.stack import ApiStack
from tests.support.waiting import eventually

HEADER = "case_type,employee_id,summary,risk,advisor,opened_at,stage,stage_started_at\n"


def days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")


async def case_count(api_stack: ApiStack) -> int:
    async with api_stack.database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Case)) or 0


async def test_a_spreadsheet_of_cases_under_way_starts_their_clocks_from_real_dates(
    api_stack: ApiStack,
) -> None:
    alice = await api_stack.token("alice")
    csv = (
        HEADER
        + f"disciplinary,E1001,Lateness,routine,alice,{days_ago(40)},investigation,{days_ago(30)}\n"
        + f"disciplinary,E1002,Conduct,urgent,bob,{days_ago(2)},,\n"
    )
    reply = await api_stack.http.post(
        "/api/cases/import", content=csv, headers={**alice, "content-type": "text/csv"}
    )
    assert reply.status_code == 201, reply.text
    overdue, fresh = reply.json()["cases"]
    assert reply.json()["imported"] == 2
    assert overdue["stage"]["key"] == "investigation" and overdue["advisor"] == "alice"
    assert fresh["stage"]["key"] == "assessment" and fresh["advisor"] == "bob"

    async def overdue_is_breached() -> bool:
        case = await api_stack.http.get(f"/api/cases/{overdue['id']}", headers=alice)
        return bool(case.json()["breached"])

    # Its investigation fell due 9 days ago (P21D from 30 days ago): breached at once.
    await eventually(overdue_is_breached, 10)
    fresh_now = (await api_stack.http.get(f"/api/cases/{fresh['id']}", headers=alice)).json()
    assert fresh_now["breached"] is False


async def test_bad_rows_are_reported_by_line_and_nothing_is_imported(api_stack: ApiStack) -> None:
    alice = await api_stack.token("alice")
    csv = (
        HEADER
        + f"disciplinary,E1001,Fine row,routine,alice,{days_ago(5)},,\n"
        + f"disciplinary,E9999,Unknown person,routine,alice,{days_ago(5)},,\n"
        + "disciplinary,E1001,Bad date,routine,alice,yesterday,,\n"
        + f"disciplinary,E1001,Bad stage,routine,alice,{days_ago(5)},tea_break,\n"
        + f"disciplinary,E1001,Stage before opening,routine,alice,{days_ago(5)},hearing,"
        + f"{days_ago(9)}\n"
    )
    reply = await api_stack.http.post(
        "/api/cases/import", content=csv, headers={**alice, "content-type": "text/csv"}
    )
    assert reply.status_code == 422, reply.text
    problems = {error["row"]: error["message"] for error in reply.json()["errors"]}
    assert set(problems) == {"line 3", "line 4", "line 5", "line 6"}
    assert "E9999" in problems["line 3"]
    assert "opened_at 'yesterday'" in problems["line 4"]
    assert "tea_break" in problems["line 5"]
    assert "stage_started_at" in problems["line 6"]
    assert reply.json()["detail"].startswith("Nothing was imported: line 3:")
    assert await case_count(api_stack) == 0

    for body, content_type, words in [
        ("[]", "application/json", "no cases"),
        ('{"case_type": "disciplinary"}', "application/json", "JSON list"),
        ("not,a,header\n1,2,3\n", "text/csv", "first line must name the columns"),
        ("whatever", "text/plain", "text/csv or application/json"),
    ]:
        refused = await api_stack.http.post(
            "/api/cases/import", content=body, headers={**alice, "content-type": content_type}
        )
        assert refused.status_code == 422 and words in refused.json()["detail"], refused.text
    as_json = await api_stack.http.post(
        "/api/cases/import",
        json=[{"case_type": "disciplinary", "employee_id": "E1001", "summary": "x"}, "junk"],
        headers=alice,
    )
    assert as_json.status_code == 422
    assert {error["row"] for error in as_json.json()["errors"]} == {"item 1", "item 2"}
    polly = await api_stack.token("polly")
    forbidden = await api_stack.http.post(
        "/api/cases/import", content=csv, headers={**polly, "content-type": "text/csv"}
    )
    assert forbidden.status_code == 403
    assert await case_count(api_stack) == 0


async def test_a_third_flexible_working_request_in_a_year_is_refused_with_a_reason(
    api_stack: ApiStack,
) -> None:
    alice = await api_stack.token("alice")
    csv = (
        HEADER
        + f"flexible_working,E1001,Compressed hours,routine,alice,{days_ago(300)},,\n"
        + f"flexible_working,E1001,Term-time working,routine,alice,{days_ago(100)},,\n"
    )
    imported = await api_stack.http.post(
        "/api/cases/import", content=csv, headers={**alice, "content-type": "text/csv"}
    )
    assert imported.status_code == 201, imported.text
    earlier = [case["id"] for case in imported.json()["cases"]]
    third = await api_stack.http.post(
        "/api/cases",
        json={"case_type": "flexible_working", "employee_id": "E1001", "summary": "Remote"},
        headers=alice,
    )
    assert third.status_code == 422
    assert all(reference in third.json()["detail"] for reference in earlier)
    assert "at most 2" in third.json()["detail"]
    someone_else = await api_stack.http.post(
        "/api/cases",
        json={"case_type": "flexible_working", "employee_id": "E1002", "summary": "Remote"},
        headers=alice,
    )
    assert someone_else.status_code == 201
