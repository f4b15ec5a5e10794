"""Rendering pages: one Jinja2 environment, the layout's context, and filters for times."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.web.nav import nav_links
from policies.calendar import LONDON
from services.access import Principal

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates" / "web")


def when(moment: datetime | None) -> str:
    """A time as people in an English trust read it, in London time: 'Tue 5 May 2026, 17:00'."""
    if moment is None:
        return "—"
    local = moment.astimezone(LONDON)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def day(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(LONDON)
    return f"{local:%a} {local.day} {local:%b %Y}"


def span(delta: timedelta) -> str:
    """A duration in words, to the hour: '2 days 3 hours', '45 minutes'."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if not parts:
        minutes = rest // 60
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def humanise(key: str) -> str:
    """A policy key as a label: 'terms_of_reference' → 'Terms of reference'."""
    return key.replace("_", " ").capitalize()


templates.env.filters.update(when=when, day=day, span=span, humanise=humanise)


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A page in the layout: the signed-in person, their navigation, and the CSRF token."""
    principal: Principal | None = getattr(request.state, "principal", None)
    settings = request.app.state.settings
    layout = {
        "principal": principal,
        "nav": nav_links(principal, settings.dev) if principal else [],
        "csrf": getattr(request.state, "csrf", ""),
        "path": request.url.path,
        "workplaces": getattr(request.state, "workplaces", []),
    }
    return templates.TemplateResponse(
        request, template, {**layout, **context}, status_code=status_code
    )
