"""Time generating one letter (goal: under 3 s), through the service POST /api/cases/{id}/letters
calls: read the case, fill the template, make the PDF, store it as a case document, audit.

A private SQLite database (in a temporary folder) holds one trust, its advisor, the employee
and a disciplinary case at its outcome letter with the steps before it recorded — written as
the recording activity writes them, since a letter reads only the database. The first letter
includes loading WeasyPrint's fonts once per process; the rest are what an advisor waits for
after that.

    .venv/bin/python bench/letters.py [--letters 10]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from records.database import Database
from records.migrate import upgrade
from records.models import Case, CaseEvent
from records.passwords import hash_password
from records.people import StaffEntry, create_user, get_or_create_organisation, upsert_staff
from services.access import Principal
from services.case_context import CaseContext
from services.documents import CaseDocuments
from services.letters import CaseLetters

CASE = "DIS-2026-0001"
STEPS = [
    ("refer_to_investigation", {"terms_of_reference": "Missed handovers on ward 4 in May."}),
    ("submit_report", {"report_summary": "Three handovers missed.", "recommendation": "Formal"}),
    ("schedule_hearing", {"hearing_date": "2026-06-01", "panel_chair": "Dr Ode"}),
    (
        "record_decision",
        {
            "outcome": "The allegation is upheld.\nThe panel took your apology into account.",
            "sanction": "First written warning",
            "accompanied": "Accompanied by a colleague",
        },
    ),
]


async def no_temporal() -> NoReturn:
    raise RuntimeError("a letter never reaches the case's workflow")


async def setup(database: Database) -> Principal:
    async with database.transaction() as session:
        trust = await get_or_create_organisation(session, "RBN", "Bench Trust")
        await create_user(
            session, trust, "alice", hash_password("bench"), ["advisor"], "Alice Advisor",
            "alice@bench.example",
        )  # fmt: skip
        await upsert_staff(
            session,
            trust.id,
            [StaffEntry("E1", "Priya Patel", "priya@bench.example", "Medicine", "Cardiology")],
        )
        opened = datetime.now(UTC) - timedelta(days=20)
        session.add(
            Case(
                id=CASE,
                organisation_id=trust.id,
                case_type="disciplinary",
                policy_version=1,
                employee_id="E1",
                summary="Missed handovers",
                risk="routine",
                advisor="alice",
                opened_by="alice",
                stage_key="outcome_letter",
                stage_name="Outcome letter",
                stage_started_at=opened + timedelta(days=19),
                opened_at=opened,
            )
        )
        await session.flush()
        for seq, (action, data) in enumerate(STEPS, start=2):
            session.add(
                CaseEvent(
                    case_id=CASE,
                    seq=seq,
                    kind="advanced",
                    at=opened + timedelta(days=seq),
                    actor="alice",
                    detail={"action": action, "data": data},
                )
            )
        return Principal("alice", trust.id, frozenset({"advisor"}))


async def bench(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        database = Database(url)
        try:
            principal = await setup(database)
            context = CaseContext(database, no_temporal, "bench", principal)
            documents = CaseDocuments(database, principal, Path(folder) / "documents")
            letters = CaseLetters(context, documents)
            times = []
            for _ in range(count):
                started = time.perf_counter()
                await letters.generate(CASE, "outcome", "pdf")
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            await letters.generate(CASE, "outcome", "docx")
            as_docx = time.perf_counter() - started
        finally:
            await database.dispose()
    warm = times[1:] or times
    print(f"first PDF letter (fonts loaded once per process) {times[0]:6.2f} s")
    print(
        f"PDF letter, median of {len(warm):<3}                    {statistics.median(warm):6.2f} s"
    )
    print(f"PDF letter, slowest                             {max(times):6.2f} s")
    print(f"DOCX letter                                     {as_docx:6.2f} s")
    print("goal: under 3 s each:", "met" if max([*times, as_docx]) < 3 else "NOT MET")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=10)
    asyncio.run(bench(parser.parse_args().letters))


if __name__ == "__main__":
    main()
