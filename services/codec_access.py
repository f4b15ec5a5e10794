"""Who may open which sealed payloads in the Temporal UI's codec: each call audited.

A case's payloads open only for people who may see the case (services/access.py): a codec
reader who is not named on a restricted case, or is a party to it, is answered as if it did not
exist, the same as for another organisation's case.
"""

from collections.abc import Sequence

from records.audit import append_audit
from records.database import Database
from records.models import Case
from services.access import Principal, visible_cases


async def decodable_cases(
    database: Database,
    principal: Principal,
    cases: Sequence[str],
    payload_count: int,
    client_address: str | None,
) -> set[str]:
    """Which of `cases` this person may see (the others answer 404); the call is audited
    whatever the answer."""
    async with database.transaction() as session:
        theirs = set(
            await session.scalars(
                visible_cases(principal).where(Case.id.in_(cases)).with_only_columns(Case.id)
            )
        )
        append_audit(
            session,
            organisation_id=principal.organisation_id,
            username=principal.username,
            action="codec.decode",
            case_id=cases[0] if len(cases) == 1 else None,
            client_address=client_address,
            detail={"payloads": payload_count, "cases": list(cases)},
        )
    return theirs
