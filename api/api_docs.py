"""The interactive API docs (Swagger UI at /docs), for development only and served from here.

In production the docs pages are off (the OpenAPI document at /openapi.json stays, for client
generators): they help nobody using the service and widen what a stranger can probe. In dev
mode Swagger UI's script and style come from api/static/swagger-ui (vendored from npm's
swagger-ui-dist), never from a CDN, which this machine cannot reach and a trust's network
should not be asked to trust.
"""

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"


def install_api_docs(app: FastAPI) -> None:
    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="data:,",  # no icon fetched from anywhere
        )

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
