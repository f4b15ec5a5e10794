"""Reports on small data sets whose every figure is worked out by hand in the comments.

Each runs on SQLite and PostgreSQL (the `database` fixture). Rows are written directly (the
recording activity's part is tested in test_report_intervals.py), so the figures depend on
nothing but the rows below.
"""

from datetime import UTC, date, datetime

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.main import create_app
from records.database import Database
from records.models import Case, CaseClosure, RootCauseCode, Staff, StageInterval, TimeEntry
from records.reporting.table import CrossTab, Report
from services.access import Principal
from services.reports import ReportParameters, Reports
from tests.support.configuration import make_settings
from tests.support.people import People, add_people

NOW = datetime(2026, 11, 23, tzinfo=UTC)
YEAR_2026 = ReportParameters(start=date(2026, 1, 1), end=date(2027, 1, 1))
HANNAH = "hannah"


def d(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def case_row(case_id: str, organisation_id: int, **values: object) -> Case:
    defaults: dict[str, object] = {
        "case_type": "disciplinary",
        "policy_version": 1,
        "employee_id": "E1001",
        "summary": "-",
        "risk": "routine",
        "advisor": "alice",
        "division": "Medicine",
        "department": "Cardiology",
        "opened_by": "alice",
        "status": "closed",
        "stage_key": "closed",
        "stage_name": "Closed",
        "actions": [],
    }
    defaults.update(values)
    defaults.setdefault("stage_started_at", defaults["opened_at"])
    return Case(id=case_id, organisation_id=organisation_id, **defaults)


def stay(
    case_id: str,
    key: str,
    started: datetime,
    ended: datetime | None,
    due: datetime | None,
    kind: str = "stage",
) -> StageInterval:
    return StageInterval(
        case_id=case_id, kind=kind, key=key, started_at=started, ended_at=ended, due_at=due
    )


async def run(
    database: Database,
    people: People,
    name: str,
    parameters: ReportParameters,
    roles: frozenset[str] = frozenset({"hr_director"}),
) -> Report:
    principal = Principal(HANNAH, people.organisation.id, roles)
    found = await Reports(database, make_settings("sqlite://"), principal).run(
        name, parameters, NOW
    )
    assert isinstance(found, Report)
    return found


# ---- data set 1: cases, stages, suspensions, time ---------------------------------------
#
# North Trust, 2026 (window [2026-01-01, 2027-01-01)):
#   A disciplinary Medicine alice  opened 01-01 closed 01-11 (10 days) target 01-15: on time
#   B disciplinary Medicine alice  opened 02-01 closed 02-21 (20 days) target 02-16: 5 days late
#   C grievance    Surgery  bob    opened 03-01 closed 03-31 (30 days) target 04-05: on time
#   D grievance    Surgery  bob    opened 04-01 closed 05-11 (40 days) target 05-01: 10 days late
#   E disciplinary Medicine alice  opened 06-01 closed 06-05 (4 days)  no target
#   F disciplinary Surgery  alice  opened 10-01 OPEN, breached, urgent
#   G capability   Medicine bob    opened 11-01 OPEN, routine
#   I disciplinary Medicine alice  opened 2025-12-22 closed 01-21 (30 days) target 01-23: on time
# South Trust: H disciplinary, closed in 2026: never in North's figures.


async def data_set_1(database: Database) -> People:
    people = await add_people(database)
    north, south = people.organisation.id, people.other_organisation.id
    async with database.transaction() as session:
        session.add_all(
            [
                case_row("A", north, opened_at=d(1, 1), closed_at=d(1, 11), due_at=d(1, 15)),
                case_row("B", north, opened_at=d(2, 1), closed_at=d(2, 21), due_at=d(2, 16)),
                case_row(
                    "C",
                    north,
                    case_type="grievance",
                    division="Surgery",
                    advisor="bob",
                    opened_at=d(3, 1),
                    closed_at=d(3, 31),
                    due_at=d(4, 5),
                ),
                case_row(
                    "D",
                    north,
                    case_type="grievance",
                    division="Surgery",
                    advisor="bob",
                    opened_at=d(4, 1),
                    closed_at=d(5, 11),
                    due_at=d(5, 1),
                ),
                case_row("E", north, opened_at=d(6, 1), closed_at=d(6, 5), due_at=None),
                case_row(
                    "F",
                    north,
                    division="Surgery",
                    status="open",
                    stage_key="investigation",
                    stage_name="Investigation",
                    opened_at=d(10, 1),
                    # Issue 19, defect 3: nine days past its deadline on NOW (11-23), still open.
                    stage_due_at=d(11, 14),
                    breached=True,
                    risk="urgent",
                ),
                case_row(
                    "G",
                    north,
                    case_type="capability",
                    advisor="bob",
                    status="open",
                    stage_key="informal",
                    stage_name="Informal",
                    opened_at=d(11, 1),
                ),
                case_row(
                    "I", north, opened_at=d(12, 22, 2025), closed_at=d(1, 21), due_at=d(1, 23)
                ),
                case_row("H", south, employee_id="S9001", opened_at=d(3, 1), closed_at=d(3, 2)),
            ]
        )
        await session.flush()
        session.add_all(
            [
                # A closed on time, but its investigation ended a day after its deadline.
                stay("A", "assessment", d(1, 1), d(1, 4), d(1, 8)),
                stay("A", "investigation", d(1, 4), d(1, 11), d(1, 10)),
                stay("B", "assessment", d(2, 1), d(2, 11), d(2, 6)),
                stay("B", "investigation", d(2, 11), d(2, 21), d(3, 1)),
                stay("I", "assessment", d(12, 22, 2025), d(1, 2), d(1, 5)),
                stay("F", "assessment", d(10, 1), d(10, 6), d(10, 8)),
                stay("F", "investigation", d(10, 6), None, d(10, 27)),
                stay("H", "assessment", d(3, 1), d(3, 2), d(3, 1)),
                stay("B", "suspension", d(2, 5), d(2, 19), None, kind="suspension"),
                stay("F", "suspension", d(10, 10), None, None, kind="suspension"),
            ]
        )
    return people


async def check_kpis_whole_organisation(database: Database, people: People) -> None:
    report = await run(database, people, "kpis", YEAR_2026)
    # opened in 2026: A B C D E F G = 7 (I opened in 2025; H is South's)
    # closed in 2026: A B C D E I = 6; open now: F G = 2, of which F breached
    # days open, sorted: E 4, A 10, B 20, C 30, I 30, D 40 (n = 6)
    #   median: rank 0.5 x 5 = 2.5 -> 20 + 0.5 x (30 - 20) = 25
    #   p90:    rank 0.9 x 5 = 4.5 -> 30 + 0.5 x (40 - 30) = 35
    # with a target: A B C D I = 5; on time A C I = 3 -> 0.6; late B (5 days), D (10 days):
    #   mean 7.5, max 10
    assert report.rows == [
        {
            "opened": 7,
            "closed": 6,
            "open_now": 2,
            "breached_now": 1,
            "median_days_open": 25.0,
            "p90_days_open": 35.0,
            "with_target": 5,
            "on_time": 3,
            "on_time_rate": 0.6,
            "late": 2,
            "late_days_mean": 7.5,
            "late_days_max": 10.0,
        }
    ]


async def check_kpis_by_case_type(database: Database, people: People) -> None:
    report = await run(
        database,
        people,
        "kpis",
        ReportParameters(group_by="case_type", start=date(2026, 1, 1), end=date(2027, 1, 1)),
    )
    rows = {row["case_type"]: row for row in report.rows}
    # capability: G opened and open; nothing closed
    assert rows["capability"] | {} == {
        "case_type": "capability",
        "opened": 1,
        "closed": 0,
        "open_now": 1,
        "breached_now": 0,
        "median_days_open": None,
        "p90_days_open": None,
        "with_target": 0,
        "on_time": 0,
        "on_time_rate": None,
        "late": 0,
        "late_days_mean": None,
        "late_days_max": None,
    }
    # disciplinary: opened A B E F = 4; closed A B E I = 4; open F (breached)
    #   days 4, 10, 20, 30: median rank 1.5 -> 10 + 0.5 x 10 = 15;
    #   p90 rank 0.9 x 3 = 2.7 -> 20 + 0.7 x 10 = 27
    #   target A B I = 3, on time A I = 2 -> 0.667; late B by 5 days
    assert rows["disciplinary"] == {
        "case_type": "disciplinary",
        "opened": 4,
        "closed": 4,
        "open_now": 1,
        "breached_now": 1,
        "median_days_open": 15.0,
        "p90_days_open": 27.0,
        "with_target": 3,
        "on_time": 2,
        "on_time_rate": 0.667,
        "late": 1,
        "late_days_mean": 5.0,
        "late_days_max": 5.0,
    }
    # grievance: C 30 days on time, D 40 days, 10 late: median 35; p90 rank 0.9 -> 30 + 9 = 39
    assert rows["grievance"] == {
        "case_type": "grievance",
        "opened": 2,
        "closed": 2,
        "open_now": 0,
        "breached_now": 0,
        "median_days_open": 35.0,
        "p90_days_open": 39.0,
        "with_target": 2,
        "on_time": 1,
        "on_time_rate": 0.5,
        "late": 1,
        "late_days_mean": 10.0,
        "late_days_max": 10.0,
    }
    assert list(rows) == ["capability", "disciplinary", "grievance"]


async def check_kpis_by_month_and_advisor(database: Database, people: People) -> None:
    report = await run(
        database,
        people,
        "kpis",
        ReportParameters(group_by="advisor,month", start=date(2026, 1, 1), end=date(2027, 1, 1)),
    )
    counts = {
        (r["advisor"], r["month"]): (r["opened"], r["closed"], r["open_now"]) for r in report.rows
    }
    # opened by opening month, closed by closing month, open now by opening month;
    # I (opened 2025-12) still shows as closed in 2026-01.
    assert counts == {
        ("alice", "2026-01"): (1, 2, 0),  # A opened; A and I closed
        ("alice", "2026-02"): (1, 1, 0),  # B
        ("alice", "2026-06"): (1, 1, 0),  # E
        ("alice", "2026-10"): (1, 0, 1),  # F
        ("bob", "2026-03"): (1, 1, 0),  # C
        ("bob", "2026-04"): (1, 0, 0),  # D opened
        ("bob", "2026-05"): (0, 1, 0),  # D closed
        ("bob", "2026-11"): (1, 0, 1),  # G
    }


async def check_stages_on_time_per_step(database: Database, people: People) -> None:
    report = await run(database, people, "stages", YEAR_2026)
    rows = {row["stage"]: row for row in report.rows}
    # assessment stays ended in 2026: A 3 days, F 5, B 10, I 11 (ended 01-02) -> n = 4
    #   median rank 1.5 -> 5 + 0.5 x 5 = 7.5; p90 rank 2.7 -> 10 + 0.7 x 1 = 10.7
    #   on time A I F = 3 of 4 -> 0.75; B late by 5 days
    assert rows["assessment"] == {
        "stage": "assessment",
        "ended": 4,
        "median_days": 7.5,
        "p90_days": 10.7,
        "with_due": 4,
        "on_time": 3,
        "on_time_rate": 0.75,
        "late": 1,
        "late_days_mean": 5.0,
        "late_days_max": 5.0,
        # no assessment is still open past its deadline: the rate so far is the same
        "open_overdue": 0,
        "open_overdue_days_max": None,
        "due_so_far": 4,
        "on_time_rate_so_far": 0.75,
    }
    # investigation ended: A 7 days (a day late, though A closed on time), B 10 days (on time);
    # F's is still open. median 8.5; p90 rank 0.9 -> 7 + 0.9 x 3 = 9.7
    assert rows["investigation"] == {
        "stage": "investigation",
        "ended": 2,
        "median_days": 8.5,
        "p90_days": 9.7,
        "with_due": 2,
        "on_time": 1,
        "on_time_rate": 0.5,
        "late": 1,
        "late_days_mean": 1.0,
        "late_days_max": 1.0,
        # F, open in investigation, due 11-14: on NOW (11-23) 9 days overdue and counted late
        # in the rate so far: on time 1 of 2 ended + 1 open overdue = 1/3 -> 0.333
        "open_overdue": 1,
        "open_overdue_days_max": 9.0,
        "due_so_far": 3,
        "on_time_rate_so_far": 0.333,
    }


async def check_suspension_lengths(database: Database, people: People) -> None:
    report = await run(database, people, "suspensions", YEAR_2026)
    # lifted: B 02-05 to 02-19 = 14 days; current: F since 10-10, 44 days on 11-23
    assert report.rows == [
        {
            "lifted": 1,
            "median_days": 14.0,
            "p90_days": 14.0,
            "max_days": 14.0,
            "current": 1,
            "current_max_days": 44.0,
        }
    ]


async def check_workload_cost_root_causes_repeats_benchmark(
    database: Database, people: People
) -> None:
    north = people.organisation.id
    async with database.transaction() as session:
        session.add_all(
            [
                # alice (advisor, £32/h): 90 min on A, 30 on F; mark (manager, £45/h) 60 on C;
                # polly (policy owner: no rate) 15 on C.
                TimeEntry(
                    case_id="A",
                    username="alice",
                    worked_on=date(2026, 1, 2),
                    minutes=90,
                    activity_code="advice",
                ),
                TimeEntry(
                    case_id="F",
                    username="alice",
                    worked_on=date(2026, 10, 2),
                    minutes=30,
                    activity_code="meeting",
                ),
                TimeEntry(
                    case_id="C",
                    username="mark",
                    worked_on=date(2026, 3, 2),
                    minutes=60,
                    activity_code="meeting",
                ),
                TimeEntry(
                    case_id="C",
                    username="polly",
                    worked_on=date(2026, 3, 3),
                    minutes=15,
                    activity_code="admin",
                ),
                RootCauseCode(organisation_id=north, code="conduct", label="Conduct"),
                RootCauseCode(organisation_id=north, code="rota", label="Rota pressure"),
                CaseClosure(case_id="A", root_cause="rota", closed_at=d(1, 11)),
                CaseClosure(case_id="B", root_cause="rota", closed_at=d(2, 21)),
                CaseClosure(case_id="C", root_cause="conduct", closed_at=d(3, 31)),
            ]
        )
    # Workload: F disciplinary (3) x urgent (2) = 6 for alice; G capability (2) x routine (1) = 2
    workload = await run(database, people, "workload", YEAR_2026)
    assert workload.rows == [
        {"advisor": "alice", "open_cases": 1, "urgent": 1, "weighted": 6.0},
        {"advisor": "bob", "open_cases": 1, "urgent": 0, "weighted": 2.0},
    ]
    # Cost by case type: disciplinary 90 + 30 min of alice = 2 h x 32 = 64;
    # grievance: mark 1 h x 45 = 45, polly 15 min unrated.
    cost = await run(database, people, "cost", YEAR_2026)
    assert cost.rows == [
        {
            "case_type": "disciplinary",
            "minutes": 120,
            "unrated_minutes": 0,
            "cost": 64.0,
            "cases": 2,
            "hours": 2.0,
        },
        {
            "case_type": "grievance",
            "minutes": 75,
            "unrated_minutes": 15,
            "cost": 45.0,
            "cases": 1,
            "hours": 1.25,
        },
    ]
    # Root causes by division (cases closed in 2026): Medicine A B rota, E I not recorded;
    # Surgery C conduct, D not recorded.
    causes = await run(database, people, "root-causes", YEAR_2026)
    assert [(r["division"], r["root_cause"], r["cases"]) for r in causes.rows] == [
        ("Medicine", "(not recorded)", 2),
        ("Medicine", "rota", 2),
        ("Surgery", "(not recorded)", 1),
        ("Surgery", "conduct", 1),
    ]
    # Repeats: every North case is about E1001 (line manager E2001): A B C D E F G opened in
    # 2026 = 7 cases, 3 types, one person; the team of E2001 likewise.
    repeats = await run(database, people, "repeats", YEAR_2026)
    assert repeats.rows == [
        {"who": "employee", "id": "E1001", "cases": 7, "people": 1, "case_types": 3},
        {"who": "team", "id": "E2001", "cases": 7, "people": 1, "case_types": 3},
    ]
    # Benchmark on 11-23: F (disciplinary) is 53 days old; closed disciplinary took 4, 10, 20,
    # 30 (A B E I): all 4 shorter -> percentile 100, an outlier, no prediction. G (capability)
    # 22 days old, no closed capability case: no percentile.
    bench = await run(database, people, "benchmark", YEAR_2026)
    assert [
        (r["case_id"], r["age_days"], r["percentile"], r["outlier"], r["predicted_completion"])
        for r in bench.rows
    ] == [
        ("F", 53.0, 100.0, True, None),
        ("G", 22.0, None, False, None),
    ]


@pytest.mark.asyncio
async def test_reports_on_data_set_1(database: Database) -> None:
    """One data set, every report over it (a fresh database per report would be slow)."""
    people = await data_set_1(database)
    await check_kpis_whole_organisation(database, people)
    await check_kpis_by_case_type(database, people)
    await check_kpis_by_month_and_advisor(database, people)
    await check_stages_on_time_per_step(database, people)
    await check_suspension_lengths(database, people)
    await check_workload_cost_root_causes_repeats_benchmark(database, people)


# ---- data set 2: equality -------------------------------------------------------------
#
# NHS England, WRES technical guidance, indicator 3, and WDES technical guidance, metric 3:
# the relative likelihood of entering the formal process (WRES: a formal disciplinary
# investigation; WDES: the formal capability procedure on performance grounds), a two-year
# rolling average of the current and the previous year, each person once a year; the
# headcount of each group in post at the reporting date; ethnicity from ESR's codes (White =
# A, B, C; BME = every other stated category; Z Not Stated or none = unknown).
#
# Staff of North on 31 December 2026 (add_people gives E1001 Asian/No, E2001 White/No,
# E1002 White/Yes; the rest as ESR writes them, coded, or as the import stores them):
#   E3001 "M Black or Black British - Caribbean", "Y Yes"    bme      disabled
#   E3002 "Mixed - White and Asian", "No"                     bme      non-disabled
#   E3003 "LH Asian British" (L), none                       bme      unknown
#   E3004 "B White - Irish", "N No", left 2025-12-01          white    non-disabled  (left)
#   E3005 "CA White English", "Yes", leaves 2026-12-31        white    disabled      (in post)
#   E3006 none, none                                          unknown  unknown
#   E3007 "Z Not Stated", "No"                                unknown  non-disabled
#   E3008 "White - British", "No", left 2026-06-30            white    non-disabled  (left)
#   E3009 "White - British", starts 2027-02-01                not yet in post
# Headcount on 2026-12-31 (in post: no leaving date before it, no start after it):
#   ethnicity  bme E1001 E3001 E3002 E3003 = 4; white E2001 E1002 E3005 = 3;
#              unknown E3006 E3007 = 2
#   disability disabled E1002 E3001 E3005 = 3; non-disabled E1001 E2001 E3002 E3007 = 4;
#              unknown E3003 E3006 = 2
# (Grouping by text starting "white", as before, put B, CA and Z under BME.)

STAFF_2 = [
    ("E3001", "M Black or Black British - Caribbean", "Y Yes", None, None),
    ("E3002", "Mixed - White and Asian", "No", None, None),
    ("E3003", "LH Asian British", None, None, None),
    ("E3004", "B White - Irish", "N No", None, date(2025, 12, 1)),
    ("E3005", "CA White English", "Yes", None, date(2026, 12, 31)),
    ("E3006", None, None, None, None),
    ("E3007", "Z Not Stated", "No", None, None),
    ("E3008", "White - British", "No", None, date(2026, 6, 30)),
    ("E3009", "White - British", "No", date(2027, 2, 1), None),
]
FORMAL_2 = [
    # (case, organisation, employee, type, stage, stage entered)
    ("c1", "north", "E1001", "disciplinary", "investigation", d(3, 1)),
    ("c2", "north", "E1001", "disciplinary", "investigation", d(5, 1)),  # same person, year
    ("c3", "north", "E3003", "disciplinary", "investigation", d(4, 1)),
    ("c4", "north", "E2001", "disciplinary", "investigation", d(6, 1)),
    ("c5", "north", "E3006", "disciplinary", "investigation", d(7, 1)),
    ("c6", "north", "E3002", "disciplinary", "assessment", d(2, 1)),  # never formal
    ("c7", "north", "E3004", "disciplinary", "investigation", d(6, 1, 2025)),  # dismissed
    ("c8", "north", "E9999", "disciplinary", "investigation", d(8, 1)),  # not in directory
    ("c9", "south", "S9001", "disciplinary", "investigation", d(3, 1)),  # other trust
    ("c10", "north", "E3001", "investigation", "terms_of_reference", d(4, 1)),  # any subject
    ("c11", "north", "E3002", "bullying_harassment", "investigation", d(5, 1)),  # not conduct
    ("c12", "north", "E1001", "disciplinary", "investigation", d(9, 1, 2025)),  # year before
    ("k1", "north", "E1002", "capability", "formal_first", d(2, 1)),
    ("k2", "north", "E3001", "capability", "formal_second", d(3, 1)),  # not the first stage
    ("k3", "north", "E1001", "capability", "formal_first", d(4, 1)),
    ("k4", "north", "E3002", "capability", "informal", d(4, 1)),  # never formal
    ("k5", "north", "E3003", "capability", "formal_first", d(5, 1)),
    ("k6", "north", "E3005", "capability", "formal_first", d(3, 1, 2025)),
    ("k7", "north", "E3005", "capability", "formal_first", d(10, 1, 2025)),  # once a year
    ("k8", "north", "E3007", "sickness", "stage_1", d(6, 1)),  # ill health: not WDES 3
]


async def add_formal(
    database: Database, people: People, formal: list[tuple[str, str, str, str, str, datetime]]
) -> None:
    organisations = {"north": people.organisation.id, "south": people.other_organisation.id}
    async with database.transaction() as session:
        session.add_all(
            [
                case_row(
                    cid,
                    organisations[org],
                    employee_id=emp,
                    case_type=typ,
                    status="open",
                    stage_key=key,
                    stage_name=key,
                    opened_at=entered,
                )
                for cid, org, emp, typ, key, entered in formal
            ]
        )
        await session.flush()
        session.add_all(
            [stay(cid, key, entered, None, None) for cid, _, _, _, key, entered in formal]
        )


async def data_set_2(database: Database) -> People:
    people = await add_people(database)
    async with database.transaction() as session:
        session.add_all(
            Staff(
                organisation_id=people.organisation.id,
                employee_id=employee,
                ethnic_group=ethnic,
                disability=disabled,
                start_date=start,
                left_on=left,
            )
            for employee, ethnic, disabled, start, left in STAFF_2
        )
    await add_formal(database, people, FORMAL_2)
    return people


@pytest.mark.asyncio
async def test_wres_indicator_3(database: Database) -> None:
    people = await data_set_2(database)
    await check_wdes_metric_3(database, people)
    # By default the two-year rolling average: the years 2025 and 2026 up to 31 December.
    report = await run(database, people, "wres", YEAR_2026)
    # Entrants into a disciplinary's investigation stage, each person once a year:
    #   2025: bme E1001 (c12) = 1; white E3004 (c7, dismissed and left: still their group) = 1
    #   2026: bme E1001 (c1, c2: once), E3003 (c3) = 2; white E2001 (c4) = 1;
    #         unknown E3006 (c5), E9999 (c8, not in the directory) = 2
    #   not counted: c6 (never formal), c9 (South), c10 (an investigation case: it may be a
    #   grievance's), c11 (a bullying complaint's investigation).
    # Averages: bme (1 + 2) / 2 = 1.5; white (1 + 1) / 2 = 1; unknown (0 + 2) / 2 = 1.
    # Likelihoods: bme 1.5 / 4 = 0.375; white 1 / 3 = 0.3333 (4 significant figures);
    # unknown 1 / 2 = 0.5. Relative likelihood 0.375 / (1/3) = 1.125.
    assert report.headline["window"] == "2y"
    assert report.headline["relative_likelihood"] == 1.125
    assert report.rows == [
        {
            "group": "bme",
            "headcount": 4,
            "entrants_2025-01-01_2026-01-01": 1,
            "entrants_2026-01-01_2027-01-01": 2,
            "entrants": 1.5,
            "likelihood": 0.375,
        },
        {
            "group": "white",
            "headcount": 3,
            "entrants_2025-01-01_2026-01-01": 1,
            "entrants_2026-01-01_2027-01-01": 1,
            "entrants": 1.0,
            "likelihood": 0.3333,
        },
        {
            "group": "unknown",
            "headcount": 2,
            "entrants_2025-01-01_2026-01-01": 0,
            "entrants_2026-01-01_2027-01-01": 2,
            "entrants": 1.0,
            "likelihood": 0.5,
        },
    ]
    one = await run(
        database,
        people,
        "wres",
        ReportParameters(start=date(2026, 1, 1), end=date(2027, 1, 1), window="1y"),
    )
    # 2026 alone: bme 2 / 4 = 0.5, white 1 / 3; relative likelihood 0.5 / (1/3) = 1.5.
    assert one.headline["relative_likelihood"] == 1.5
    assert [(r["group"], r["headcount"], r["entrants"]) for r in one.rows] == [
        ("bme", 4, 2.0),
        ("white", 3, 1.0),
        ("unknown", 2, 2.0),
    ]


async def check_wdes_metric_3(database: Database, people: People) -> None:
    report = await run(database, people, "wdes", YEAR_2026)
    # Entry into formal stage 1 of the capability (performance) procedure, once a year:
    #   2025: disabled E3005 (k6, k7: once) = 1
    #   2026: disabled E1002 (k1) = 1; non-disabled E1001 (k3) = 1; unknown E3003 (k5) = 1
    #   not counted: k2 (entered at stage 2), k4 (informal), k8 (sickness: ill health).
    # Averages: disabled (1 + 1) / 2 = 1; non-disabled (0 + 1) / 2 = 0.5; unknown 0.5.
    # Likelihoods: disabled 1 / 3 = 0.3333; non-disabled 0.5 / 4 = 0.125; unknown 0.25.
    # Relative likelihood (1/3) / 0.125 = 8/3 = 2.667 (4 significant figures).
    assert report.headline["relative_likelihood"] == 2.667
    assert [(r["group"], r["headcount"], r["entrants"], r["likelihood"]) for r in report.rows] == [
        ("disabled", 3, 1.0, 0.3333),
        ("non_disabled", 4, 0.5, 0.125),
        ("unknown", 2, 0.5, 0.25),
    ]


@pytest.mark.asyncio
async def test_wres_years_are_london_days_and_include_the_leap_year_first_day(
    database: Database,
) -> None:
    # The WRES year to 31 March 2024 is 1 April 2023 to 31 March 2024: 366 days (29 February
    # 2024). Its days are London's: 1 April 2023 begins at 00:00 BST = 31 March 23:00 UTC.
    # Before, the window was 365 days back from 1 April 2024 00:00 UTC, so it began on
    # 2 April 2023 and an investigation entered on 1 April 2023 was dropped.
    people = await add_people(database)  # E1001 bme; E2001, E1002 white; all in post
    await add_formal(
        database,
        people,
        [
            # 1 April 2023 00:30 BST: the first day of 2023/24
            (
                "w1",
                "north",
                "E2001",
                "disciplinary",
                "investigation",
                d(3, 31, 2023).replace(hour=23, minute=30),
            ),
            # 31 March 2023 23:30 BST: the last day of 2022/23
            (
                "w2",
                "north",
                "E1002",
                "disciplinary",
                "investigation",
                d(3, 31, 2023).replace(hour=22, minute=30),
            ),
            # 1 April 2024 00:30 BST: the next year, though still 31 March in UTC
            (
                "w3",
                "north",
                "E1001",
                "disciplinary",
                "investigation",
                d(3, 31, 2024).replace(hour=23, minute=30),
            ),
        ],
    )
    report = await run(
        database, people, "wres", ReportParameters(end=date(2024, 4, 1), window="2y")
    )
    # 2022/23: white E1002 = 1; 2023/24: white E2001 = 1; bme none in either year.
    # Headcount on 31 March 2024: bme 1, white 2. Likelihoods: bme 0 / 1 = 0;
    # white ((1 + 1) / 2) / 2 = 0.5; relative likelihood 0 / 0.5 = 0.
    assert report.rows[:2] == [
        {
            "group": "bme",
            "headcount": 1,
            "entrants_2022-04-01_2023-04-01": 0,
            "entrants_2023-04-01_2024-04-01": 0,
            "entrants": 0.0,
            "likelihood": 0.0,
        },
        {
            "group": "white",
            "headcount": 2,
            "entrants_2022-04-01_2023-04-01": 1,
            "entrants_2023-04-01_2024-04-01": 1,
            "entrants": 1.0,
            "likelihood": 0.5,
        },
    ]
    assert report.headline["relative_likelihood"] == 0.0


# ---- through the API: roles, bad parameters, CSV and FOI ---------------------------------


@pytest.mark.asyncio
async def test_reports_api(database: Database) -> None:
    await data_set_1(database)
    settings = make_settings(
        str(database.engine.url).replace("+aiosqlite", "").replace("+psycopg", "+psycopg")
    )
    app = create_app(settings)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://ercase.test"
        ) as http,
    ):

        async def token(username: str) -> dict[str, str]:
            reply = await http.post(
                "/api/auth/token", data={"username": username, "password": "demo"}
            )
            return {"Authorization": f"Bearer {reply.json()['access_token']}"}

        hannah, alice = await token("hannah"), await token("alice")
        window = "from=2026-01-01&to=2027-01-01"
        reply = await http.get(f"/api/reports/kpis?{window}", headers=hannah)
        assert reply.status_code == 200 and reply.json()["rows"][0]["opened"] == 7
        assert (await http.get("/api/reports/kpis", headers=alice)).status_code == 403
        national = await http.get("/api/reports/kpis?national=true", headers=hannah)
        assert national.status_code == 403
        for bad in (
            "group_by=colour",
            "from=2026-13-01",
            "from=2027-01-01&to=2026-01-01",
            "window=3y",
            "threshold=1",
            "measure=sideways",
        ):
            reply = await http.get(f"/api/reports/kpis?{bad}", headers=hannah)
            assert reply.status_code == 422, bad
            assert reply.json()["detail"], bad
        # A window with nothing in it: no rows (not a row of empty percentiles).
        empty = await http.get("/api/reports/stages?from=2020-01-01&to=2020-02-01", headers=hannah)
        assert empty.status_code == 200 and empty.json()["rows"] == []
        # Root-cause codes: policy owners keep them; a closing step may only name an active one.
        polly = await token("polly")
        saved = await http.post(
            "/api/reports/root-causes",
            json={"code": "rota", "label": "Rota pressure"},
            headers=polly,
        )
        assert saved.json() == {"code": "rota", "label": "Rota pressure", "active": True}
        refused = await http.post(
            "/api/reports/root-causes", json={"code": "x", "label": "X"}, headers=alice
        )
        assert refused.status_code == 403
        invalid = await http.post(
            "/api/reports/root-causes", json={"code": "no spaces", "label": "X"}, headers=polly
        )
        assert invalid.status_code == 422 and "code" in invalid.json()["detail"]
        listed = await http.get("/api/reports/root-causes", headers=hannah)
        assert [row["code"] for row in listed.json()] == ["rota"]
        unknown = await http.post(
            "/api/cases/F/actions/no_further_action",
            json={"data": {"outcome": "None", "root_cause": "weather"}},
            headers=alice,
        )
        assert unknown.status_code == 422 and "root_cause" in unknown.json()["detail"]
        missing = await http.get("/api/reports/nonsense", headers=hannah)
        assert missing.status_code == 404
        # Opened in 2026 by division and type (A B E G Medicine; C D F Surgery):
        #            capability disciplinary grievance | total
        #   Medicine     1          3           0      |   4
        #   Surgery      0          1           2      |   3
        #   total        1          4           2      |   7
        # threshold 3 hides 1 and 2: Medicine/capability, Surgery/disciplinary,
        # Surgery/grievance and the capability and grievance totals. Medicine's row then has
        # one hidden cell beside its total 4: the next smallest non-zero, disciplinary 3, goes
        # too. Every row and column now hides none or at least two cells, but the zeros still
        # say too much: capability's hidden total and Medicine's hidden 1 differ by the 0
        # shown for Surgery, so every capability case would be Medicine's; likewise every
        # grievance Surgery's. Both zeros are hidden. What is left (row totals 4 and 3, the
        # disciplinary total 4, the grand total 7) fixes no hidden cell.
        reply = await http.get(
            f"/api/reports/crosstab?{window}&rows=division&columns=case_type&foi=true&threshold=3",
            headers=hannah,
        )
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/csv")
        lines = reply.text.strip().splitlines()
        assert lines[0] == "# Cases opened by division and case_type"
        assert lines[2].startswith('"# Small-number suppression (threshold 3): Counts from 1 to 2')
        assert lines[3:] == [
            "division \\ case_type,capability,disciplinary,grievance,Total",
            "Medicine,*,*,*,4",
            "Surgery,*,*,*,3",
            "Total,*,4,*,7",
        ]
        plain = await http.get(
            f"/api/reports/crosstab?{window}&rows=division&columns=case_type&format=csv",
            headers=hannah,
        )
        assert plain.text.strip().splitlines()[-3:] == [
            "Medicine,1,3,0,4",
            "Surgery,0,1,2,3",
            "Total,1,4,2,7",
        ]


def test_crosstab_is_a_report_shape() -> None:
    assert CrossTab("t", "a", "b", ["x"], ["y"], [[1]]).as_json()["total"] == 1
