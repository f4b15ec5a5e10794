"""The numbers behind the Team and Overview pages, and the heat map's geometry.

Pure functions over case rows (already scoped to what the viewer may see), so they are easy
to test and the templates only draw what these return.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from api.web.urgency import next_deadline, urgency
from policies.calendar import LONDON
from records.models import Case

# Complexity, roughly: an urgent case takes about three times the attention of a routine one.
RISK_WEIGHT = {"urgent": 3, "routine": 1}
NEAR_BREACH = timedelta(days=2)


@dataclass
class Workload:
    advisor: str
    name: str
    cases: int = 0
    weight: int = 0
    breached: int = 0
    near_breach: int = 0


def workloads(cases: list[Case], advisors: dict[str, str], now: datetime) -> list[Workload]:
    """Per advisor (every advisor, even with nothing open): open cases, weight, breaches."""
    rows = {username: Workload(username, name) for username, name in advisors.items()}
    for case in cases:
        if case.status == "closed":
            continue
        row = rows.setdefault(case.advisor, Workload(case.advisor, case.advisor))
        row.cases += 1
        row.weight += RISK_WEIGHT.get(case.risk, 1)
        if urgency(case, now).rank == 0:
            row.breached += 1
        elif case.status == "open" and (due := next_deadline(case)) and due - now <= NEAR_BREACH:
            row.near_breach += 1
    return sorted(rows.values(), key=lambda row: (-row.weight, row.name))


@dataclass
class Cell:
    x: int
    y: int
    division: str
    case_type: str
    count: int
    breached: int
    fill: str
    ink: str

    @property
    def label(self) -> str:
        """What the cell says, for the printed number and for screen readers."""
        breached = f", {self.breached} breached" if self.breached else ""
        return f"{self.division}, {self.case_type}: {self.count} open{breached}"


@dataclass
class HeatMap:
    rows: list[str]  # case types
    columns: list[str]  # divisions
    cells: list[Cell]
    width: int
    height: int
    cell_width: int
    cell_height: int
    left: int
    top: int


# A sequential blue scale, light to dark; numbers are printed in every cell as well.
SCALE = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]


def heat_map(cases: list[Case], case_type_names: dict[str, str], now: datetime) -> HeatMap:
    """Open cases by case type (rows) and division (columns), with breaches in each cell.

    Case types run down the side, where long names fit; divisions (fewer, shorter) across the
    top, their names slanted so neighbours never overlap.
    """
    open_cases = [case for case in cases if case.status != "closed"]
    counts = Counter((case.division or "Unknown", case.case_type) for case in open_cases)
    breaches = Counter(
        (case.division or "Unknown", case.case_type)
        for case in open_cases
        if urgency(case, now).rank == 0
    )
    divisions = sorted({division for division, _ in counts}) or ["(no open cases)"]
    types = sorted({t for _, t in counts} | set(case_type_names))
    names = [case_type_names.get(t, t) for t in types]
    left, top, cell_width, cell_height = 230, 120, 110, 40
    highest = max(counts.values(), default=0)
    cells = []
    for y, case_type in enumerate(types):
        for x, division in enumerate(divisions):
            count = counts.get((division, case_type), 0)
            level = 0 if highest == 0 else round(count / highest * (len(SCALE) - 1))
            ink = "#ffffff" if level >= 3 else "#1d1d1d"  # readable on the dark end of the scale
            breached = breaches.get((division, case_type), 0)
            cells.append(Cell(x, y, division, names[y], count, breached, SCALE[level], ink))
    return HeatMap(
        rows=names,
        columns=divisions,
        cells=cells,
        width=left + cell_width * len(divisions) + 60,
        height=top + cell_height * len(types) + 10,
        cell_width=cell_width,
        cell_height=cell_height,
        left=left,
        top=top,
    )


@dataclass
class Month:
    label: str
    opened: int
    closed: int


def months_back(today: date, count: int) -> list[tuple[int, int]]:
    year, month = today.year, today.month
    result = []
    for _ in range(count):
        result.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(result))


def monthly_trend(cases: list[Case], now: datetime, count: int = 12) -> list[Month]:
    """Cases opened and closed in each of the last `count` months (London months)."""

    def month_of(moment: datetime) -> tuple[int, int]:
        local = moment.astimezone(LONDON)
        return local.year, local.month

    opened = Counter(month_of(case.opened_at) for case in cases)
    closed = Counter(month_of(case.closed_at) for case in cases if case.closed_at)
    return [
        Month(date(year, month, 1).strftime("%b %Y"), opened[(year, month)], closed[(year, month)])
        for year, month in months_back(now.astimezone(LONDON).date(), count)
    ]
