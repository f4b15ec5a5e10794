"""Case-type definitions: reading the stored versions, and publishing a new one: one rule for
the API and the web pages."""

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from policies.schema import PolicyDefinition
from records.audit import append_audit
from records.cases import current_policy, policy_history, policy_version
from records.database import Database
from records.models import PolicyVersion
from services.access import POLICY_PUBLISHERS, Principal
from services.errors import Conflict, Forbidden, Invalid
from services.letters import template_problems


async def current_policies(
    database: Database, organisation_id: int, case_types: Iterable[str]
) -> list[tuple[str, PolicyDefinition, int]]:
    """Each case type with its newest policy and version (the shipped one is stored as 1)."""
    found = []
    async with database.transaction() as session:
        for case_type in case_types:
            current = await current_policy(session, organisation_id, case_type)
            if current is not None:
                found.append((case_type, *current))
    return found


async def stored_version(
    database: Database, organisation_id: int, case_type: str, version: int | None = None
) -> PolicyVersion | None:
    """One stored version, or the newest when `version` is None."""
    async with database.transaction() as session:
        return await policy_version(session, organisation_id, case_type, version)


async def stored_versions(
    database: Database, organisation_id: int, case_type: str
) -> list[PolicyVersion]:
    """Every stored version, oldest first."""
    async with database.transaction() as session:
        return await policy_history(session, organisation_id, case_type)


# Two owners publishing at once both compute the same next number; the loser tries again.
ATTEMPTS = 3


async def publish_policy(
    database: Database,
    principal: Principal,
    policy: PolicyDefinition,
    change_note: str,
    letter_templates: Path,
) -> int:
    """Store the definition as the next version, with author, note and an audit row.

    New cases use it from now on; running cases keep the version they started with. Every
    letter template it names must be in `letter_templates` and readable.
    """
    if not principal.has_any(POLICY_PUBLISHERS):
        raise Forbidden("Your role does not allow you to publish policies.")
    problems = template_problems(policy, letter_templates)
    if problems:
        raise Invalid(f"The definition cannot be published: {'; '.join(problems)}.")
    for _ in range(ATTEMPTS):
        try:
            return await _store_next_version(database, principal, policy, change_note)
        except IntegrityError:
            continue
    raise Conflict("Others are publishing this policy at the same moment; try again.")


async def _store_next_version(
    database: Database, principal: Principal, policy: PolicyDefinition, change_note: str
) -> int:
    async with database.transaction() as session:
        await current_policy(session, principal.organisation_id, policy.case_type)
        latest = await session.scalar(
            select(func.max(PolicyVersion.version)).where(
                PolicyVersion.organisation_id == principal.organisation_id,
                PolicyVersion.case_type == policy.case_type,
            )
        )
        version = (latest or 0) + 1
        session.add(
            PolicyVersion(
                organisation_id=principal.organisation_id,
                case_type=policy.case_type,
                version=version,
                definition=policy.model_dump(mode="json"),
                author=principal.username,
                change_note=change_note,
            )
        )
        append_audit(
            session,
            organisation_id=principal.organisation_id,
            username=principal.username,
            action="policy.publish",
            detail={"case_type": policy.case_type, "version": version},
        )
    return version
