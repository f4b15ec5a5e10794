"""Demo data for the embedded stack: one trust, the demo users, ~50 staff, cases in every state."""

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from itertools import cycle

from sqlalchemy import select
from temporalio.client import Client

from policies.calendar import LONDON, is_working_day
from records.database import Database
from records.models import Organisation
from records.passwords import hash_password
from records.people import StaffEntry, create_user, get_or_create_organisation, upsert_staff
from services.absences import AbsenceCommands, parse_json
from services.access import Principal
from services.case_context import CaseContext
from services.case_opening import CaseOpening, OpenCase
from services.case_steps import CaseSteps

# The demo users' published password; they exist only with ERCASE_DEV=true (bandit B105).
DEMO_PASSWORD = "demo"  # nosec B105
DEMO_ORGANISATION = ("RX1", "Demo NHS Foundation Trust")
DEMO_USERS = [
    ("alice", "Alice Adeyemi", ["advisor"]),
    ("bob", "Bob Bennett", ["advisor"]),
    ("mark", "Mark Mensah", ["manager"]),
    ("polly", "Polly Price", ["policy_owner"]),
    ("hannah", "Hannah Hughes", ["hr_director"]),
    ("audrey", "Audrey Ali", ["auditor"]),
    ("admin", "Ada Admin", ["admin"]),
]
DIVISIONS = {
    "Medicine": ["Cardiology", "Respiratory", "Acute Medicine"],
    "Surgery": ["Theatres", "Orthopaedics", "General Surgery"],
    "Women and Children": ["Maternity", "Paediatrics"],
    "Estates and Facilities": ["Portering", "Catering"],
}
FIRST_NAMES = ["Amara", "Ben", "Chloe", "Dev", "Ella", "Farid", "Grace", "Hugo", "Isla", "Jun"]
LAST_NAMES = ["Okafor", "Smith", "Patel", "Nowak", "Evans"]
ETHNIC_GROUPS = ["White", "Asian or Asian British", "Black or Black British", "Mixed", None]
DISABILITY = ["No", "No", "Yes", "No", None]
BANDS = ["2", "3", "4", "5", "6", "7", "8a"]


def _working_day_on_or_before(day: date) -> date:
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def demo_absences(today: date) -> list[dict[str, str | None]]:
    """Absence as an e-roster would report it, relative to the day of seeding.

    E10012: four one-day spells in the year, the fourth last week: the episodes trigger opens
    an informal review. E10027: off for five weeks and still off: long-term sickness and the
    working days lost fire together, and the case opens on the long-term path (the later
    stage). E10038: two short spells, under every threshold: figures, no case.
    """
    rows: list[dict[str, str | None]] = []
    for weeks_ago in (40, 26, 12, 1):
        day = _working_day_on_or_before(today - timedelta(weeks=weeks_ago)).isoformat()
        rows.append({"employee_id": "E10012", "first_day": day, "last_day": day})
    rows[-1]["reason"] = "Gastroenteritis"
    rows.append(
        {
            "employee_id": "E10027",
            "first_day": (today - timedelta(days=34)).isoformat(),
            "last_day": None,
            "reason": "Back injury (fit note)",
        }
    )
    for weeks_ago, days in ((20, 2), (6, 1)):
        first = _working_day_on_or_before(today - timedelta(weeks=weeks_ago))
        last = first + timedelta(days=days - 1)
        rows.append(
            {"employee_id": "E10038", "first_day": first.isoformat(), "last_day": last.isoformat()}
        )
    for row in rows:
        row.setdefault("reason", "Migraine")
    return rows


def demo_staff() -> list[StaffEntry]:
    """50 staff: each department's first member line-manages the rest of it."""
    departments = [(division, dept) for division, depts in DIVISIONS.items() for dept in depts]
    names = [(first, last) for last in LAST_NAMES for first in FIRST_NAMES]
    managers: dict[str, str] = {}
    staff = []
    for number, ((first, last), (division, department), ethnic, disabled, band) in enumerate(
        zip(
            names,
            cycle(departments),
            cycle(ETHNIC_GROUPS),
            cycle(DISABILITY),
            cycle(BANDS),
            strict=False,
        ),
        start=1,
    ):
        employee_id = f"E{10000 + number}"
        manager = managers.setdefault(department, employee_id)
        staff.append(
            StaffEntry(
                employee_id=employee_id,
                name=f"{first} {last}",
                email=f"{first}.{last}@demo-trust.example".lower(),
                division=division,
                department=department,
                line_manager_id=None if manager == employee_id else manager,
                band=band,
                ethnic_group=ethnic,
                disability=disabled,
            )
        )
    return staff


async def seed_demo(
    database: Database, client: Callable[[], Awaitable[Client]], task_queue: str
) -> bool:
    """Seed once: False if the demo trust already exists (a second start keeps everything)."""
    async with database.transaction() as session:
        code, name = DEMO_ORGANISATION
        if await session.scalar(select(Organisation).where(Organisation.code == code)):
            return False
        organisation = await get_or_create_organisation(session, code, name)
        demo_hash = hash_password(DEMO_PASSWORD)  # once: argon2 is slow by design
        for username, full_name, roles in DEMO_USERS:
            email = f"{username}@demo-trust.example"
            # One ER team of advisors; the manager manages every division of the demo trust.
            await create_user(
                session,
                organisation,
                username,
                demo_hash,
                roles,
                full_name,
                email,
                team="ER advisory" if "advisor" in roles else None,
                divisions=DIVISIONS if "manager" in roles else (),
            )
        await upsert_staff(session, organisation.id, demo_staff())
        organisation_id = organisation.id

    def as_user(username: str) -> CaseContext:
        roles = next(roles for name, _, roles in DEMO_USERS if name == username)
        principal = Principal(
            username,
            organisation_id,
            frozenset(roles),
            team="ER advisory" if "advisor" in roles else None,
            divisions=frozenset(DIVISIONS) if "manager" in roles else frozenset(),
        )
        return CaseContext(database, client, task_queue, principal)

    alice, bob = as_user("alice"), as_user("bob")
    await CaseOpening(alice).open(
        OpenCase("disciplinary", "E10002", "Repeated lateness for night shifts")
    )

    investigation = await CaseOpening(alice).open(
        OpenCase("disciplinary", "E10015", "Alleged falsification of timesheets", "urgent")
    )
    terms = {
        "terms_of_reference": "Timesheets, January to March",
        "investigating_officer": "Dr R. Khan",
        # The Just Culture questions, answered before this formal route.
        "jc_deliberate_harm": "No",
        "jc_health": "No",
        "jc_foresight": "Yes",
        "jc_substitution": "No",
        "jc_mitigation": "New rota system introduced that month",
    }
    await CaseSteps(alice).act(investigation.id, "refer_to_investigation", terms, None)

    hearing = await CaseOpening(bob).open(
        OpenCase("disciplinary", "E10023", "Inappropriate conduct on ward")
    )
    await CaseSteps(bob).act(hearing.id, "refer_to_investigation", terms, None)
    report = {"report_summary": "Case to answer", "recommendation": "Formal hearing"}
    await CaseSteps(bob).act(hearing.id, "submit_report", report, None)

    # Brought in from a spreadsheet: its real dates put the investigation well past due.
    now = datetime.now(UTC)
    await CaseOpening(bob).open(
        OpenCase(
            "disciplinary",
            "E10031",
            "Breach of confidentiality (imported)",
            advisor="bob",
            opened_at=now - timedelta(days=40),
            stage="investigation",
            stage_started_at=now - timedelta(days=30),
        )
    )

    paused = await CaseOpening(alice).open(
        OpenCase("disciplinary", "E10044", "Unauthorised absence")
    )
    await CaseSteps(alice).pause(
        paused.id, "Employee signed off sick; hearing cannot proceed", None
    )

    closed = await CaseOpening(alice).open(OpenCase("disciplinary", "E10007", "Uniform policy"))
    await CaseSteps(alice).act(
        closed.id, "informal_resolution", {"outcome": "Informal advice given"}, None
    )

    # The absence feed: attendance monitoring opens the sickness cases these reach.
    feed = AbsenceCommands(database, client, task_queue, alice.principal)
    await feed.record(parse_json(demo_absences(datetime.now(LONDON).date())), "import")
    return True
