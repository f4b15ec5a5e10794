"""CSV that a spreadsheet opens as data: every export ercase writes goes through this writer.

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel and
LibreOffice as a formula (OWASP "CSV injection"), so a summary typed as
`=HYPERLINK("http://evil.example", "Click")` would run in an FOI officer's spreadsheet. Such a
cell is written with a leading apostrophe, which the spreadsheet shows as text. Plain numbers
(a negative change, "-3") are left as they are.
"""

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def neutralised(cell: Any) -> Any:
    """The cell as a spreadsheet should show it: text that could start a formula is quoted."""
    if not isinstance(cell, str) or PLAIN_NUMBER.fullmatch(cell):
        return cell
    if cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


class SpreadsheetWriter:
    """csv.writer's writerow/writerows, with every cell neutralised."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralised(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
