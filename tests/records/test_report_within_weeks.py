"""The KPI report's "within N weeks" (issue 19.3): what share of one case type's cases closed
in the window took no more than N weeks from opening to closing, by division.

Every figure is worked out by hand below from the rule: within N weeks means closed no more
than 7 times N calendar days after opening (the last day included: a case that took exactly six
weeks finished within six weeks), counted among the cases closed in the window whatever the
day they were opened; the rate is of all cases closed in the window. Runs on SQLite and
PostgreSQL.
"""

from datetime import date

import pytest

from records.database import Database
from services.errors import Invalid
from services.reports import ReportParameters
from tests.records.test_reports import case_row, d, run
from tests.support.people import add_people

YEAR_2026 = ReportParameters(start=date(2026, 1, 1), end=date(2027, 1, 1))


async def test_the_share_of_investigations_closed_within_six_weeks_by_division(
    database: Database,
) -> None:
    people = await add_people(database)
    north = people.organisation.id

    def investigation(case_id: str, **values: object) -> object:
        return case_row(case_id, north, case_type="investigation", **values)

    async with database.transaction() as session:
        session.add_all(
            [
                # Medicine:
                #   M1 5 Jan -> 16 Feb: 26 days left of January + 16 = 42 days, exactly 6 weeks:
                #      within.
                investigation("M1", opened_at=d(1, 5), closed_at=d(2, 16)),
                #   M2 2 Mar -> 14 Apr: 29 + 14 = 43 days: one day over.
                investigation("M2", opened_at=d(3, 2), closed_at=d(4, 14)),
                #   M3 1 May -> 20 May: 19 days: within.
                investigation("M3", opened_at=d(5, 1), closed_at=d(5, 20)),
                #   M4 opened 1 Dec 2025, closed 10 Jan 2026: 30 + 10 = 40 days: within, and
                #      counted (closed in the window, whenever opened).
                investigation("M4", opened_at=d(12, 1, 2025), closed_at=d(1, 10)),
                #   M5 still open: not closed in the window, never counted.
                investigation(
                    "M5", opened_at=d(2, 1), closed_at=None, status="open", stage_key="fact_finding"
                ),
                # Surgery:
                #   S1 1 Jun -> 1 Aug: 29 + 31 + 1 = 61 days: not within.
                investigation("S1", division="Surgery", opened_at=d(6, 1), closed_at=d(8, 1)),
                #   S2 1 Jul -> 29 Jul: 28 days: within.
                investigation("S2", division="Surgery", opened_at=d(7, 1), closed_at=d(7, 29)),
                #   S3 closed 10 Jan 2027: after the window, not counted.
                investigation(
                    "S3", division="Surgery", opened_at=d(12, 20), closed_at=d(1, 10, 2027)
                ),
                # A disciplinary in Medicine closed in 9 days: another case type, not counted.
                case_row("X1", north, opened_at=d(2, 1), closed_at=d(2, 10)),
            ]
        )
    parameters = ReportParameters(
        start=YEAR_2026.start,
        end=YEAR_2026.end,
        group_by="division",
        weeks=6,
        case_type="investigation",
    )
    found = await run(database, people, "kpis", parameters)
    by_division = {row["division"]: row for row in found.rows}
    assert set(by_division) == {"Medicine", "Surgery"}
    # Medicine: M1, M2, M3, M4 closed in 2026; M1, M3, M4 within 6 weeks: 3 of 4 = 0.75.
    medicine = by_division["Medicine"]
    assert (medicine["closed"], medicine["within_weeks"]) == (4, 3)
    assert medicine["within_weeks_rate"] == 0.75
    # Surgery: S1, S2 closed in 2026; S2 within: 1 of 2 = 0.5.
    surgery = by_division["Surgery"]
    assert (surgery["closed"], surgery["within_weeks"], surgery["within_weeks_rate"]) == (
        1 + 1,
        1,
        0.5,
    )
    assert any("within 6 weeks" in note.lower() for note in found.notes)

    # Four weeks (28 days): Medicine M3 (19 days) only, 1 of 4 = 0.25; Surgery S2 (28 days,
    # exactly four weeks) only, 1 of 2 = 0.5.
    four = await run(database, people, "kpis", ReportParameters(**{**vars(parameters), "weeks": 4}))
    assert [
        (row["division"], row["within_weeks"], row["within_weeks_rate"]) for row in four.rows
    ] == [
        ("Medicine", 1, 0.25),
        ("Surgery", 1, 0.5),
    ]

    # Without weeks, the report has no such columns.
    plain = await run(database, people, "kpis", YEAR_2026)
    assert "within_weeks" not in {column.name for column in plain.columns}


async def test_the_equality_standards_take_no_case_type(database: Database) -> None:
    people = await add_people(database)
    with pytest.raises(Invalid, match="takes no case_type"):
        await run(database, people, "wres", ReportParameters(case_type="grievance"))
