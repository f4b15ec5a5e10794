"""Which pages each role works in. Data stays scoped by services.access; this only shapes menus."""

from dataclasses import dataclass

from services.access import (
    CASE_READERS,
    CASE_WORKERS,
    DIRECTORY_EDITORS,
    POLICY_PUBLISHERS,
    REPORT_VIEWERS,
    Principal,
)
from services.organisation_accounts import ACCOUNT_ADMINS
from services.organisation_settings import SETTINGS_EDITORS

TEAM_VIEWERS = frozenset({"manager", "hr_director", "admin"})
OVERVIEW_VIEWERS = frozenset({"hr_director", "admin", "auditor"})
POLICY_EDITORS = POLICY_PUBLISHERS


@dataclass(frozen=True)
class NavLink:
    href: str
    label: str


def home_for(principal: Principal) -> str:
    """Where someone lands after signing in: the page their role starts the day on."""
    if principal.has_any(frozenset({"advisor"})):
        return "/cases"
    if principal.has_any(frozenset({"manager"})):
        return "/team"
    if principal.has_any(frozenset({"hr_director"})):
        return "/overview"
    if principal.has_any(CASE_READERS):
        return "/cases"
    return "/policies"


def nav_links(principal: Principal, dev: bool) -> list[NavLink]:
    links = []
    if principal.has_any(CASE_READERS):
        mine = "advisor" in principal.roles
        links.append(NavLink("/cases", "My cases" if mine else "Cases"))
    if principal.has_any(CASE_WORKERS):
        links += [NavLink("/cases/new", "New case"), NavLink("/enquiries/new", "Log enquiry")]
    if principal.has_any(TEAM_VIEWERS):
        links.append(NavLink("/team", "Team"))
    if principal.has_any(OVERVIEW_VIEWERS):
        links.append(NavLink("/overview", "Overview"))
    if principal.has_any(REPORT_VIEWERS):
        links.append(NavLink("/reports", "Reports"))
    links.append(NavLink("/policies", "Policies"))
    if principal.has_any(DIRECTORY_EDITORS):
        links.append(NavLink("/admin/staff", "Staff directory"))
    if principal.has_any(CASE_WORKERS):
        links.append(NavLink("/admin/case-import", "Import cases"))
    if principal.has_any(ACCOUNT_ADMINS):
        links.append(NavLink("/admin/users", "Accounts"))
    if principal.has_any(SETTINGS_EDITORS):
        links.append(NavLink("/admin/settings", "Settings"))
    if dev:
        links.append(NavLink("/dev/outbox", "Dev outbox"))
    return links
