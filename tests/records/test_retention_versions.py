"""Which retention the purge applies when the policy's retention changed between versions.

A case keeps the period of the policy version it ran under; a newer version may lengthen it
for cases already held, never shorten it (services/retention.py, _retention_for).
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from policies.loader import shipped_policies
from records.database import Database
from records.models import Case, PolicyVersion
from services.retention import due_for_purge
from tests.support.database import insert_case_row
from tests.support.people import add_people

NOW = datetime.now(UTC)


def years_ago(years: int) -> datetime:
    return NOW - timedelta(days=365 * years + 2)


async def publish(db: Database, organisation_id: int, case_type: str, retention: str) -> int:
    """A new version of the shipped policy that differs only in its retention."""
    definition = shipped_policies()[case_type].model_copy(update={"retention": retention})
    async with db.transaction() as session:
        newest = await session.scalar(
            select(PolicyVersion.version)
            .where(
                PolicyVersion.organisation_id == organisation_id,
                PolicyVersion.case_type == case_type,
            )
            .order_by(PolicyVersion.version.desc())
            .limit(1)
        )
        version = (newest or 1) + 1
        session.add(
            PolicyVersion(
                organisation_id=organisation_id,
                case_type=case_type,
                version=version,
                definition=definition.model_dump(mode="json"),
                author="polly",
                change_note=f"Retention now {retention}",
            )
        )
    return version


async def closed_case(
    db: Database, organisation_id: int, case_id: str, case_type: str, version: int, closed: datetime
) -> None:
    await insert_case_row(db, case_id, organisation_id, closed, shipped_policies()[case_type])
    async with db.transaction() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        case.policy_version, case.status, case.closed_at = version, "closed", closed


async def test_a_case_keeps_its_versions_retention_unless_a_newer_version_is_longer(
    database: Database,
) -> None:
    org = (await add_people(database)).organisation.id
    # Disciplinary: version 1 (shipped) keeps six years; version 2 shortens that to two.
    # Enquiry: version 1 (shipped) keeps two years; version 2 lengthens that to six.
    async with database.transaction() as session:
        for case_type in ("disciplinary", "enquiry"):
            session.add(
                PolicyVersion(
                    organisation_id=org,
                    case_type=case_type,
                    version=1,
                    definition=shipped_policies()[case_type].model_dump(mode="json"),
                    author="ercase",
                    change_note="Shipped definition",
                )
            )
    assert shipped_policies()["disciplinary"].retention == "P6Y"
    assert shipped_policies()["enquiry"].retention == "P2Y"
    assert await publish(database, org, "disciplinary", "P2Y") == 2
    assert await publish(database, org, "enquiry", "P6Y") == 2

    await closed_case(database, org, "DIS-2022-0001", "disciplinary", 1, years_ago(3))
    await closed_case(database, org, "DIS-2018-0002", "disciplinary", 1, years_ago(7))
    await closed_case(database, org, "DIS-2022-0003", "disciplinary", 2, years_ago(3))
    await closed_case(database, org, "ENQ-2022-0001", "enquiry", 1, years_ago(3))
    await closed_case(database, org, "ENQ-2018-0002", "enquiry", 1, years_ago(7))

    async with database.sessions() as session:
        due = {case.id: retention for case, retention in await due_for_purge(session, NOW)}
    assert due == {
        # Run under six years: the later two-year schedule does not shorten it.
        "DIS-2018-0002": "P6Y",
        # Run under the two-year version itself: two years.
        "DIS-2022-0003": "P2Y",
        # Run under two years, lengthened to six by the later schedule: only the older one.
        "ENQ-2018-0002": "P6Y",
    }
