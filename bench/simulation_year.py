"""A year of a 5,000-staff trust through `ercase simulate`: how long the replay takes.

Generates (deterministically, seed 2025) about 1,500 disciplinary cases opened on the working
days of 2025 along the shipped policy's routes — informal resolution, no further action, or
investigation then (mostly) report, hearing, decision and outcome letter — with step gaps
drawn so that some deadlines are missed. Then it replays them under the shipped policy and
under a proposal that gives investigations 28 days instead of 21, prints the comparison and
the time it took.

    .venv/bin/python -m bench.simulation_year [--cases 1500] [--keep FOLDER]

Target (issue 10): under 5 minutes on this machine.
"""

import argparse
import asyncio
import csv
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from policies.calendar import add_working_days, is_working_day
from policies.loader import DEFINITIONS_DIR, load_policy_file
from simulation import simulate

YEAR = 2025


def _after(rng: random.Random, day: date, low: int, high: int) -> date:
    """A working day `low`..`high` working days after `day`."""
    return add_working_days(day, rng.randint(low, high))


def year_of_cases(count: int, seed: int = YEAR) -> list[dict[str, str]]:
    rng = random.Random(seed)
    days = [
        date(YEAR, 1, 1) + timedelta(days=n)
        for n in range(365)
        if is_working_day(date(YEAR, 1, 1) + timedelta(days=n))
    ]
    rows = []
    for number in range(1, count + 1):
        opened = rng.choice(days)
        steps: list[tuple[str, date]] = []
        route = rng.random()
        if route < 0.40:
            steps.append(("informal_resolution", _after(rng, opened, 1, 8)))
        elif route < 0.55:
            steps.append(("no_further_action", _after(rng, opened, 1, 7)))
        else:
            referred = _after(rng, opened, 2, 8)
            steps.append(("refer_to_investigation", referred))
            if rng.random() < 0.2:
                steps.append(("no_case_to_answer", _after(rng, referred, 8, 25)))
            else:
                reported = _after(rng, referred, 10, 24)
                scheduled = _after(rng, reported, 2, 8)
                decided = _after(rng, scheduled, 10, 20)
                steps += [
                    ("submit_report", reported),
                    ("schedule_hearing", scheduled),
                    ("record_decision", decided),
                    ("send_outcome_letter", _after(rng, decided, 2, 8)),
                ]
        within_year = [(key, on) for key, on in steps if on.year == YEAR]
        rows.append(
            {
                "case_id": f"Y{number:04d}",
                "case_type": "disciplinary",
                "opened": opened.isoformat(),
                "steps": ";".join(f"{key}={on.isoformat()}" for key, on in within_year),
            }
        )
    rows.sort(key=lambda row: row["opened"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1500)
    parser.add_argument("--keep", type=Path, help="write the CSV and the proposal here")
    arguments = parser.parse_args()
    folder = arguments.keep or Path(tempfile.mkdtemp(prefix="ercase-simulation-"))
    folder.mkdir(parents=True, exist_ok=True)
    cases_file = folder / "disciplinary-2025.csv"
    with cases_file.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["case_id", "case_type", "opened", "steps"])
        writer.writeheader()
        writer.writerows(year_of_cases(arguments.cases))
    shipped_text = (DEFINITIONS_DIR / "disciplinary.yaml").read_text()
    assert "due: P21D" in shipped_text
    proposal = folder / "disciplinary-proposal.yaml"
    proposal.write_text(shipped_text.replace("due: P21D", "due: P28D", 1))
    current = load_policy_file(DEFINITIONS_DIR / "disciplinary.yaml")
    began = time.monotonic()
    comparison = asyncio.run(simulate(load_policy_file(proposal), current, cases_file))
    print("\n".join(comparison.lines()))
    print(f"a year of {comparison.cases} cases, both policies: {time.monotonic() - began:.1f} s")


if __name__ == "__main__":
    main()
