"""Time each report on a database filled by bench/reporting_data.py.

One organisation's dashboard (the reports the director's page shows) is run ROUNDS times for
organisations picked in turn, and p50/p95 printed per report and for the whole dashboard;
national aggregates (an admin across all organisations) are run a few times each.
Targets: dashboard p95 <= 100 ms; national <= 1 s on PostgreSQL.

    .venv/bin/python bench/reporting.py postgresql+psycopg://postgres@127.0.0.1/ercase_bench

Last measured (2-core machine shared with other benchmarks, load average ~9), the same
million cases before and after migration 0009: dashboard p50 / p95 1,290 / 1,950 ms before
(10 rounds), 93 / 132 ms after (40 rounds); national 0.7-6.2 s before, 0.1-1.6 s after
(stages the slowest: exact percentiles over 400,000 stays). Details in docs/operations.md,
"Reporting at scale".
"""

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

from api.web.reports import page_reports
from records.database import Database
from services.access import Principal
from services.reports import ReportParameters, Reports
from settings import Settings

DASHBOARD = [
    ("kpis", ReportParameters(group_by="case_type")),
    ("stages", ReportParameters()),
    ("suspensions", ReportParameters()),
    ("workload", ReportParameters()),
    ("wres", ReportParameters()),
    ("wdes", ReportParameters()),
]
OTHERS = [
    ("kpis by division, month", ReportParameters(group_by="division,month")),
    ("benchmark", ReportParameters(limit=50)),
    ("root-causes", ReportParameters()),
    ("repeats", ReportParameters()),
]
NATIONAL = [
    ("kpis", ReportParameters(national=True)),
    ("kpis by organisation", ReportParameters(group_by="organisation", national=True)),
    ("stages", ReportParameters(national=True)),
    ("wres", ReportParameters(national=True)),
    (
        "crosstab organisation x case type",
        ReportParameters(national=True, rows="organisation", columns="case_type"),
    ),
]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


async def timed(reports: Reports, name: str, parameters: ReportParameters) -> float:
    began = time.perf_counter()
    await reports.run(name.split(" ")[0], parameters, datetime.now(UTC))
    return time.perf_counter() - began


async def timed_page(reports: Reports) -> float:
    began = time.perf_counter()
    await page_reports(reports, datetime.now(UTC))
    return time.perf_counter() - began


async def main(url: str, rounds: int, national_rounds: int, organisations: int) -> None:
    database = Database(url)
    settings = Settings(database_url=url)
    roles = frozenset({"hr_director", "admin"})
    per_report: dict[str, list[float]] = {}
    totals = []
    pages = []
    for round_number in range(rounds):
        reports = Reports(
            database, settings, Principal("bench", 1 + round_number % organisations, roles)
        )
        total = 0.0
        for name, parameters in DASHBOARD:
            took = await timed(reports, name, parameters)
            per_report.setdefault(name, []).append(took)
            total += took
        totals.append(total)
        pages.append(await timed_page(reports))
        for name, parameters in OTHERS:
            per_report.setdefault(name, []).append(await timed(reports, name, parameters))
    print(f"One organisation ({rounds} rounds, organisations in turn)       p50        p95")
    for name, values in per_report.items():
        print(f"  {name:<40} {ms(statistics.median(values))} {ms(p95(values))}")
    print(
        f"  {'dashboard (first six together)':<40} "
        f"{ms(statistics.median(totals))} {ms(p95(totals))}"
    )
    print(
        f"  {'the Reports page (its four at once)':<40} "
        f"{ms(statistics.median(pages))} {ms(p95(pages))}"
    )
    print(f"National ({national_rounds} runs each)                            median       max")
    reports = Reports(database, settings, Principal("bench", 1, roles))
    for name, parameters in NATIONAL:
        values = [await timed(reports, name, parameters) for _ in range(national_rounds)]
        print(f"  {name:<40} {ms(statistics.median(values))} {ms(max(values))}")
    await database.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--national-rounds", type=int, default=3)
    # 200: each round a different organisation (cold pages); 1: the same one (a warm cache).
    parser.add_argument("--organisations", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.database_url,
            arguments.rounds,
            arguments.national_rounds,
            arguments.organisations,
        )
    )
