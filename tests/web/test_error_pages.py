"""Errors a browser can reach are pages in the site's layout, never JSON; the API's stay JSON
(issue 19, defect 5). In-process, without a stack: routing errors and an unexpected failure."""

import httpx
from fastapi import FastAPI

from api.main import create_app
from tests.support.configuration import make_settings


def app_with_a_fault() -> FastAPI:
    settings = make_settings("sqlite:///unused.db", dev=True)
    app = create_app(settings)
    app.state.settings = settings  # the lifespan is not run: no database is needed here

    async def fault() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/fault", fault)
    app.add_api_route("/api/fault", fault)
    return app


async def test_errors_are_pages_for_people_and_json_for_programs() -> None:
    transport = httpx.ASGITransport(app=app_with_a_fault(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ercase.test") as http:
        for method, path, status, words in (
            ("GET", "/fault", 500, "Something went wrong"),
            ("GET", "/no-such-page", 404, "There is no page at this address"),
            ("POST", "/cases", 405, "only takes a form"),
            ("DELETE", "/team", 405, "only takes a form"),
        ):
            reply = await http.request(method, path, headers={"referer": "http://ercase.test/x"})
            assert reply.status_code == status, (path, reply.text)
            assert reply.headers["content-type"].startswith("text/html"), path
            assert words in reply.text
            assert 'href="/x"' in reply.text  # the way back to the page it came from
            assert 'href="/"' in reply.text
        for path, status in (("/api/fault", 500), ("/api/no-such-thing", 404)):
            reply = await http.get(path)
            assert reply.status_code == status
            assert reply.headers["content-type"] == "application/json"
            assert "detail" in reply.json()
        # A way back only ever leads within this site.
        reply = await http.get("/no-such-page", headers={"referer": "https://elsewhere.example/"})
        assert "elsewhere" not in reply.text
