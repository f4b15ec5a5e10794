"""Reading cases already under way from a trust's spreadsheet (CSV) or a JSON list.

Every row is checked before anything is written; a bad row is reported by its line (CSV)
or item (JSON) number with the reason, and then nothing of the file is imported.
"""

import csv
import io
import json
from datetime import date, datetime, time
from typing import Any

from policies.calendar import LONDON
from services.case_opening import OpenCase
from services.errors import Invalid
from services.rows import ParsedRows, read_rows

COLUMNS = (
    "case_type",
    "employee_id",
    "summary",
    "risk",
    "advisor",
    "opened_at",
    "stage",
    "stage_started_at",
)
REQUIRED = ("case_type", "employee_id", "summary", "opened_at")
MAX_ROWS = 5000


def _moment(value: str, column: str) -> datetime:
    """An ISO date-time with its offset, or a date (taken as the start of that day in London)."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=LONDON)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{column} '{value}' is not a date such as 2026-03-14") from None
    if moment.tzinfo is None:
        raise Invalid(f"{column} '{value}' needs a time zone offset, e.g. 2026-03-14T09:00+00:00")
    return moment


def _row_to_case(row: dict[str, Any]) -> OpenCase:
    unknown = sorted(set(row) - set(COLUMNS))
    if unknown:
        raise Invalid(f"unknown column(s): {', '.join(unknown)}")
    values = {key: str(value).strip() if value is not None else "" for key, value in row.items()}
    missing = [column for column in REQUIRED if not values.get(column)]
    if missing:
        raise Invalid(f"missing {', '.join(missing)}")
    return OpenCase(
        case_type=values["case_type"],
        employee_id=values["employee_id"],
        summary=values["summary"],
        risk=values.get("risk") or "routine",
        advisor=values.get("advisor") or None,
        opened_at=_moment(values["opened_at"], "opened_at"),
        stage=values.get("stage") or None,
        stage_started_at=_moment(values["stage_started_at"], "stage_started_at")
        if values.get("stage_started_at")
        else None,
    )


ParsedImport = ParsedRows[OpenCase]
# The cells of a file's rows, each labelled by its line ("line 3"), before they are read.
Cells = list[tuple[str, dict[str, Any]]]
OVERFLOW = "(more values than columns)"


def parse_cells(rows: Cells) -> ParsedImport:
    """Read labelled rows (a file's lines, or the page's edited cells) into cases."""
    return read_rows(rows, _row_to_case, max_rows=MAX_ROWS, noun="cases")


def csv_cells(text: str) -> Cells:
    """A spreadsheet's rows by their line numbers; blank lines are left out."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a BOM
    if not reader.fieldnames or not set(REQUIRED) <= set(reader.fieldnames):
        raise Invalid(f"The first line must name the columns, at least: {', '.join(REQUIRED)}.")
    rows: Cells = []
    for row in reader:
        if None in row:
            # Kept with the row's other values, so the page can show them to be fixed.
            extra = row.pop(None)
            rows.append((f"line {reader.line_num}", {**row, OVERFLOW: extra}))
        elif any(value and value.strip() for value in row.values()):
            rows.append((f"line {reader.line_num}", dict(row)))
    return rows


def parse_csv(text: str) -> ParsedImport:
    return parse_cells(csv_cells(text))


def template_csv() -> str:
    """The columns a spreadsheet of cases needs, and one example row to replace."""
    example = (
        "disciplinary,E10012,Missed handovers in May,routine,alice,2026-05-04,investigation,"
        "2026-05-11T09:30:00+01:00"
    )
    return ",".join(COLUMNS) + "\r\n" + example + "\r\n"


def parse_json(text: str) -> ParsedImport:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise Invalid("The body is not valid JSON.") from None
    if not isinstance(data, list):
        raise Invalid("Send a JSON list of cases.")
    rows: Cells = []
    for number, item in enumerate(data, start=1):
        rows.append((f"item {number}", item if isinstance(item, dict) else {"not an object": item}))
    return parse_cells(rows)
