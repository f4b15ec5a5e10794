"""An attacker against FOI exports: generated tables, suppressed, then every hidden cell tried.

The attacker is written here, independently of records/reporting/suppression.py: it reads only
what an FOI requester gets (the published cells, and the table's public structure: which
cells add up to which totals, which average of which years, which rate of which counts) and
solves it with exact fractions. It recovers a hidden cell by linear differencing across rows,
columns, totals and years (the years of a two-year window add up to twice their published
average), and also through a published rate or ratio whose other terms it knows (likelihood
x headcount = entrants). The property: it recovers nothing, and no line with a hidden total
is shown to have every person in one hidden cell (the zeros beside a hidden count saying
"every entrant is in this group").
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from records.reporting import equality
from records.reporting.suppression import SUPPRESSED, suppress
from records.reporting.table import Column, Report, report_csv

DETERMINISTIC = settings(derandomize=True, max_examples=200, deadline=None, database=None)

Cell = tuple[int, int]


@dataclass
class Equations:
    """Linear equations over the unknown cells (sum of coefficient x cell = constant), kept in
    reduced row echelon form."""

    rows: list[tuple[dict[Cell, Fraction], Fraction]] = field(default_factory=list)

    def _reduce(
        self, vector: dict[Cell, Fraction], constant: Fraction
    ) -> tuple[dict[Cell, Fraction], Fraction]:
        vector = dict(vector)
        for row, value in self.rows:
            pivot = min(row)
            factor = vector.get(pivot)
            if factor:
                for cell, coefficient in row.items():
                    vector[cell] = vector.get(cell, Fraction(0)) - factor * coefficient
                    if not vector[cell]:
                        del vector[cell]
                constant -= factor * value
        return vector, constant

    def add(self, vector: dict[Cell, Fraction], constant: Fraction) -> None:
        vector, constant = self._reduce(vector, constant)
        if not vector:
            return
        pivot = min(vector)
        scale = vector[pivot]
        new = ({cell: c / scale for cell, c in vector.items()}, constant / scale)
        # Keep it fully reduced: the new pivot out of every older row.
        kept = []
        for row, value in self.rows:
            factor = row.get(pivot)
            if factor:
                row = {
                    cell: row.get(cell, Fraction(0)) - factor * new[0].get(cell, Fraction(0))
                    for cell in {*row, *new[0]}
                }
                row = {cell: c for cell, c in row.items() if c}
                value -= factor * new[1]
            kept.append((row, value))
        # Pivots must stay the smallest cell of their row for _reduce: re-sort by pivot.
        self.rows = sorted([*kept, new], key=lambda r: min(r[0]))

    def value_of(self, vector: dict[Cell, Fraction]) -> Fraction | None:
        """The value of sum(coefficient x cell) if the equations fix it, else None."""
        # value_of(v) = c exactly when v - (the combination of rows) is zero; reducing v
        # against rows whose pivots appear in it tracks the combination's constant.
        reduced, constant = self._reduce(vector, Fraction(0))
        return None if reduced else -constant


def solve(
    lines: list[tuple[list[Cell], Cell]], known: dict[Cell, Fraction], unknown: set[Cell]
) -> Equations:
    equations = Equations()
    for parts, total in lines:
        vector: dict[Cell, Fraction] = {}
        constant = Fraction(0)
        for cell, sign in [*((part, 1) for part in parts), (total, -1)]:
            if cell in unknown and cell not in known:
                vector[cell] = vector.get(cell, Fraction(0)) + sign
            else:
                constant -= sign * known[cell]
        equations.add({cell: c for cell, c in vector.items() if c}, constant)
    return equations


def leaks(
    lines: list[tuple[list[Cell], Cell]],
    truth: dict[Cell, int],
    published: dict[Cell, Fraction | None],
    relations: Sequence["Relation | RatioOfRates"] = (),
) -> list[str]:
    """What the attacker works out that the table hid. `published` is None for a hidden cell."""
    known = {cell: value for cell, value in published.items() if value is not None}
    hidden = {cell for cell, value in published.items() if value is None}
    while True:
        equations = solve(lines, known, hidden)
        found: dict[Cell, Fraction] = {}
        for cell in hidden - known.keys():
            value = equations.value_of({cell: Fraction(1)})
            if value is not None:
                found[cell] = value
        for relation in relations:
            found.update(relation.apply({**known, **found}, hidden))
        found = {cell: value for cell, value in found.items() if cell not in known}
        if not found:
            break
        known.update(found)
    problems = [
        f"hidden cell {cell} = {truth[cell]} recovered as {known[cell]}"
        for cell in sorted(hidden & known.keys())
        if known[cell] == truth[cell]
    ]
    for parts, total in lines:
        if total not in hidden or total in known or len(parts) < 2:
            continue
        for part in parts:
            one_group = part in hidden and part not in known and truth[part] == truth[total] > 0
            if one_group and equations.value_of({total: Fraction(1), part: Fraction(-1)}) == 0:
                problems.append(f"hidden total {total} shown to be all in hidden cell {part}")
    return problems


@dataclass(frozen=True)
class Relation:
    """Published figure = (numerator / num_scale) / denominator, or the WRES ratio."""

    figure: Fraction
    numerator: Cell
    denominator: Cell
    scale: int = 1

    def apply(self, known: dict[Cell, Fraction], hidden: set[Cell]) -> dict[Cell, Fraction]:
        top, bottom = known.get(self.numerator), known.get(self.denominator)
        if top is None and bottom is not None:
            return {self.numerator: Fraction(round(self.figure * self.scale * bottom))}
        if bottom is None and top is not None and self.figure:
            return {self.denominator: Fraction(round(top / (self.figure * self.scale)))}
        return {}


@dataclass(frozen=True)
class RatioOfRates:
    """(a / n_a) / (b / n_b), published: any three terms give the fourth."""

    figure: Fraction
    a: Cell
    n_a: Cell
    b: Cell
    n_b: Cell

    def apply(self, known: dict[Cell, Fraction], hidden: set[Cell]) -> dict[Cell, Fraction]:
        terms = [known.get(cell) for cell in (self.a, self.n_a, self.b, self.n_b)]
        if terms.count(None) != 1 or not self.figure:
            return {}
        a, n_a, b, n_b = terms
        r = self.figure
        if a is None and n_a and b and n_b:
            return {self.a: Fraction(round(r * n_a * b / n_b))}
        if n_a is None and a and b and n_b:
            return {self.n_a: Fraction(round(a * n_b / (r * b)))}
        if b is None and a and n_a and n_b:
            return {self.b: Fraction(round(a * n_b / (n_a * r)))}
        if n_b is None and a and n_a and b:
            return {self.n_b: Fraction(round(r * n_a * b / a))}
        return {}


def number(text: str) -> Fraction | None:
    return None if text in (SUPPRESSED, "") else Fraction(text)


def read_csv(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    lines = text.splitlines()
    headline = {}
    body = []
    for line in lines:
        if line.startswith("# ") and ": " in line and not line.startswith("# Small"):
            key, _, value = line[2:].partition(": ")
            headline[key] = value
        elif not line.startswith(("#", '"#')):
            body.append(line)
    rows = list(csv.DictReader(io.StringIO("\n".join(body))))
    return headline, rows


def attack_report(report: Report, threshold: int) -> list[str]:
    """Everything the attacker recovers from the FOI export of `report`."""
    headline, published_rows = read_csv(report_csv(report, threshold))
    tabulated = [c for c in report.columns if c.kind in ("count", "mean")]
    index = {c.name: j for j, c in enumerate(tabulated)}
    totals_row = len(report.rows)
    assert len(published_rows) == totals_row + 1

    def true_value(row: dict[str, Any], column: Column) -> int:
        if column.kind == "mean":
            return sum(int(row[p]) for p in column.parts)
        return int(row[column.name])

    truth: dict[Cell, int] = {}
    published: dict[Cell, Fraction | None] = {}
    for i, row in enumerate(published_rows):
        for column in tabulated:
            cell = (i, index[column.name])
            if i < totals_row:
                truth[cell] = true_value(report.rows[i], column)
            else:
                truth[cell] = sum(truth[(r, index[column.name])] for r in range(totals_row))
            shown = number(row[column.name])
            scale = len(column.parts) if column.kind == "mean" else 1
            published[cell] = None if shown is None else shown * scale
            if shown is not None:
                assert published[cell] == truth[cell], (cell, row)
    lines: list[tuple[list[Cell], Cell]] = []
    for column in tabulated:
        j = index[column.name]
        lines.append(([(i, j) for i in range(totals_row)], (totals_row, j)))
        if column.parts:
            for i in range(totals_row + 1):
                lines.append(([(i, index[p]) for p in column.parts], (i, j)))
    relations: list[Relation | RatioOfRates] = []
    for i, row in enumerate(published_rows[:totals_row]):
        for column in report.columns:
            if column.kind != "figure" or column.basis is None or len(column.inputs) != 1:
                continue
            figure = number(row[column.name])
            if figure is None:
                continue
            top = next(c for c in tabulated if c.name == column.inputs[0])
            scale = len(top.parts) if top.kind == "mean" else 1
            relations.append(
                Relation(figure, (i, index[top.name]), (i, index[column.basis]), scale)
            )
    ratio = number(headline.get("relative_likelihood", ""))
    if ratio is not None:
        hc, mean = index["headcount"], index["entrants"]
        relations.append(RatioOfRates(ratio, (0, mean), (0, hc), (1, mean), (1, hc)))
    return leaks(lines, truth, published, relations)


# ---- the attacker is not blind: what it finds in exports that only hide the small counts ---


def test_the_attacker_recovers_what_primary_suppression_alone_leaves() -> None:
    # A column 3*, 12, 7 with its total 22 shown: 22 - 12 - 7 = 3.
    column = [([(0, 0), (1, 0), (2, 0)], (3, 0))]
    truth = {(0, 0): 3, (1, 0): 12, (2, 0): 7, (3, 0): 22}
    shown = {cell: None if cell == (0, 0) else Fraction(v) for cell, v in truth.items()}
    assert leaks(column, truth, shown) == ["hidden cell (0, 0) = 3 recovered as 3"]
    # 3*, 0, 0 with the total hidden too: not recovered, but every one of them is in row 0.
    truth = {(0, 0): 3, (1, 0): 0, (2, 0): 0, (3, 0): 3}
    shown = {cell: None if cell in ((0, 0), (3, 0)) else Fraction(v) for cell, v in truth.items()}
    assert leaks(column, truth, shown) == [
        "hidden total (3, 0) shown to be all in hidden cell (0, 0)"
    ]
    # Two years 2* and 5 with their average 3.5 shown: 2 x 3.5 - 5 = 2 (the leak).
    years = [([(0, 0), (0, 1)], (0, 2))]
    truth = {(0, 0): 2, (0, 1): 5, (0, 2): 7}
    shown = {(0, 0): None, (0, 1): Fraction(5), (0, 2): Fraction(7)}
    assert leaks(years, truth, shown) == ["hidden cell (0, 0) = 2 recovered as 2"]
    # A likelihood of 0.075 shown beside a headcount of 40: 0.075 x 40 = 3 entrants.
    truth = {(0, 0): 3, (0, 1): 40}
    shown = {(0, 0): None, (0, 1): Fraction(40)}
    rate = Relation(Fraction("0.075"), (0, 0), (0, 1))
    assert leaks([], truth, shown, [rate]) == ["hidden cell (0, 0) = 3 recovered as 3"]


# ---- crosstabs: rows x columns with row totals, column totals, or both -------------------

counts = st.integers(min_value=0, max_value=12)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[list[int]], int, bool, bool]:
    height = draw(st.integers(1, 5))
    width = draw(st.integers(1, 5))
    grid = [[draw(counts) for _ in range(width)] for _ in range(height)]
    return grid, draw(st.integers(2, 6)), draw(st.booleans()), draw(st.booleans())


@DETERMINISTIC
@given(tables())
def test_no_hidden_cell_of_a_crosstab_can_be_worked_out(
    case: tuple[list[list[int]], int, bool, bool],
) -> None:
    grid, threshold, row_totals, column_totals = case
    result = suppress(grid, threshold, row_totals=row_totals, column_totals=column_totals)
    shown = result.shown()
    height, width = len(shown), len(shown[0])
    # The layout as a reader sees it: each row ends in its total, the last row is the totals.
    lines: list[tuple[list[Cell], Cell]] = []
    if row_totals:
        lines += [([(i, j) for j in range(width - 1)], (i, width - 1)) for i in range(height)]
    if column_totals:
        lines += [([(i, j) for i in range(height - 1)], (height - 1, j)) for j in range(width)]
    truth = {(i, j): result.values[i][j] for i in range(height) for j in range(width)}
    published = {
        (i, j): None if shown[i][j] == SUPPRESSED else Fraction(shown[i][j])
        for i in range(height)
        for j in range(width)
    }
    for cell, value in published.items():
        # Primary suppression: every count from 1 to threshold - 1 is hidden.
        assert value is None or not 0 < truth[cell] < threshold
    assert leaks(lines, truth, published) == []


# ---- WRES 3 / WDES 3: groups x (headcount, years, their average, likelihood), the ratio -----

YEARS = [(date(2024, 4, 1), date(2025, 4, 1)), (date(2025, 4, 1), date(2026, 4, 1))]


@st.composite
def equality_reports(draw: st.DrawFn) -> tuple[Report, int]:
    window = draw(st.sampled_from(["1y", "2y"]))
    spans = YEARS if window == "2y" else YEARS[1:]
    groups = ["bme", "white", "unknown"]
    headcount = {g: draw(st.integers(0, 40)) for g in groups}
    entrants = [{g: draw(st.integers(0, 9)) for g in groups} for _ in spans]
    report = equality.likelihood_report(equality.WRES3, window, spans, headcount, entrants)
    return report, draw(st.integers(2, 8))


@DETERMINISTIC
@given(equality_reports())
def test_no_hidden_count_of_a_wres_export_can_be_worked_out(case: tuple[Report, int]) -> None:
    report, threshold = case
    assert attack_report(report, threshold) == []


# ---- a list report whose counts add up within a row, with rates of them -------------------


@st.composite
def timeliness_reports(draw: st.DrawFn) -> tuple[Report, int]:
    rows = []
    for name in draw(st.lists(st.sampled_from("ABCDEF"), min_size=1, max_size=5, unique=True)):
        on_time, late = draw(counts), draw(counts)
        with_target = on_time + late
        rows.append(
            {
                "division": name,
                "opened": draw(counts),
                "with_target": with_target,
                "on_time": on_time,
                "on_time_rate": round(on_time / with_target, 3) if with_target else None,
                "late": late,
                "late_days_mean": 2.5 if late else None,
            }
        )
    report = Report(
        "Timeliness",
        [
            Column("division", "dimension"),
            Column("opened", "count"),
            Column("with_target", "count", parts=("on_time", "late")),
            Column("on_time", "count"),
            Column("on_time_rate", "figure", "with_target", inputs=("on_time",)),
            Column("late", "count"),
            Column("late_days_mean", "figure", "late"),
        ],
        rows,
    )
    return report, draw(st.integers(2, 6))


@DETERMINISTIC
@given(timeliness_reports())
def test_no_hidden_count_of_a_list_report_can_be_worked_out(case: tuple[Report, int]) -> None:
    report, threshold = case
    assert attack_report(report, threshold) == []
