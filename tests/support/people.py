"""The people every stack test starts from: two trusts, their users and some staff."""

from dataclasses import dataclass

from records.database import Database
from records.models import Membership, Organisation
from records.passwords import hash_password
from records.people import StaffEntry, create_user, get_or_create_organisation, upsert_staff

# Every test user's password is "demo"; hashed once, since argon2 is slow by design.
DEMO_HASH = hash_password("demo")


@dataclass
class People:
    organisation: Organisation
    other_organisation: Organisation


async def add_people(db: Database) -> People:
    """Two trusts; in the first an advisor, a manager, an HR director and some staff."""
    async with db.transaction() as session:
        org = await get_or_create_organisation(session, "RXA", "North Trust")
        other = await get_or_create_organisation(session, "RXB", "South Trust")
        # alice and bob are one team of advisors; mark manages both divisions of the staff.
        await create_user(
            session,
            org,
            "alice",
            DEMO_HASH,
            ["advisor"],
            "Alice Advisor",
            "alice@north.example",
            team="North ER",
        )
        await create_user(
            session,
            org,
            "bob",
            DEMO_HASH,
            ["advisor"],
            "Bob Advisor",
            "bob@north.example",
            team="North ER",
        )
        await create_user(
            session,
            org,
            "mark",
            DEMO_HASH,
            ["manager"],
            "Mark Manager",
            "mark@north.example",
            divisions=["Medicine", "Surgery"],
        )
        await create_user(
            session,
            org,
            "hannah",
            DEMO_HASH,
            ["hr_director"],
            "Hannah Director",
            "hannah@north.example",
        )
        await create_user(
            session, org, "polly", DEMO_HASH, ["policy_owner"], "Polly Owner", "polly@north.example"
        )
        await create_user(
            session,
            other,
            "oscar",
            DEMO_HASH,
            ["advisor", "manager"],
            "Oscar Other",
            "oscar@south.example",
            divisions=["Estates"],
        )
        await upsert_staff(
            session,
            org.id,
            [
                StaffEntry(
                    "E1001",
                    "Priya Patel",
                    "priya@north.example",
                    "Medicine",
                    "Cardiology",
                    "E2001",
                    "5",
                    "Asian or Asian British",
                    "No",
                ),
                StaffEntry(
                    "E2001",
                    "Lena Line",
                    "lena@north.example",
                    "Medicine",
                    "Cardiology",
                    None,
                    "8a",
                    "White",
                    "No",
                ),
                StaffEntry(
                    "E1002",
                    "Sam Jones",
                    "sam@north.example",
                    "Surgery",
                    "Theatres",
                    "E2001",
                    "3",
                    "White",
                    "Yes",
                ),
            ],
        )
        await upsert_staff(
            session, other.id, [StaffEntry("S9001", "Olive South", None, "Estates", "Portering")]
        )
    return People(org, other)


SHARED = "shona"


async def add_shared_person(db: Database, people: People) -> None:
    """shona, of a shared HR service: her own account is the second trust's, where she manages
    Estates; the first trust has added her as a member, an advisor in its North ER team."""
    async with db.transaction() as session:
        shona = await create_user(
            session,
            people.other_organisation,
            SHARED,
            DEMO_HASH,
            ["manager"],
            "Shona Shared",
            "shona@shared.example",
            divisions=["Estates"],
        )
        session.add(
            Membership(
                user_id=shona.id,
                organisation_id=people.organisation.id,
                roles=["advisor"],
                team="North ER",
                divisions=[],
            )
        )
