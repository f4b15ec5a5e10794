"""Small-number suppression for FOI tables: pure, no database, no I/O.

A table is a grid of counts and the lines whose totals it publishes: a `Line` says that its
parts add up to its total, both cells of the grid (a row and its row total, a column and the
totals row, the years of a two-year window and their sum). Anyone holding the published
cells can solve those equations, so hiding a small count is not enough on its own.

Primary: a count from 1 to threshold - 1 is hidden (zero is shown: it names nobody).
Secondary, in two steps:
1. While some line has exactly one hidden cell, one more cell of that line is hidden: the
   smallest non-zero count among its parts, else its total, else a zero part (or the total
   first, with `prefer_totals`: a list whose totals row is no line of its own loses one
   figure instead of a group's count).
2. Then the equations of every line are solved over the hidden cells (exact fractions): a
   hidden cell the published cells determine, or a line whose hidden total is determined to
   equal one hidden part (the zeros shown beside it would say that every person of the line
   is in that group), gets one more cell of one of its lines hidden; repeated until none is.
Step 2 is what makes the result safe; step 1 only makes the usual cases cheap and their
partners predictable.
"""

from dataclasses import dataclass
from fractions import Fraction

SUPPRESSED = "*"

Cell = tuple[int, int]


@dataclass(frozen=True)
class Line:
    """Published cells that add up: the values at `parts` sum to the value at `total`."""

    parts: tuple[Cell, ...]
    total: Cell

    @property
    def cells(self) -> tuple[Cell, ...]:
        return (*self.parts, self.total)


@dataclass(frozen=True)
class Grid:
    """A table of counts and which of its cells are hidden.

    `values` includes the totals: with row totals each row ends in its total; with column
    totals the last row is the totals row (and the grand total, when both are kept).
    """

    values: list[list[int]]
    hidden: list[list[bool]]

    def shown(self) -> list[list[str]]:
        return [
            [SUPPRESSED if hide else str(value) for value, hide in zip(row, flags, strict=True)]
            for row, flags in zip(self.values, self.hidden, strict=True)
        ]

    def is_hidden(self, cell: Cell) -> bool:
        return self.hidden[cell[0]][cell[1]]


def rule(threshold: int) -> str:
    """The rule, in words, for the header of an exported file."""
    return (
        f"Counts from 1 to {threshold - 1} are shown as {SUPPRESSED}; zeros are shown. "
        f"Where the totals, the other years or the zeros beside it would reveal a hidden "
        f"count, more counts or totals are hidden too, until none can be worked out. "
        f"Averages, rates and ratios computed from a hidden count are hidden, and so are "
        f"figures (medians, rates) resting on fewer than {threshold} cases."
    )


def with_totals(counts: list[list[int]], row_totals: bool, column_totals: bool) -> list[list[int]]:
    """The counts with their totals appended, in the layout `Grid` expects."""
    values = [list(row) + ([sum(row)] if row_totals else []) for row in counts]
    if column_totals:
        width = len(values[0]) if values else 0
        values.append([sum(row[j] for row in values) for j in range(width)])
    return values


def table_lines(height: int, width: int, row_totals: bool, column_totals: bool) -> list[Line]:
    """The lines of a `with_totals` layout of `height` x `width` cells (totals included):
    rows first, then columns."""
    lines: list[Line] = []
    if row_totals:
        lines += [
            Line(tuple((i, j) for j in range(width - 1)), (i, width - 1)) for i in range(height)
        ]
    if column_totals:
        lines += [
            Line(tuple((i, j) for i in range(height - 1)), (height - 1, j)) for j in range(width)
        ]
    return lines


def suppress(
    counts: list[list[int]], threshold: int, *, row_totals: bool, column_totals: bool
) -> Grid:
    """Apply primary and secondary suppression to `counts` (totals are computed here)."""
    values = with_totals(counts, row_totals, column_totals)
    width = len(values[0]) if values else 0
    return protect(values, table_lines(len(values), width, row_totals, column_totals), threshold)


def protect(
    values: list[list[int]], lines: list[Line], threshold: int, *, prefer_totals: bool = False
) -> Grid:
    """Primary and secondary suppression of a grid whose `lines` add up (see the module)."""
    hidden = [[0 < value < threshold for value in row] for row in values]
    grid = Grid(values, hidden)
    while True:
        _close_lines(grid, lines, prefer_totals)
        exposed = _first_exposure(grid, lines)
        if exposed is None:  # nothing can be worked out, or nothing is left to hide
            return grid
        i, j = exposed
        hidden[i][j] = True


def _close_lines(grid: Grid, lines: list[Line], prefer_totals: bool) -> None:
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(grid.is_hidden(cell) for cell in line.cells) != 1:
                continue
            i, j = _partner(grid, line, prefer_totals)
            grid.hidden[i][j] = True
            changed = True


def _partner(grid: Grid, line: Line, prefer_totals: bool) -> Cell:
    """The cell of `line` to hide next (the line has a cell shown)."""
    value = grid.values
    parts = [cell for cell in line.parts if not grid.is_hidden(cell)]
    non_zero = sorted((value[i][j], (i, j)) for i, j in parts if value[i][j] > 0)
    total = [] if grid.is_hidden(line.total) else [line.total]
    zeros = sorted((i, j) for i, j in parts if value[i][j] == 0)
    ordinary = [cell for _, cell in non_zero]
    order = total + ordinary + zeros if prefer_totals else ordinary + total + zeros
    return order[0]


class _Span:
    """The row space of the lines' equations over the hidden cells, kept fully reduced: each
    pivot cell appears in its own row only, so one pass reduces any vector."""

    def __init__(self) -> None:
        self.rows: dict[Cell, dict[Cell, Fraction]] = {}

    def reduce(self, vector: dict[Cell, Fraction]) -> dict[Cell, Fraction]:
        reduced = dict(vector)
        for pivot in [cell for cell in vector if cell in self.rows]:
            factor = reduced.pop(pivot, Fraction(0))
            if not factor:
                continue
            for cell, coefficient in self.rows[pivot].items():
                if cell == pivot:
                    continue
                updated = reduced.get(cell, Fraction(0)) - factor * coefficient
                if updated:
                    reduced[cell] = updated
                else:
                    reduced.pop(cell, None)
        return reduced

    def add(self, vector: dict[Cell, Fraction]) -> None:
        reduced = self.reduce(vector)
        if not reduced:
            return
        pivot = min(reduced)
        scale = reduced[pivot]
        row = {cell: coefficient / scale for cell, coefficient in reduced.items()}
        for other in self.rows.values():
            factor = other.get(pivot)
            if not factor:
                continue
            for cell, coefficient in row.items():
                updated = other.get(cell, Fraction(0)) - factor * coefficient
                if updated:
                    other[cell] = updated
                else:
                    other.pop(cell, None)
        self.rows[pivot] = row

    def determines(self, vector: dict[Cell, Fraction]) -> bool:
        return not self.reduce(vector)


def _first_exposure(grid: Grid, lines: list[Line]) -> Cell | None:
    """A shown cell to hide because some hidden cell can be worked out, or None if none can."""
    span = _Span()
    for line in lines:
        equation: dict[Cell, Fraction] = {}
        for cell, sign in [*((part, 1) for part in line.parts), (line.total, -1)]:
            if grid.is_hidden(cell):
                equation[cell] = equation.get(cell, Fraction(0)) + sign
        span.add({cell: c for cell, c in equation.items() if c})
    for line in lines:
        for cell in line.cells:
            if grid.is_hidden(cell) and span.determines({cell: Fraction(1)}):
                return _breaker(grid, lines, cell)
        total = line.total
        # One part and its total are the same number twice: there is no group to reveal.
        if len(line.parts) < 2 or not grid.is_hidden(total):
            continue
        for part in line.parts:
            if (
                grid.is_hidden(part)
                and grid.values[part[0]][part[1]] == grid.values[total[0]][total[1]] > 0
                and span.determines({total: Fraction(1), part: Fraction(-1)})
            ):
                return _shown_part(grid, line) or _breaker(grid, lines, part)
    return None


def _shown_part(grid: Grid, line: Line) -> Cell | None:
    parts = [cell for cell in line.parts if not grid.is_hidden(cell)]
    value = grid.values
    return min(
        parts,
        key=lambda cell: (value[cell[0]][cell[1]] == 0, value[cell[0]][cell[1]], cell),
        default=None,
    )


def _breaker(grid: Grid, lines: list[Line], cell: Cell) -> Cell | None:
    """A shown cell of a line through `cell`, else the smallest shown cell of the grid, else
    None (everything is hidden already)."""
    for line in lines:
        if cell in line.cells and any(not grid.is_hidden(other) for other in line.cells):
            return _partner(grid, line, prefer_totals=False)
    shown = [
        (value, (i, j))
        for i, row in enumerate(grid.values)
        for j, value in enumerate(row)
        if not grid.hidden[i][j]
    ]
    smallest = min(shown, key=lambda found: (found[0] == 0, found), default=None)
    return None if smallest is None else smallest[1]
