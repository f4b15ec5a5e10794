"""The security headers every response carries, added as the response starts.

A plain ASGI middleware: Starlette's BaseHTTPMiddleware (`@app.middleware("http")`) would
cost every request a task and a memory stream for what is only a few headers.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts only from this site (htmx from /static), never inline; style attributes in a few
# templates (and htmx's indicator style) still need 'unsafe-inline' for styles alone.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Browsers keep to HTTPS for a year once they have seen this over HTTPS (over plain HTTP,
    # as in dev, they ignore it).
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
# Case data must not stay in a shared computer's browser cache or a proxy's: every answer but
# the static files (scripts, styles) is no-store.
NO_STORE = "no-store"
CACHEABLE_PREFIX = "/static/"
# The interactive API docs load Swagger UI's own inline script; every other page obeys a
# policy that allows no inline or foreign script at all.
WITHOUT_CONTENT_SECURITY_POLICY = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_policy = scope["path"] not in WITHOUT_CONTENT_SECURITY_POLICY
        cacheable = scope["path"].startswith(CACHEABLE_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if with_policy:
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                if not cacheable:
                    headers.setdefault("Cache-Control", NO_STORE)
            await send(message)

        await self.app(scope, receive, send_with_headers)
