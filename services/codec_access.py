"""Who may open which sealed payloads in the Temporal UI's codec: each call audited."""

from collections.abc import Sequence

from sqlalchemy import select

from records.audit import append_audit
from records.database import Database
from records.models import Case
from services.access import Principal


async def decodable_cases(
    database: Database,
    principal: Principal,
    cases: Sequence[str],
    payload_count: int,
    client_address: str | None,
) -> set[str]:
    """Which of `cases` are of this person's organisation (the others answer 404); the call
    is audited whatever the answer."""
    async with database.transaction() as session:
        theirs = set(
            await session.scalars(
                select(Case.id).where(
                    Case.id.in_(cases), Case.organisation_id == principal.organisation_id
                )
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
