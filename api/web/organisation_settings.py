"""/admin/settings: the organisation's own settings, through the same service (roles, checks,
audit) as /api/organisation/settings. Post, then redirect to the page; a refused change is
shown again with each problem beside its field and nothing saved."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from api.web.errors import WebRoute
from api.web.render import render
from api.web.session import CheckedForm, WebUser
from policies.calendar import REGIONS
from services.access import Principal
from services.errors import FieldsInvalid
from services.organisation_settings import (
    FIGURE_KEYS,
    SETTINGS_EDITORS,
    OrganisationSettingsService,
    SettingsView,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# Each map of figures on the page: its setting and the keys it has a box for.
FIGURES = {setting: keys for setting, (keys, _) in FIGURE_KEYS.items()}
REGION_NAMES = {
    "england-and-wales": "England and Wales",
    "scotland": "Scotland",
    "northern-ireland": "Northern Ireland",
}


def _service(request: Request, principal: Principal) -> OrganisationSettingsService:
    state = request.app.state
    return OrganisationSettingsService(state.database, state.settings, principal)


def _shown(view: SettingsView) -> dict[str, str]:
    """Each input's value as the page shows it: the settings as they apply now."""
    own = view.settings
    values = {"holiday_region": own.holiday_region, "foi_threshold": str(own.foi_threshold)}
    values["mail_sender_name"] = own.mail_sender_name or ""
    for setting, keys in FIGURES.items():
        figures: dict[str, float] = getattr(own, setting)
        for key in keys:
            values[f"{setting}.{key}"] = f"{figures[key]:g}" if key in figures else ""
    for setting in view.as_json()["defaults"]:
        values[f"default.{setting}"] = "yes"
    return values


def _number(text: str) -> object:
    """A figure typed in a box; what is not a number goes on as typed, for the service to
    refuse with its own sentence."""
    try:
        return float(text)
    except ValueError:
        return text


def _changes(form: FormData, view: SettingsView) -> dict[str, Any]:
    """What the form changes: only the settings whose value differs from the one in force,
    so saving a page left alone writes nothing (and leaves defaults as defaults)."""
    own, defaults = view.settings, view.as_json()["defaults"]

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def keep_default(setting: str) -> bool:
        return text(f"default.{setting}") == "yes"

    wanted: dict[str, Any] = {"holiday_region": text("holiday_region")}
    for setting, keys in FIGURES.items():
        if keep_default(setting):
            wanted[setting] = None
            continue
        wanted[setting] = {
            key: _number(text(f"{setting}.{key}")) for key in keys if text(f"{setting}.{key}")
        }
    threshold = text("foi_threshold")
    wanted["foi_threshold"] = (
        None
        if keep_default("foi_threshold")
        else int(threshold)
        if threshold.isdigit()
        else threshold
    )
    wanted["mail_sender_name"] = text("mail_sender_name") or None
    changes = {}
    for setting, value in wanted.items():
        if value is None:
            if setting in defaults:
                continue  # left at the environment's value
        elif value == getattr(own, setting):
            continue
        changes[setting] = value
    return changes


async def _page(
    request: Request,
    principal: Principal,
    view: SettingsView,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "title": "Organisation settings",
        "view": view,
        "values": values or _shown(view),
        "errors": errors or {},
        "figures": FIGURES,
        "regions": [(region, REGION_NAMES[region]) for region in REGIONS],
        "can_edit": principal.has_any(SETTINGS_EDITORS),
        "saved": request.query_params.get("saved") == "yes",
    }
    return render(request, "organisation_settings.html", context, status)


@router.get("/admin/settings")
async def settings_page(request: Request, principal: WebUser) -> Response:
    return await _page(request, principal, await _service(request, principal).read())


@router.post("/admin/settings")
async def save_settings(request: Request, principal: WebUser, form: CheckedForm) -> Response:
    service = _service(request, principal)
    view = await service.read()
    try:
        await service.change(_changes(form, view))
    except FieldsInvalid as invalid:
        errors = {error["field"]: error["message"] for error in invalid.errors}
        errors[""] = invalid.detail
        typed = {name: value for name, value in form.items() if isinstance(value, str)}
        return await _page(request, principal, view, values=typed, errors=errors, status=422)
    return RedirectResponse("/admin/settings?saved=yes", status_code=303)
