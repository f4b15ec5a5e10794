"""Nothing of one organisation is visible from another, on every route that reads (issue 17.3).

The North Trust has a case about Priya with a note, a document and time; the South Trust's
admin — who is also its HR director, auditor and manager, so every role's reach is tried — asks
every GET route of the API (read from the OpenAPI document, so a new route is covered the day
it is added) and every page, filled in with the North Trust's case, document, employee and
user. Each answers a refusal or the South Trust's own data: no answer carries anything that
identifies the North Trust's case or people.

National report figures (`?national=true`) are the second test's: aggregates only, and only as
the suppressed FOI export.
"""

import re
from datetime import date

from api.main import create_app
from records.people import create_user
from services.reports import REPORTS
from tests.support.people import DEMO_HASH
from tests.support.stack import ApiStack
from tests.web.test_web_security import Browser

SECRET = "Zanzibar"  # in the case's summary, its note, its document's name and its time
PAGES = (
    "/cases",
    "/cases/{case_id}",
    "/team",
    "/overview",
    "/reports",
    "/staff/{employee_id}/attendance",
    "/admin/users",
    "/admin/users/{username}",
    "/admin/staff",
    "/admin/settings",
    "/admin/case-import",
)


async def north_case(stack: ApiStack) -> dict[str, str]:
    alice = await stack.token("alice")
    opened = await stack.http.post(
        "/api/cases",
        json={"case_type": "disciplinary", "employee_id": "E1001", "summary": f"{SECRET} rota"},
        headers=alice,
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    for url, kwargs in (
        (f"/api/cases/{case_id}/notes", {"json": {"text": f"{SECRET} note"}}),
        (
            f"/api/cases/{case_id}/documents",
            {"files": {"file": (f"{SECRET}.txt", b"statement text")}},
        ),
        (
            f"/api/cases/{case_id}/time",
            {"json": {"worked_on": date.today().isoformat(), "minutes": 30,
                      "activity_code": "investigation", "note": f"{SECRET} time"}},
        ),
    ):  # fmt: skip
        reply = await stack.http.post(url, headers=alice, **kwargs)
        assert reply.status_code == 201, (url, reply.text)
    documents = await stack.http.get(f"/api/cases/{case_id}/documents", headers=alice)
    return {
        "case_id": case_id,
        "document_id": str(documents.json()[0]["id"]),
        "employee_id": "E1001",
        "username": "alice",
        "case_type": "disciplinary",
    }


def north_markers(ids: dict[str, str]) -> list[str]:
    """What would identify the North Trust's case or people in an answer."""
    return [ids["case_id"], SECRET, "Priya Patel", "alice@north.example", "North Trust"]


def shown(body: str, url: str, markers: list[str]) -> list[str]:
    """The markers in an answer, leaving out what the caller sent (a refusal that names the
    case id asked for, "There is no case DIS-2026-0001 that you can see", reveals nothing)."""
    return [marker for marker in markers if marker in body and marker not in url]


def get_routes(stack: ApiStack) -> list[str]:
    spec = create_app(stack.settings).openapi()
    return sorted(path for path, operations in spec["paths"].items() if "get" in operations)


def filled(path: str, ids: dict[str, str]) -> list[str]:
    if "{name}" in path:
        return [path.replace("{name}", name) for name in REPORTS]
    url = re.sub(r"\{(\w+)\}", lambda match: ids[match.group(1)], path)
    if url.endswith("/diff"):
        url += "?from=1&to=1"
    return [url]


async def test_another_organisations_admin_reads_nothing_of_this_one(api_stack: ApiStack) -> None:
    ids = await north_case(api_stack)
    async with api_stack.database.transaction() as session:
        await create_user(
            session,
            api_stack.people.other_organisation,
            "olga",
            DEMO_HASH,
            ["admin", "hr_director", "auditor", "manager"],
            "Olga South",
            "olga@south.example",
            divisions=["Medicine", "Surgery", "Estates"],
        )
    olga = await api_stack.token("olga")
    markers = north_markers(ids)
    leaks: list[str] = []
    routes = get_routes(api_stack)
    assert "/api/cases/{case_id}" in routes and "/api/reports/{name}" in routes  # read them
    urls = [url for path in routes for url in filled(path, ids)]
    for url in urls:
        reply = await api_stack.http.get(url, headers=olga)
        assert reply.status_code < 500, (url, reply.text)
        body = reply.content.decode("utf-8", "replace")
        found = shown(body, url, markers)
        leaks += [f"GET {url} ({reply.status_code}) shows {m!r}" for m in found]
    browser = Browser(api_stack.http)
    await browser.sign_in("olga")
    for page in PAGES:
        url = re.sub(r"\{(\w+)\}", lambda match: ids[match.group(1)], page)
        reply = await browser.request("GET", url)
        assert reply.status_code < 500, (url, reply.text)
        found = shown(reply.text, url, markers)
        leaks += [f"page {url} ({reply.status_code}) shows {m!r}" for m in found]
    assert leaks == []
    # The North Trust's own people do see it: the markers are real, the check is not vacuous.
    alice = await api_stack.token("alice")
    own = await api_stack.http.get(f"/api/cases/{ids['case_id']}", headers=alice)
    assert SECRET in own.text and ids["case_id"] in own.text


async def test_a_national_view_is_aggregates_only_and_suppressed(api_stack: ApiStack) -> None:
    # Issue 22.3: ?national=true listed another organisation's cases, employees and advisors
    # to any admin. A national view now has no row-level reports and is published only as the
    # suppressed FOI export.
    ids = await north_case(api_stack)
    async with api_stack.database.transaction() as session:
        await create_user(
            session, api_stack.people.other_organisation, "olga", DEMO_HASH, ["admin"],
            "Olga South", "olga@south.example",
        )  # fmt: skip
    olga = await api_stack.token("olga")
    http = api_stack.http
    for name in ("benchmark", "cost", "repeats", "workload"):
        for foi in ("false", "true"):
            reply = await http.get(f"/api/reports/{name}?national=true&foi={foi}", headers=olga)
            assert reply.status_code == 403 and "no national view" in reply.text, (name, foi)
    plain = await http.get("/api/reports/kpis?national=true", headers=olga)
    assert plain.status_code == 422 and "foi=true" in plain.json()["detail"]
    published = await http.get(
        "/api/reports/kpis?national=true&foi=true&group_by=case_type", headers=olga
    )
    assert published.status_code == 200, published.text
    assert "Small-number suppression" in published.text
    # One disciplinary opened nationally: a count under 5, so shown as "*".
    [row] = [line for line in published.text.splitlines() if line.startswith("disciplinary,")]
    assert row.split(",")[1] == "*"
    assert all(marker not in published.text for marker in north_markers(ids))
