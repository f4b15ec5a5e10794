"""What every report returns, and how it is written out: JSON, CSV, or CSV for an FOI answer."""

import io
from dataclasses import dataclass, field
from typing import Any

from records.reporting.suppression import SUPPRESSED, rule, suppress, with_totals
from records.spreadsheet_csv import SpreadsheetWriter


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "dimension" | "count" | "figure"
    # For a figure (a median, a rate): the count it rests on, hidden with it in an FOI export.
    basis: str | None = None


@dataclass
class Report:
    name: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    # Headline figures beside the table (e.g. the WRES ratio), printed in a CSV's header.
    headline: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "columns": [vars(column) for column in self.columns],
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
        return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))
    return str(value)


def report_csv(report: Report, threshold: int | None = None) -> str:
    """The report as CSV; with a threshold, suppressed for publication (see suppression)."""
    out = io.StringIO()
    writer = SpreadsheetWriter(out)
    counts = [column.name for column in report.columns if column.kind == "count"]
    names = [column.name for column in report.columns]
    rows: list[list[str]] = [[_text(row.get(name)) for name in names] for row in report.rows]
    headline = dict(report.headline)
    if threshold is not None and rows:
        grid = suppress(
            [[int(row.get(name) or 0) for name in counts] for row in report.rows],
            threshold,
            row_totals=False,
            column_totals=True,
        )
        shown = grid.shown()
        for index, row in enumerate(rows):
            cells = dict(zip(counts, shown[index], strict=True))
            for position, column in enumerate(report.columns):
                if column.kind == "count":
                    row[position] = cells[column.name]
                elif column.kind == "figure" and column.basis is not None:
                    basis = report.rows[index].get(column.basis) or 0
                    if cells[column.basis] == SUPPRESSED or basis < threshold:
                        row[position] = SUPPRESSED if row[position] else ""
        totals = dict(zip(counts, shown[-1], strict=True))
        rows.append(
            [
                totals.get(column.name, "Total" if position == 0 else "")
                for position, column in enumerate(report.columns)
            ]
        )
        if any(flag for line in grid.hidden for flag in line):
            # A headline figure is computed from the counts: with one hidden it could give it back.
            headline = {key: SUPPRESSED for key in headline}
    if threshold is not None and not rows:
        rows.append(
            [
                "Total" if p == 0 and c.kind != "count" else ("0" if c.kind == "count" else "")
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
