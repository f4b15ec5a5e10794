"""/admin/users: an organisation's accounts for its admins — list with filters, add (the person
is mailed a set-password link), add a person of another organisation as a member
(/admin/members), edit roles and scope, deactivate and reactivate (for a member: end and
restore their membership), send a new link — and a person's open cases, reassigned to another
advisor in one action (admins and managers). The same services as /api/users; every form is
post/redirect/get."""

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from api.deps import case_context, get_database, get_settings
from api.web.errors import WebRoute, require
from api.web.render import render
from api.web.session import CheckedForm, WebUser
from records.people import ROLES
from services.access import Principal
from services.case_handover import HANDOVER_ROLES, CaseHandover
from services.errors import Conflict, Invalid, NotFound
from services.organisation_accounts import (
    ACCOUNT_ADMINS,
    AccountChanges,
    AccountFilter,
    NewMember,
    NewMembership,
    OrganisationAccounts,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# Refusals of what the form asked, shown on the page beside it; a 403 or 404 is the problem
# page (WebRoute), as for a GET.
FORM_ERRORS = (Conflict, Invalid)

# What the page says after a post redirects back to it (post/redirect/get).
NOTICES = {
    "added": "The account is added and a set-password link was mailed to its owner.",
    "added-unsent": "The account is added, but the set-password link could not be mailed: "
    "check the address, then send a new link.",
    "saved": "The changes are saved.",
    "deactivated": "The account is deactivated: every token, session and calendar feed of "
    "theirs is refused from now on.",
    "reactivated": "The account is active again.",
    "member-added": "They are now a member of your organisation with these roles; they choose "
    "it when they sign in, or in the page header.",
    "membership-ended": "Their membership of your organisation is ended: nothing of it is open "
    "to them from their next request. Their own account is untouched.",
    "membership-restored": "Their membership of your organisation is in force again.",
    "link-sent": "A new set-password link was mailed; earlier links no longer work.",
    "link-unsent": "The set-password link could not be mailed; try again later.",
}


def _accounts(request: Request, principal: Principal) -> OrganisationAccounts:
    address = request.client.host if request.client else None
    return OrganisationAccounts(get_database(request), get_settings(request), principal, address)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _roles(form: FormData) -> tuple[str, ...]:
    return tuple(value for value in form.getlist("roles") if isinstance(value, str))


def _divisions(form: FormData) -> tuple[str, ...]:
    """One division a line, or separated by commas."""
    raw = _text(form, "divisions").replace("\n", ",")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _person(username: str) -> str:
    return f"/admin/users/{quote(username, safe='')}"


def _done(username: str, notice: str, **extra: str) -> Response:
    query = urlencode({"done": notice, **extra})
    return RedirectResponse(f"{_person(username)}?{query}", status_code=303)


async def _list_page(
    request: Request,
    principal: Principal,
    *,
    error: str = "",
    entered: dict[str, Any] | None = None,
    member_entered: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    accounts = _accounts(request, principal)
    params = request.query_params
    active = {"yes": True, "no": False}.get(params.get("active", ""))
    wanted = AccountFilter(
        role=params.get("role") or None,
        team=params.get("team") or None,
        active=active,
        q=params.get("q") or None,
    )
    context = {
        "title": "Accounts",
        "accounts": await accounts.find(wanted),
        "teams": await accounts.teams(),
        "roles": ROLES,
        "filters": {key: params.get(key, "") for key in ("role", "team", "active", "q")},
        "error": error,
        "entered": entered or {"roles": []},
        "member_entered": member_entered or {"roles": []},
    }
    return render(request, "users_admin.html", context, status)


@router.get("/admin/users")
async def users_admin(request: Request, principal: WebUser) -> Response:
    return await _list_page(request, principal)


@router.post("/admin/users")
async def add_user(request: Request, principal: WebUser, form: CheckedForm) -> Response:
    member = NewMember(
        username=_text(form, "username"),
        full_name=_text(form, "full_name"),
        email=_text(form, "email"),
        roles=_roles(form),
        team=_text(form, "team") or None,
        divisions=_divisions(form),
        staff_employee_id=_text(form, "staff_employee_id") or None,
    )
    try:
        invited = await _accounts(request, principal).create(member)
    except FORM_ERRORS as error:
        entered = {**vars(member), "divisions": ", ".join(member.divisions)}
        return await _list_page(
            request, principal, error=error.detail, entered=entered, status=error.status
        )
    notice = "added" if invited.mail.delivered else "added-unsent"
    return _done(invited.account.username, notice)


@router.post("/admin/members")
async def add_member(request: Request, principal: WebUser, form: CheckedForm) -> Response:
    wanted = NewMembership(
        username=_text(form, "username"),
        email=_text(form, "email"),
        roles=_roles(form),
        team=_text(form, "team") or None,
        divisions=_divisions(form),
        staff_employee_id=_text(form, "staff_employee_id") or None,
    )
    try:
        added = await _accounts(request, principal).add_membership(wanted)
    except (*FORM_ERRORS, NotFound) as error:
        entered = {**vars(wanted), "divisions": ", ".join(wanted.divisions)}
        return await _list_page(
            request, principal, error=error.detail, member_entered=entered, status=error.status
        )
    return _done(added.username, "member-added")


async def _person_page(
    request: Request,
    principal: Principal,
    username: str,
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    require(principal.roles, ACCOUNT_ADMINS | HANDOVER_ROLES, "see other people's accounts")
    # A manager comes here for the person's open cases only: the account itself is for admins.
    is_admin = principal.has_any(ACCOUNT_ADMINS)
    account = await _accounts(request, principal).get(username) if is_admin else None
    handover = CaseHandover(case_context(request, principal))
    params = request.query_params
    notice = NOTICES.get(params.get("done", ""), "")
    if params.get("done") == "reassigned":
        count, to = params.get("count", "0"), params.get("to", "")
        notice = f"{count} open case{'' if count == '1' else 's'} reassigned to {to}."
    context = {
        "title": f"Account {username}",
        "username": username,
        "account": account,
        "roles": ROLES,
        "cases": await handover.open_cases(username),
        "advisors": await handover.advisors(username),
        "notice": notice,
        "error": error,
    }
    return render(request, "user_admin.html", context, status)


@router.get("/admin/users/{username}")
async def user_admin(request: Request, principal: WebUser, username: str) -> Response:
    return await _person_page(request, principal, username)


async def _change(
    request: Request, principal: Principal, username: str, changes: AccountChanges, notice: str
) -> Response:
    try:
        account = await _accounts(request, principal).update(username, changes)
    except FORM_ERRORS as error:
        return await _person_page(
            request, principal, username, error=error.detail, status=error.status
        )
    if not account.home:
        notice = {"deactivated": "membership-ended", "reactivated": "membership-restored"}.get(
            notice, notice
        )
    return _done(username, notice)


@router.post("/admin/users/{username}")
async def save_user(
    request: Request, principal: WebUser, username: str, form: CheckedForm
) -> Response:
    changes = AccountChanges(
        full_name=_text(form, "full_name"),
        email=_text(form, "email"),
        roles=_roles(form),
        team=_text(form, "team"),
        divisions=_divisions(form),
        staff_employee_id=_text(form, "staff_employee_id"),
    )
    return await _change(request, principal, username, changes, "saved")


@router.post("/admin/users/{username}/deactivate")
async def deactivate_user(
    request: Request, principal: WebUser, username: str, form: CheckedForm
) -> Response:
    del form  # checked for its CSRF token
    return await _change(request, principal, username, AccountChanges(active=False), "deactivated")


@router.post("/admin/users/{username}/reactivate")
async def reactivate_user(
    request: Request, principal: WebUser, username: str, form: CheckedForm
) -> Response:
    del form
    return await _change(request, principal, username, AccountChanges(active=True), "reactivated")


@router.post("/admin/users/{username}/set-password-link")
async def send_link(
    request: Request, principal: WebUser, username: str, form: CheckedForm
) -> Response:
    del form
    try:
        sent = await _accounts(request, principal).send_link(username)
    except FORM_ERRORS as error:
        return await _person_page(
            request, principal, username, error=error.detail, status=error.status
        )
    return _done(username, "link-sent" if sent.delivered else "link-unsent")


@router.post("/admin/users/{username}/reassign")
async def reassign(
    request: Request, principal: WebUser, username: str, form: CheckedForm
) -> Response:
    handover = CaseHandover(case_context(request, principal))
    try:
        handed = await handover.reassign_all(username, _text(form, "to"))
    except FORM_ERRORS as error:
        return await _person_page(
            request, principal, username, error=error.detail, status=error.status
        )
    return _done(username, "reassigned", count=str(len(handed.cases)), to=handed.to)
