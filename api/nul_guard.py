"""Requests carrying the NUL character (U+0000) are refused before any route sees them.

PostgreSQL cannot store U+0000 in text (the driver raised, which was a 500, on sign-in too)
while SQLite stores it, so one request was answered differently on the two databases. No field
ercase takes has a use for it, so the path, the query string and JSON and form bodies are
checked here and refused with one sentence (422), the same on both. Uploads (multipart) are
binary by nature and pass through: their files are checked by what reads them.

A plain ASGI middleware, like security_headers: the body is read once, checked, and handed on
to the route unchanged.
"""

import json
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.web.errors import problem_page

REFUSAL = "The request contains the NUL character (U+0000), which no field of ercase accepts."
CHECKED_BODIES = frozenset({"application/json", "application/x-www-form-urlencoded"})


def _has_nul(value: Any) -> bool:
    """Whether a parsed JSON value holds U+0000 in any string, key or value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _body_has_nul(content_type: str, body: bytes) -> bool:
    if b"\x00" in body:
        return True
    if content_type == "application/x-www-form-urlencoded":
        return b"%00" in body
    # JSON writes U+0000 as \u0000; confirm by parsing, so a string that merely contains the
    # six characters (an escaped backslash before them) is not refused.
    if b"\\u0000" not in body:
        return False
    try:
        return _has_nul(json.loads(body))
    except ValueError:
        return False  # not JSON at all: the route's own validation answers it


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"\x00" in query or b"%00" in query:
            await self._refuse(scope, receive, send)
            return
        content_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip().lower()
        if content_type not in CHECKED_BODIES:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if _body_has_nul(content_type, body):
            await self._refuse(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response: Response
        if scope["path"].startswith("/api/") or "text/html" not in request.headers.get(
            "accept", ""
        ):
            response = JSONResponse({"detail": REFUSAL}, status_code=422)
        else:
            response = problem_page(request, 422, "Check the form", REFUSAL)
        await response(scope, receive, send)
