"""Development-only pages: the mail the local SMTP sink caught. Mounted only with ERCASE_DEV."""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from mail_sink import DEFAULT_MAIL_FOLDER, list_sink_messages

router = APIRouter(tags=["dev"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


@router.get("/dev/outbox", response_class=HTMLResponse)
async def outbox(request: Request) -> HTMLResponse:
    messages = list_sink_messages(DEFAULT_MAIL_FOLDER, limit=200)
    return templates.TemplateResponse(
        request, "outbox.html", {"messages": messages, "folder": DEFAULT_MAIL_FOLDER}
    )
