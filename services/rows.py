"""Reading a batch of labelled rows (a CSV file's lines, a JSON list's items) all at once.

Every row is read before anything is written, so a person sees every problem in one answer.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from services.errors import Invalid

Row = TypeVar("Row")


@dataclass
class ParsedRows(Generic[Row]):
    """The rows that could be read, and a problem for each that could not."""

    rows: list[tuple[str, Row]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)


def read_rows(
    rows: list[tuple[str, dict[str, Any]]],
    read_row: Callable[[dict[str, Any]], Row],
    *,
    max_rows: int,
    noun: str,
) -> ParsedRows[Row]:
    """Read each (label, values) with `read_row`; its Invalid becomes that row's problem."""
    if not rows:
        raise Invalid(f"There are no {noun} in what was sent.")
    if len(rows) > max_rows:
        raise Invalid(f"Send at most {max_rows} {noun} at a time.")
    parsed: ParsedRows[Row] = ParsedRows()
    for label, values in rows:
        try:
            parsed.rows.append((label, read_row(values)))
        except Invalid as invalid:
            parsed.problems.append({"row": label, "message": invalid.detail})
    return parsed
