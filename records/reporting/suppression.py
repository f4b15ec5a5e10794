"""Small-number suppression for FOI tables: pure, no database, no I/O.

Primary: a count from 1 to threshold - 1 is hidden (zero is shown: it names nobody).
Secondary: a row or column whose total is published must never have exactly one hidden
cell, or subtracting the cells shown from the total gives it back. While some such line
has exactly one, one more cell of that line is hidden: the smallest non-zero count among
its ordinary cells, else its total, else a zero cell — repeated until no line has exactly
one. Totals are cells of their lines too (the column of row totals ends in the grand total).
"""

from dataclasses import dataclass

SUPPRESSED = "*"


@dataclass(frozen=True)
class Grid:
    """A table of counts and which of its cells are hidden.

    `values` includes the totals: with row totals each row ends in its total; with column
    totals the last row is the totals row (and the grand total, when both are kept).
    """

    values: list[list[int]]
    hidden: list[list[bool]]
    row_totals: bool
    column_totals: bool

    def shown(self) -> list[list[str]]:
        return [
            [SUPPRESSED if hide else str(value) for value, hide in zip(row, flags, strict=True)]
            for row, flags in zip(self.values, self.hidden, strict=True)
        ]


def rule(threshold: int) -> str:
    """The rule, in words, for the header of an exported file."""
    return (
        f"Counts from 1 to {threshold - 1} are shown as {SUPPRESSED}; zeros are shown. "
        f"Where a row or column total would reveal a hidden count, the next smallest non-zero "
        f"count of that row or column (or else its total) is hidden too. Figures (medians, "
        f"rates) resting on fewer than {threshold} cases, or on a hidden count, are hidden."
    )


def with_totals(counts: list[list[int]], row_totals: bool, column_totals: bool) -> list[list[int]]:
    """The counts with their totals appended, in the layout `Grid` expects."""
    values = [list(row) + ([sum(row)] if row_totals else []) for row in counts]
    if column_totals:
        width = len(values[0]) if values else 0
        values.append([sum(row[j] for row in values) for j in range(width)])
    return values


def suppress(
    counts: list[list[int]], threshold: int, *, row_totals: bool, column_totals: bool
) -> Grid:
    """Apply primary and secondary suppression to `counts` (totals are computed here)."""
    values = with_totals(counts, row_totals, column_totals)
    hidden = [[0 < value < threshold for value in row] for row in values]
    lines = _lines(len(values), len(values[0]) if values else 0, row_totals, column_totals)
    changed = True
    while changed:
        changed = False
        for line, total in lines:
            if sum(hidden[i][j] for i, j in line) != 1:
                continue
            i, j = _partner(values, hidden, line, total)
            hidden[i][j] = True
            changed = True
    return Grid(values, hidden, row_totals, column_totals)


Cell = tuple[int, int]


def _lines(
    height: int, width: int, row_totals: bool, column_totals: bool
) -> list[tuple[list[Cell], Cell]]:
    """Every line whose total is published: its cells (total last) and the total's position."""
    lines: list[tuple[list[Cell], Cell]] = []
    if row_totals:
        lines += [([(i, j) for j in range(width)], (i, width - 1)) for i in range(height)]
    if column_totals:
        lines += [([(i, j) for i in range(height)], (height - 1, j)) for j in range(width)]
    return lines


def _partner(
    values: list[list[int]], hidden: list[list[bool]], line: list[Cell], total: Cell
) -> Cell:
    shown = [cell for cell in line if not hidden[cell[0]][cell[1]]]
    ordinary = [cell for cell in shown if cell != total]
    non_zero = [cell for cell in ordinary if values[cell[0]][cell[1]] > 0]
    if non_zero:
        return min(non_zero, key=lambda cell: (values[cell[0]][cell[1]], cell))
    if total in shown:
        return total
    return min(shown, key=lambda cell: (values[cell[0]][cell[1]], cell))
