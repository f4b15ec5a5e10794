"""Publishing a new version of a case-type definition: one rule for the API and the web pages."""

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from policies.schema import PolicyDefinition
from records.cases import current_policy
from records.database import Database
from records.models import AuditEntry, PolicyVersion
from services.access import POLICY_PUBLISHERS, Principal
from services.errors import Conflict, Forbidden

# Two owners publishing at once both compute the same next number; the loser tries again.
ATTEMPTS = 3


async def publish_policy(
    database: Database, principal: Principal, policy: PolicyDefinition, change_note: str
) -> int:
    """Store the definition as the next version, with author, note and an audit row.

    New cases use it from now on; running cases keep the version they started with.
    """
    if not principal.has_any(POLICY_PUBLISHERS):
        raise Forbidden("Your role does not allow you to publish policies.")
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
        session.add(
            AuditEntry(
                organisation_id=principal.organisation_id,
                username=principal.username,
                action="policy.publish",
                detail={"case_type": policy.case_type, "version": version},
            )
        )
    return version
