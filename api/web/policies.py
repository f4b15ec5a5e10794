"""Policy pages: list, read a version, edit as YAML with problems at their lines, diff, publish."""

from dataclasses import dataclass
from itertools import pairwise

import yaml
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api.deps import get_database, get_settings
from api.web.cases import step_data
from api.web.errors import WebRoute, require
from api.web.nav import POLICY_EDITORS
from api.web.render import render
from api.web.session import CheckedForm, WebUser
from api.web.yaml_lines import line_of
from policies.diff import describe_changes
from policies.loader import parse_policy_text, shipped_policies
from policies.schema import PolicyDefinition, PolicyError, PolicyInvalid
from services.access import Principal
from services.errors import NotFound
from services.policies import publish_policy, stored_version, stored_versions

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MAX_YAML_CHARS = 200_000


def as_yaml(definition: dict[str, object]) -> str:
    """A stored definition as YAML to edit: schema order, defaults left out, short lists inline."""
    policy = PolicyDefinition.model_validate(definition)
    lean = policy.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(
        lean, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )


def known_case_type(case_type: str) -> None:
    if case_type not in shipped_policies():
        raise NotFound(f"There is no case type '{case_type}'.")


@router.get("/policies")
async def policy_list(request: Request, principal: WebUser) -> Response:
    rows = []
    for case_type in shipped_policies():
        row = await stored_version(get_database(request), principal.organisation_id, case_type)
        if row is not None:
            rows.append(row)
    context = {
        "title": "Policies",
        "rows": rows,
        "names": {
            row.case_type: PolicyDefinition.model_validate(row.definition).name for row in rows
        },
        "can_edit": principal.has_any(POLICY_EDITORS),
    }
    return render(request, "policies.html", context)


@router.get("/policies/{case_type}")
async def policy_view(
    request: Request, case_type: str, principal: WebUser, version: int | None = None
) -> Response:
    known_case_type(case_type)
    history = await stored_versions(get_database(request), principal.organisation_id, case_type)
    wanted = version or (history[-1].version if history else 0)
    shown = next((row for row in history if row.version == wanted), None)
    if shown is None:
        raise NotFound(f"There is no policy '{case_type}' version {version}.")
    changes = {}
    for older, newer in pairwise(history):
        changes[newer.version] = describe_changes(
            PolicyDefinition.model_validate(older.definition),
            PolicyDefinition.model_validate(newer.definition),
        )
    context = {
        "title": f"Policy: {case_type}",
        "case_type": case_type,
        "policy": PolicyDefinition.model_validate(shown.definition),
        "row": shown,
        "current": history[-1].version,
        "history": list(reversed(history)),
        "changes": changes,
        "yaml": as_yaml(shown.definition),
        "can_edit": principal.has_any(POLICY_EDITORS),
        "published": request.query_params.get("published", ""),
    }
    return render(request, "policy.html", context)


@dataclass
class Checked:
    """A policy owner's edit, checked: the definition if valid, else its problems by line."""

    policy: PolicyDefinition | None
    problems: dict[int, list[PolicyError]]


def check(text: str) -> Checked:
    if len(text) > MAX_YAML_CHARS:
        return Checked(None, {1: [PolicyError("(top)", "the definition is too long")]})
    try:
        return Checked(parse_policy_text(text), {})
    except PolicyInvalid as invalid:
        problems: dict[int, list[PolicyError]] = {}
        for error in invalid.errors:
            problems.setdefault(line_of(text, error.path), []).append(error)
        return Checked(None, problems)


async def editor(
    request: Request,
    principal: Principal,
    case_type: str,
    text: str,
    change_note: str = "",
    status: int = 200,
    checked: Checked | None = None,
) -> Response:
    """The editor; with `checked`, also the problems at their lines, or the changes it makes."""
    current = await stored_version(get_database(request), principal.organisation_id, case_type)
    assert current is not None
    changes: list[str] | None = None
    wrong_type = False
    if checked and checked.policy:
        wrong_type = checked.policy.case_type != case_type
        old = PolicyDefinition.model_validate(current.definition)
        changes = describe_changes(old, checked.policy)
    context = {
        "title": f"Edit policy: {case_type}",
        "case_type": case_type,
        "current": current,
        "text": text,
        "lines": text.splitlines() or [""],
        "checked": checked,
        "problem_count": sum(len(p) for p in checked.problems.values()) if checked else 0,
        "changes": changes,
        "wrong_type": wrong_type,
        "change_note": change_note,
    }
    return render(request, "policy_edit.html", context, status)


@router.get("/policies/{case_type}/edit")
async def edit_form(request: Request, case_type: str, principal: WebUser) -> Response:
    require(principal.roles, POLICY_EDITORS, "edit policies")
    known_case_type(case_type)
    current = await stored_version(get_database(request), principal.organisation_id, case_type)
    assert current is not None
    return await editor(request, principal, case_type, as_yaml(current.definition))


@router.post("/policies/{case_type}/edit")
async def check_or_publish(
    request: Request, case_type: str, principal: WebUser, form: CheckedForm
) -> Response:
    """'Check' shows the problems or the changes; 'Publish' stores a valid, changed version."""
    require(principal.roles, POLICY_EDITORS, "edit policies")
    known_case_type(case_type)
    data = step_data(form)
    text = str(form.get("definition", ""))  # kept as typed: line numbers must not move
    note = data.get("change_note", "")[:2000]
    checked = check(text)
    publishing = data.get("intent") == "publish"
    if checked.policy is None:
        return await editor(request, principal, case_type, text, note, 422, checked)
    if not publishing or checked.policy.case_type != case_type or not note:
        status = 200 if not publishing else 422
        return await editor(request, principal, case_type, text, note, status, checked)
    templates = get_settings(request).letter_templates_dir
    version = await publish_policy(
        get_database(request), principal, checked.policy, note, templates
    )
    return RedirectResponse(f"/policies/{case_type}?published={version}", status_code=303)
