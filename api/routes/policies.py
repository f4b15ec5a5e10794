"""Policies: read the case-type definitions; policy owners publish new versions."""

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel

from api.deps import CurrentUser, get_database, get_settings, require_role
from api.schemas import DATABASE_INT_MAX
from policies.diff import describe_changes
from policies.loader import parse_policy_text, shipped_policies
from policies.schema import PolicyDefinition, PolicyInvalid, validate_policy
from policies.target_fit import target_warnings
from records.database import Database
from records.models import PolicyVersion
from services.access import POLICY_PUBLISHERS
from services.errors import Invalid, NotFound
from services.policies import current_policies, publish_policy, stored_version, stored_versions

router = APIRouter(prefix="/api/policies", tags=["policies"])
Db = Annotated[Database, Depends(get_database)]


class PolicySummary(BaseModel):
    case_type: str
    name: str
    version: int


class PolicyOut(BaseModel):
    case_type: str
    version: int
    author: str
    change_note: str
    created_at: datetime
    definition: dict[str, Any]

    @classmethod
    def of(cls, row: PolicyVersion) -> "PolicyOut":
        return cls(
            case_type=row.case_type,
            version=row.version,
            author=row.author,
            change_note=row.change_note,
            created_at=row.created_at,
            definition=row.definition,
        )


class PolicyWarning(BaseModel):
    path: str
    message: str


class Published(BaseModel):
    case_type: str
    version: int
    # Published all the same, e.g. a target the stages cannot meet (policies/target_fit.py).
    warnings: list[PolicyWarning] = []


@router.get("")
async def list_policies(principal: CurrentUser, database: Db) -> list[PolicySummary]:
    found = await current_policies(database, principal.organisation_id, shipped_policies())
    return [
        PolicySummary(case_type=case_type, name=policy.name, version=version)
        for case_type, policy, version in found
    ]


@router.get("/{case_type}")
async def get_policy(
    case_type: str,
    principal: CurrentUser,
    database: Db,
    version: Annotated[int | None, Query(ge=1, le=DATABASE_INT_MAX)] = None,
) -> PolicyOut:
    row = await stored_version(database, principal.organisation_id, case_type, version)
    if row is None:
        raise NotFound(
            f"There is no policy '{case_type}'" + (f" version {version}." if version else ".")
        )
    return PolicyOut.of(row)


@router.get("/{case_type}/versions")
async def list_versions(case_type: str, principal: CurrentUser, database: Db) -> list[PolicyOut]:
    rows = await stored_versions(database, principal.organisation_id, case_type)
    if not rows:
        raise NotFound(f"There is no policy '{case_type}'.")
    return [PolicyOut.of(row) for row in rows]


class PolicyDiff(BaseModel):
    case_type: str
    from_version: int
    to_version: int
    changes: list[str]


@router.get("/{case_type}/diff")
async def diff_versions(
    case_type: str,
    principal: CurrentUser,
    database: Db,
    from_version: Annotated[int, Query(alias="from", ge=1, le=DATABASE_INT_MAX)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=DATABASE_INT_MAX)],
) -> PolicyDiff:
    old = await stored_version(database, principal.organisation_id, case_type, from_version)
    new = await stored_version(database, principal.organisation_id, case_type, to_version)
    for wanted, row in ((from_version, old), (to_version, new)):
        if row is None:
            raise NotFound(f"There is no policy '{case_type}' version {wanted}.")
    assert old is not None and new is not None
    return PolicyDiff(
        case_type=case_type,
        from_version=from_version,
        to_version=to_version,
        changes=describe_changes(
            PolicyDefinition.model_validate(old.definition),
            PolicyDefinition.model_validate(new.definition),
        ),
    )


@router.post("/{case_type}/versions", status_code=status.HTTP_201_CREATED)
async def publish_version(
    case_type: str,
    request: Request,
    principal: CurrentUser,
    database: Db,
    change_note: Annotated[str, Query(max_length=2000)] = "",
) -> Published:
    require_role(principal, POLICY_PUBLISHERS, "publish policies")
    body = (await request.body()).decode("utf-8", errors="replace")
    content_type = request.headers.get("content-type", "")
    try:
        if "yaml" in content_type:
            policy = parse_policy_text(body)
        else:
            try:
                data = json.loads(body)
            except json.JSONDecodeError as error:
                raise Invalid(
                    f"The body is not valid JSON: {error.msg} at line {error.lineno}."
                ) from None
            policy = validate_policy(data)
    except PolicyInvalid as invalid:
        raise PolicyRejected(invalid) from None
    except RecursionError:
        raise Invalid("The definition cannot be read: it is nested too deeply.") from None
    except ValueError as error:
        # A value the parser cannot build, e.g. the date 2026-13-45 or a 5000-digit number.
        raise Invalid(f"The definition cannot be read: {str(error).split(';')[0]}.") from None
    if policy.case_type != case_type:
        raise Invalid(f"The definition is for '{policy.case_type}', not '{case_type}'.")
    if case_type not in shipped_policies():
        raise NotFound(f"There is no case type '{case_type}'.")
    templates = get_settings(request).letter_templates_dir
    version = await publish_policy(database, principal, policy, change_note, templates)
    warnings = [
        PolicyWarning(path=warning.path, message=warning.message)
        for warning in target_warnings(policy)
    ]
    return Published(case_type=case_type, version=version, warnings=warnings)


class PolicyRejected(Invalid):
    """Every problem in `errors`; the detail names the first, so one line already helps."""

    def __init__(self, invalid: PolicyInvalid):
        first = invalid.errors[0]
        count = len(invalid.errors)
        more = f" ({count - 1} more in errors)" if count > 1 else ""
        super().__init__(f"The definition is not valid: {first.path}: {first.message}{more}.")
        self.errors = [{"path": error.path, "message": error.message} for error in invalid.errors]
