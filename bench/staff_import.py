"""Time importing a 50,000-row ESR staff-in-post extract on PostgreSQL (target: under a minute).

A private database is created on the server (dropped afterwards), migrated, and given one
organisation. Then, through the same service as POST /api/staff/import (parsing, mapping,
diff, bulk writes, audit), each of these is timed:

1. a dry run of the first extract (50,000 to add);
2. the first import (50,000 added);
3. a full re-import a month later: 5,000 changed (a new position), 1,000 with a leaving
   date, 1,000 new starters, 1,000 absent (marked as left), the rest unchanged.

    .venv/bin/python bench/staff_import.py [--rows 50000] [--server host=127.0.0.1 ...]

The last figures are in docs/staff-import.md.
"""

import argparse
import asyncio
import csv
import io
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import psycopg

from records.database import Database
from records.esr import ETHNIC_CATEGORIES, default_mapping
from records.migrate import upgrade
from records.people import get_or_create_organisation
from services.access import Principal
from services.staff_import import ImportOutcome, StaffImport

DIVISIONS = ("Medicine", "Surgery", "Women and Children", "Estates", "Corporate")
CODES = sorted(ETHNIC_CATEGORIES)
DISABILITY = ("Y Yes", "N No", "N No", "N No", "Z Not Stated")


def row(number: int, position: str = "Staff Nurse", leaving: str = "") -> list[str]:
    division = DIVISIONS[number % len(DIVISIONS)]
    code = CODES[number % len(CODES)]
    started = date(2005, 1, 1) + timedelta(days=number % 7000)
    return [
        f"E{number:07d}",
        f"{number:07d}-1",
        f"Person {number}",
        f"person.{number}@trust.example",
        division,
        f"{division} {number % 40}",
        f"CC{number % 400:04d}",
        position,
        f"E{number // 10:07d}" if number >= 10 else "",
        f"{code} {ETHNIC_CATEGORIES[code]}",
        DISABILITY[number % len(DISABILITY)],
        started.strftime("%d/%m/%Y"),
        leaving,
    ]


def extract(numbers: range, change: Callable[[int], list[str]] = row) -> str:
    columns = default_mapping()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            columns[name]
            for name in (
                "employee_id",
                "assignment_number",
                "name",
                "email",
                "division",
                "department",
                "cost_centre",
                "position",
                "line_manager_id",
                "ethnic_group",
                "disability",
                "start_date",
                "left_on",
            )
        ]
    )
    writer.writerows(change(number) for number in numbers)
    return out.getvalue()


def month_later() -> Callable[[int], list[str]]:
    def change(number: int) -> list[str]:
        if number % 10 == 0:  # 1 in 10: a new position
            return row(number, position="Senior Staff Nurse")
        if number % 50 == 1:  # 1 in 50: leaving
            return row(number, leaving="31-JAN-2027")
        return row(number)

    return change


def said(outcome: ImportOutcome) -> str:
    return (
        f"added {outcome.added}, changed {outcome.changed}, left {outcome.left}, "
        f"unchanged {outcome.unchanged}"
    )


async def timed(label: str, importer: StaffImport, text: str, **flags: bool) -> float:
    started = time.perf_counter()
    outcome = await importer.run(text, **flags)
    seconds = time.perf_counter() - started
    print(f"{label:<52} {seconds:6.1f} s   ({said(outcome)})")
    return seconds


async def bench(url: str, rows: int) -> None:
    upgrade(url)
    database = Database(url)
    try:
        async with database.transaction() as session:
            organisation = await get_or_create_organisation(session, "RBN", "Bench Trust")
        importer = StaffImport(database, Principal("bench", organisation.id, frozenset({"admin"})))
        first = extract(range(rows))
        print(f"extract: {rows} rows, {len(first) / 1e6:.1f} MB")
        await timed("dry run of the first extract", importer, first, dry_run=True, full=False)
        await timed("first import", importer, first, dry_run=False, full=False)
        # A month later: 1,000 gone from the extract, 1,000 new starters, the rest as above.
        later = extract(range(rows // 50, rows + rows // 50), month_later())
        await timed(
            "a month later, full extract, dry run", importer, later, dry_run=True, full=True
        )
        await timed("a month later, full extract", importer, later, dry_run=False, full=True)
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--server", default="host=127.0.0.1 port=5432 user=postgres dbname=test")
    args = parser.parse_args()
    name = f"ercase_bench_staff_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    host = psycopg.conninfo.conninfo_to_dict(args.server)
    url = (
        f"postgresql+psycopg://{host.get('user', 'postgres')}@{host.get('host', '127.0.0.1')}:"
        f"{host.get('port', 5432)}/{name}"
    )
    try:
        asyncio.run(bench(url, args.rows))
    finally:
        with psycopg.connect(args.server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
