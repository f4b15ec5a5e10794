"""Inputs no route can store are refused with a sentence, the same on SQLite and PostgreSQL.

Two fuzzing finds (issue 22, point 13): an integer above what the database holds (versions,
diff parameters, document ids) reached the database and came back as a 500; and on PostgreSQL,
which cannot store U+0000 in text, a NUL byte in any text field was a 500 — sign-in included —
while SQLite stored it.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from api.schemas import DATABASE_INT_MAX
from records.database import Database
from tests.support.configuration import make_settings
from tests.support.smtp import SmtpServer
from tests.support.stack import ApiStack, api_stack_on

# PostgreSQL's `integer` is a signed 32-bit column: 2,147,483,647 is the largest it holds.
POSTGRES_INTEGER_MAX = 2_147_483_647
TOO_BIG = "9223372036854775808"  # 2**63, past even SQLite's 64-bit INTEGER


@pytest_asyncio.fixture
async def stack_on_both(
    dev_server_env: WorkflowEnvironment, database: Database, smtp_server: SmtpServer
) -> AsyncIterator[ApiStack]:
    async with api_stack_on(dev_server_env, database, smtp_server) as stack:
        yield stack


def _integers(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [schema, *schema.get("anyOf", [])]


def test_every_integer_the_api_takes_is_bounded_by_what_the_database_holds() -> None:
    assert DATABASE_INT_MAX == POSTGRES_INTEGER_MAX
    spec = create_app(make_settings("sqlite:///unused.db")).openapi()
    unbounded = [
        f"{method.upper()} {path} {parameter['name']}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        for schema in _integers(parameter["schema"])
        if schema.get("type") == "integer" and schema.get("maximum", 2**63) > POSTGRES_INTEGER_MAX
    ]
    unbounded += [
        f"{name}.{field}"
        for name, component in spec["components"]["schemas"].items()
        if name.endswith("In") or name.startswith("Body_")
        for field, property_schema in component.get("properties", {}).items()
        for schema in _integers(property_schema)
        if schema.get("type") == "integer" and schema.get("maximum", 2**63) > POSTGRES_INTEGER_MAX
    ]
    assert unbounded == []


async def test_too_large_integers_and_nul_bytes_are_refused_on_both_databases(
    stack_on_both: ApiStack,
) -> None:
    http = stack_on_both.http
    alice = await stack_on_both.token("alice")
    polly = await stack_on_both.token("polly")
    opened = await http.post(
        "/api/cases",
        json={"case_type": "disciplinary", "employee_id": "E1001", "summary": "Late"},
        headers=alice,
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]

    for url, headers in (
        (f"/api/policies/disciplinary?version={TOO_BIG}", polly),
        (f"/api/policies/disciplinary/diff?from=1&to={TOO_BIG}", polly),
        (f"/api/cases/{case_id}/documents/{TOO_BIG}", alice),
        (f"/api/cases/{case_id}/documents/{POSTGRES_INTEGER_MAX + 1}", alice),
    ):
        reply = await http.get(url, headers=headers)
        assert reply.status_code == 422, (url, reply.text)
        assert "less than or equal to 2147483647" in reply.json()["detail"]
    # The largest storable id is a plain "no such document".
    last = await http.get(f"/api/cases/{case_id}/documents/{POSTGRES_INTEGER_MAX}", headers=alice)
    assert last.status_code == 404

    nul_requests = [
        http.post("/api/auth/token", data={"username": "alice\x00", "password": "demo"}),
        http.post(f"/api/cases/{case_id}/notes", json={"text": "Called\x00 her"}, headers=alice),
        http.post(
            "/api/cases",
            json={"case_type": "disciplinary", "employee_id": "E1001", "summary": "a\u0000b"},
            headers=alice,
        ),
        http.get("/api/cases?q=Pri%00ya", headers=alice),
    ]
    for request in nul_requests:
        reply = await request
        assert reply.status_code == 422, reply.text
        assert "NUL character" in reply.json()["detail"]
    # Nothing was written: the case has no note, and there is still one case.
    notes = await http.get(f"/api/cases/{case_id}/notes", headers=alice)
    assert notes.json() == []
    listed = await http.get("/api/cases", headers=alice)
    assert [case["id"] for case in listed.json()["items"]] == [case_id]
    # A JSON string holding a backslash and "u0000" is text, not NUL, and is kept as typed.
    literal = await http.post(
        f"/api/cases/{case_id}/notes", json={"text": "see \\u0000 in the log"}, headers=alice
    )
    assert literal.status_code == 201, literal.text


async def test_a_web_form_with_a_nul_byte_gets_a_page_not_json(api_stack: ApiStack) -> None:
    reply = await api_stack.http.post(
        "/sign-in",
        data={"username": "alice\x00", "password": "demo"},
        headers={"Accept": "text/html"},
    )
    assert reply.status_code == 422
    assert reply.headers["content-type"].startswith("text/html")
    assert "NUL character" in reply.text
    assert reply.headers["X-Frame-Options"] == "DENY"
