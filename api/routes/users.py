"""An organisation's accounts, for its admins: list, add (the person is mailed a set-password
link), add a person of another organisation as a member, read, change (roles, team, divisions,
the linked staff record, active), send a new link;
and, for admins and managers, a person's open cases and handing them all to another advisor."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from api.deps import CurrentUser, case_context, get_database, get_settings
from api.schemas_users import (
    InvitedOut,
    LinkMailOut,
    MembershipIn,
    OpenCasesOut,
    ReassignedOut,
    ReassignIn,
    UserIn,
    UserList,
    UserOut,
    UserPatch,
)
from services.case_handover import CaseHandover
from services.organisation_accounts import AccountFilter, OrganisationAccounts

router = APIRouter(prefix="/api/users", tags=["users"])


def get_accounts(request: Request, principal: CurrentUser) -> OrganisationAccounts:
    return OrganisationAccounts(
        get_database(request),
        get_settings(request),
        principal,
        request.client.host if request.client else None,
    )


def get_handover(request: Request, principal: CurrentUser) -> CaseHandover:
    return CaseHandover(case_context(request, principal))


Accounts = Annotated[OrganisationAccounts, Depends(get_accounts)]
Handover = Annotated[CaseHandover, Depends(get_handover)]


@router.get("")
async def list_users(
    accounts: Accounts,
    role: Annotated[str | None, Query(max_length=40)] = None,
    team: Annotated[str | None, Query(max_length=80)] = None,
    active: bool | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of a name or address.")
    ] = None,
) -> UserList:
    """Your organisation's accounts, by username; admins only."""
    found = await accounts.find(AccountFilter(role=role, team=team, active=active, q=q))
    return UserList(items=[UserOut.model_validate(account) for account in found])


@router.post("", status_code=status.HTTP_201_CREATED)
async def add_user(body: UserIn, accounts: Accounts) -> InvitedOut:
    """A new account with no password: its owner is mailed a single-use set-password link."""
    invited = await accounts.create(body.member())
    return InvitedOut(
        user=UserOut.model_validate(invited.account), set_password_mail=LinkMailOut.of(invited.mail)
    )


@router.get("/{username}")
async def get_user(username: str, accounts: Accounts) -> UserOut:
    return UserOut.model_validate(await accounts.get(username))


@router.patch("/{username}")
async def change_user(username: str, body: UserPatch, accounts: Accounts) -> UserOut:
    """Change what is sent, all of it or nothing; `active: false` deactivates the account (its
    tokens, sessions and calendar feed are refused from the next request), `true` reactivates."""
    return UserOut.model_validate(await accounts.update(username, body.changes()))


@router.post("/{username}/membership", status_code=status.HTTP_201_CREATED)
async def add_membership(username: str, body: MembershipIn, accounts: Accounts) -> UserOut:
    """Give a person of another organisation roles in yours (a shared service's advisor): their
    username and address must both match their account (404 otherwise, whichever is wrong).
    They then choose your organisation when they sign in; `PATCH` with `active: false` ends
    the membership (their own account is untouched)."""
    return UserOut.model_validate(await accounts.add_membership(body.membership(username)))


@router.post("/{username}/set-password-link")
async def send_set_password_link(username: str, accounts: Accounts) -> LinkMailOut:
    """Mail the person a new set-password link; the earlier ones stop working."""
    return LinkMailOut.of(await accounts.send_link(username))


@router.get("/{username}/cases")
async def open_cases(username: str, handover: Handover) -> OpenCasesOut:
    """Their open cases that you see; admins and managers."""
    return OpenCasesOut.of(await handover.open_cases(username))


@router.post("/{username}/reassign")
async def reassign_cases(username: str, body: ReassignIn, handover: Handover) -> ReassignedOut:
    """Every open case of theirs that you see, to another advisor: each an assignment step on
    the case, audited; reminders go to the new advisor from then on."""
    return ReassignedOut.of(await handover.reassign_all(username, body.to))
