"""What every report returns, and how it is written out: JSON, CSV, or CSV for an FOI answer."""

import io
from dataclasses import dataclass, field
from typing import Any

from records.reporting.suppression import (
    SUPPRESSED,
    Line,
    protect,
    rule,
    suppress,
    table_lines,
    with_totals,
)
from records.spreadsheet_csv import SpreadsheetWriter


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "dimension" | "count" | "mean" | "figure"
    # For a figure (a median, a rate): the count it rests on, hidden with it in an FOI export
    # and when it is below the threshold.
    basis: str | None = None
    # For a figure: every other count or mean it is computed from (a rate's numerator). With
    # one of them hidden the figure would give it back, so it is hidden too.
    inputs: tuple[str, ...] = ()
    # For a count: the counts of the same row it is the sum of (with_target = on_time +
    # late). For a mean: the counts it averages (a two-year window's years). An FOI export
    # treats either as a published total of its parts.
    parts: tuple[str, ...] = ()


@dataclass
class Report:
    name: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    # Headline figures beside the table (e.g. the WRES ratio), printed in a CSV's header.
    headline: dict[str, Any] = field(default_factory=dict)
    # For a headline figure: the (row, column) cells it is computed from, so an FOI export
    # hides it when one of them is hidden; [] for a label. A figure not named here is hidden
    # whenever any cell is.
    headline_inputs: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "columns": [
                {"name": column.name, "kind": column.kind, "basis": column.basis}
                for column in self.columns
            ],
            "rows": self.rows,
            "notes": self.notes,
            **self.headline,
        }


@dataclass
class CrossTab:
    """Counts of one measure by two dimensions, with row and column totals."""

    name: str
    row_dimension: str
    column_dimension: str
    row_labels: list[str]
    column_labels: list[str]
    counts: list[list[int]]
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "rows": self.row_dimension,
            "columns": self.column_dimension,
            "row_labels": self.row_labels,
            "column_labels": self.column_labels,
            "counts": self.counts,
            "row_totals": [sum(row) for row in self.counts],
            "column_totals": [
                sum(row[j] for row in self.counts) for j in range(len(self.column_labels))
            ],
            "total": sum(map(sum, self.counts)),
            "notes": self.notes,
        }


def _header(writer: SpreadsheetWriter, name: str, notes: list[str], threshold: int | None) -> None:
    writer.writerow([f"# {name}"])
    for note in notes:
        writer.writerow([f"# {note}"])
    if threshold is not None:
        writer.writerow([f"# Small-number suppression (threshold {threshold}): {rule(threshold)}"])


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # As the report rounded it (a likelihood to 4 significant figures, 0.0065), never
        # cut to fewer places here.
        return f"{value:.12g}"
    return str(value)


TABULATED = ("count", "mean")


def _grid_of(report: Report) -> tuple[list[list[int]], list[Line], list[str]]:
    """The report's counts and means as one grid with its totals row, and the lines that add
    up in it: every column down to its total, and every row's parts to the count or mean
    they make (a mean as the sum of its parts: publishing the average publishes the sum)."""
    tabulated = [column for column in report.columns if column.kind in TABULATED]
    names = [column.name for column in tabulated]
    where = {name: j for j, name in enumerate(names)}

    def cell(row: dict[str, Any], column: Column) -> int:
        if column.kind == "mean":
            return sum(int(row.get(part) or 0) for part in column.parts)
        return int(row.get(column.name) or 0)

    values = with_totals(
        [[cell(row, column) for column in tabulated] for row in report.rows], False, True
    )
    height = len(values)
    lines = table_lines(height, len(names), row_totals=False, column_totals=True)
    for column in tabulated:
        if column.parts:
            j = where[column.name]
            lines += [
                Line(tuple((i, where[part]) for part in column.parts), (i, j))
                for i in range(height)
            ]
    return values, lines, names


def _suppressed(report: Report, threshold: int) -> tuple[list[list[str]], dict[str, Any]]:
    """The rows (with a totals row) and headline of an FOI export of a report with rows."""
    values, lines, names = _grid_of(report)
    grid = protect(values, lines, threshold, prefer_totals=True)
    where = {name: j for j, name in enumerate(names)}
    totals = {name: value for name, value in zip(names, values[-1], strict=True)}

    def hidden(index: int, name: str) -> bool:
        return name in where and grid.is_hidden((index, where[name]))

    rows: list[list[str]] = []
    for index, row in enumerate([*report.rows, None]):
        shown: list[str] = []
        for position, column in enumerate(report.columns):
            if column.kind in TABULATED and hidden(index, column.name):
                shown.append(SUPPRESSED)
            elif row is None:  # the totals row
                shown.append(_total_text(column, totals, position))
            elif column.kind == "figure":
                rests_on = [name for name in (column.basis, *column.inputs) if name]
                small = column.basis is not None and (row.get(column.basis) or 0) < threshold
                if small or any(hidden(index, name) for name in rests_on):
                    shown.append(SUPPRESSED if row.get(column.name) is not None else "")
                else:
                    shown.append(_text(row.get(column.name)))
            else:
                shown.append(_text(row.get(column.name)))
        rows.append(shown)
    anything_hidden = any(flag for line in grid.hidden for flag in line)
    headline: dict[str, Any] = {}
    for key, value in report.headline.items():
        inputs = report.headline_inputs.get(key)
        exposed = anything_hidden if inputs is None else any(hidden(i, n) for i, n in inputs)
        headline[key] = SUPPRESSED if exposed else value
    return rows, headline


def _total_text(column: Column, totals: dict[str, int], position: int) -> str:
    if column.kind == "count":
        return str(totals[column.name])
    if column.kind == "mean":
        return _text(totals[column.name] / len(column.parts))
    return "Total" if position == 0 else ""


def report_csv(report: Report, threshold: int | None = None) -> str:
    """The report as CSV; with a threshold, suppressed for publication (see suppression)."""
    out = io.StringIO()
    writer = SpreadsheetWriter(out)
    names = [column.name for column in report.columns]
    rows: list[list[str]] = [[_text(row.get(name)) for name in names] for row in report.rows]
    headline = dict(report.headline)
    if threshold is not None and rows:
        rows, headline = _suppressed(report, threshold)
    if threshold is not None and not rows:
        rows.append(
            [
                "Total"
                if p == 0 and c.kind not in TABULATED
                else ("0" if c.kind in TABULATED else "")
                for p, c in enumerate(report.columns)
            ]
        )
    _header(writer, report.name, report.notes, threshold)
    for key, value in headline.items():
        writer.writerow([f"# {key}: {_text(value)}"])
    writer.writerow(names)
    writer.writerows(rows)
    return out.getvalue()


def crosstab_csv(table: CrossTab, threshold: int | None = None) -> str:
    out = io.StringIO()
    writer = SpreadsheetWriter(out)
    _header(writer, table.name, table.notes, threshold)
    if threshold is None:
        values = with_totals(table.counts, row_totals=True, column_totals=True)
        shown = [[str(value) for value in row] for row in values]
    else:
        shown = suppress(table.counts, threshold, row_totals=True, column_totals=True).shown()
    writer.writerow(
        [f"{table.row_dimension} \\ {table.column_dimension}", *table.column_labels, "Total"]
    )
    for label, row in zip([*table.row_labels, "Total"], shown, strict=True):
        writer.writerow([label, *row])
    return out.getvalue()
