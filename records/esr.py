"""Reading an ESR staff-in-post extract: its columns through a mapping, and ESR's coded values.

ESR (the NHS Electronic Staff Record) exports CSV whose column names differ between trusts,
so each directory field is read from the column a mapping names (esr_mapping.yaml ships the
default; an organisation may keep its own). Ethnic origin and disability come in ESR's coded
form ("A White - British", "Z Not Stated"); they are stored as the NHS Data Dictionary
category, the words the equality reports (records/reporting/equality.py) group by.

Every line is read before anything is written, so a person sees every bad line at once.
Nothing here touches the database.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

DEFAULT_MAPPING = Path(__file__).parent / "esr_mapping.yaml"

Kind = Literal["text", "email", "date", "ethnic", "disability"]


@dataclass(frozen=True)
class Field:
    label: str  # in words, for error messages and the mapping page
    kind: Kind = "text"
    max_length: int = 200


# The directory's fields an extract can fill, in the order the mapping page lists them.
FIELDS: dict[str, Field] = {
    "employee_id": Field("Employee number", max_length=40),
    "assignment_number": Field("Assignment number", max_length=30),
    "name": Field("Full name"),
    "email": Field("Work email", "email", 320),
    "division": Field("Division (organisation level)", max_length=120),
    "department": Field("Department (organisation level)", max_length=120),
    "cost_centre": Field("Cost centre", max_length=60),
    "position": Field("Position"),
    "band": Field("Pay band", max_length=20),
    "line_manager_id": Field("Line manager's employee number", max_length=40),
    "ethnic_group": Field("Ethnic origin (ESR code)", "ethnic"),
    "disability": Field("Disability (ESR code)", "disability"),
    "start_date": Field("Start date", "date"),
    "left_on": Field("Leaving date", "date"),
}
REQUIRED = "employee_id"
MAX_HEADER = 100

# NHS Data Dictionary ethnic category (2001 census), as ESR codes it. ESR's two-character
# codes ("CA White English", "LH Asian British") refine a category: their first letter is it.
ETHNIC_CATEGORIES = {
    "A": "White - British",
    "B": "White - Irish",
    "C": "White - Any other White background",
    "D": "Mixed - White and Black Caribbean",
    "E": "Mixed - White and Black African",
    "F": "Mixed - White and Asian",
    "G": "Mixed - Any other mixed background",
    "H": "Asian or Asian British - Indian",
    "J": "Asian or Asian British - Pakistani",
    "K": "Asian or Asian British - Bangladeshi",
    "L": "Asian or Asian British - Any other Asian background",
    "M": "Black or Black British - Caribbean",
    "N": "Black or Black British - African",
    "P": "Black or Black British - Any other Black background",
    "R": "Chinese",
    "S": "Any other ethnic group",
    "Z": "Not stated",
}
NOT_STATED = "Not stated"
# ESR's disability answers, coded ("Y Yes") or in words; the reports count Yes / No / unknown.
DISABILITY_CODES = {"Y": "Yes", "N": "No", "Z": NOT_STATED, "U": NOT_STATED, "P": NOT_STATED}
DISABILITY_WORDS = {
    "yes": "Yes",
    "no": "No",
    "not stated": NOT_STATED,
    "not declared": NOT_STATED,
    "unspecified": NOT_STATED,
    "not known": NOT_STATED,
    "prefer not to answer": NOT_STATED,
    "prefer not to say": NOT_STATED,
}
CODED = re.compile(r"^([A-Z][A-Z0-9]?)(?:\s+(.*))?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}

Value = str | date | None


class ExtractError(ValueError):
    """The extract or the mapping cannot be read at all (not one bad line): one sentence."""


def ethnic_origin(text: str) -> str:
    """'A White - British' → 'White - British'; 'CA White English' → its category, C's."""
    coded = CODED.match(text)
    category = ETHNIC_CATEGORIES.get(coded.group(1)[0]) if coded else None
    if category is None:
        raise ValueError(
            f"ethnic origin '{text}' is not an ESR code such as 'A White - British' "
            "or 'Z Not Stated'"
        )
    return category


def disability(text: str) -> str:
    coded = CODED.match(text)
    if coded and len(coded.group(1)) == 1 and coded.group(1) in DISABILITY_CODES:
        return DISABILITY_CODES[coded.group(1)]
    words = DISABILITY_WORDS.get(" ".join(text.lower().split()))
    if words is None:
        raise ValueError(
            f"disability '{text}' is not one of ESR's answers: Y Yes, N No, Z Not Stated "
            "(or Yes, No, Not Declared, Unspecified, Prefer Not To Answer)"
        )
    return words


def esr_date(text: str) -> date:
    """2026-04-01, 01/04/2026 (day first, as in the UK) or 01-APR-2026; a time after it is
    ignored (ESR writes '01/04/2026 00:00:00' in some reports)."""
    day_part = text.split()[0]
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day_part):
            return date.fromisoformat(day_part)
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", day_part):
            return datetime.strptime(day_part, "%d/%m/%Y").date()
        named = re.fullmatch(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})", day_part)
        if named and named.group(2).lower() in MONTHS:
            return date(int(named.group(3)), MONTHS[named.group(2).lower()], int(named.group(1)))
    except ValueError:
        pass
    raise ValueError(f"'{text}' is not a date such as 01/04/2026, 01-APR-2026 or 2026-04-01")


def _value(name: str, text: str) -> Value:
    spec = FIELDS[name]
    if not text:
        return None
    if spec.kind == "date":
        return esr_date(text)
    if spec.kind == "ethnic":
        return ethnic_origin(text)
    if spec.kind == "disability":
        return disability(text)
    if len(text) > spec.max_length:
        raise ValueError(f"{spec.label.lower()} is longer than {spec.max_length} characters")
    if spec.kind == "email" and not EMAIL.match(text):
        raise ValueError(f"work email '{text}' is not an email address")
    return text


@cache
def _shipped() -> tuple[tuple[str, str], ...]:
    loaded = yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    return tuple(checked_mapping(loaded).items())


def default_mapping() -> dict[str, str]:
    """The shipped mapping (a fresh dict each time: callers may change theirs)."""
    return dict(_shipped())


def checked_mapping(raw: object) -> dict[str, str]:
    """A mapping {field: column name} as sent by an admin, or ExtractError naming what is wrong."""
    if not isinstance(raw, dict):
        raise ExtractError("The mapping must be an object of field: column name.")
    unknown = sorted(str(name) for name in raw if name not in FIELDS)
    if unknown:
        raise ExtractError(
            f"Unknown field(s) in the mapping: {', '.join(unknown)}; "
            f"the fields are {', '.join(FIELDS)}."
        )
    mapping: dict[str, str] = {}
    for name in FIELDS:
        column = raw.get(name)
        if column is None:
            continue
        if not isinstance(column, str) or not column.strip():
            raise ExtractError(f"The column name for {name} must be some text.")
        if len(column.strip()) > MAX_HEADER:
            raise ExtractError(f"The column name for {name} is longer than {MAX_HEADER}.")
        mapping[name] = column.strip()
    if REQUIRED not in mapping:
        raise ExtractError("The mapping must name the column of the employee number.")
    return mapping


def _header_key(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass
class EsrRow:
    """One line of the extract: its number in the file, and the mapped fields' values."""

    line: int
    values: dict[str, Value]

    @property
    def employee_id(self) -> str:
        value = self.values[REQUIRED]
        assert isinstance(value, str)
        return value


@dataclass
class Extract:
    rows: list[EsrRow] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def _positions(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    mapped = {_header_key(column) for column in mapping.values()}
    where: dict[str, int] = {}
    for position, name in enumerate(header):
        key = _header_key(name)
        if key in where and key in mapped:
            raise ExtractError(f"The column '{name.strip()}' appears twice in the first line.")
        where.setdefault(key, position)
    missing = [
        f"'{column}' ({name})"
        for name, column in mapping.items()
        if _header_key(column) not in where
    ]
    if missing:
        raise ExtractError(
            f"The first line has no column {', '.join(missing)}: change the mapping "
            "(GET/PUT /api/staff/import/mapping) or the file."
        )
    return {name: where[_header_key(column)] for name, column in mapping.items()}


def _read_line(line: int, cells: list[str], positions: dict[str, int]) -> EsrRow:
    values: dict[str, Value] = {}
    reasons: list[str] = []
    for name, position in positions.items():
        text = cells[position].strip() if position < len(cells) else ""
        try:
            values[name] = _value(name, text)
        except ValueError as error:
            reasons.append(str(error))
    if REQUIRED in values and values[REQUIRED] is None:
        reasons.insert(0, "the employee number is empty")
    start, left = values.get("start_date"), values.get("left_on")
    if isinstance(start, date) and isinstance(left, date) and left < start:
        reasons.append(f"the leaving date {left} is before the start date {start}")
    if values.get("line_manager_id") and values.get("line_manager_id") == values.get(REQUIRED):
        reasons.append("the line manager is the employee themselves")
    if reasons:
        raise ValueError("; ".join(reasons))
    return EsrRow(line, values)


def read_extract(text: str, mapping: dict[str, str], max_rows: int) -> Extract:
    """Every line of the extract read through the mapping; a problem per bad line."""
    # strict: a quote left open runs to the end of the file, which must be refused, not read.
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)  # Excel writes a BOM
    try:
        header = next(reader, None)
        if not header:
            raise ExtractError("The file is empty: its first line must name the columns.")
        positions = _positions(header, mapping)
        extract = Extract()
        first_line: dict[str, int] = {}
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(extract.rows) + len(extract.problems) >= max_rows:
                raise ExtractError(f"Send at most {max_rows} staff at a time.")
            if len(cells) > len(header):
                extract.problems.append((line, "more values than the first line has columns"))
                continue
            try:
                row = _read_line(line, cells, positions)
            except ValueError as error:
                extract.problems.append((line, str(error)))
                continue
            earlier = first_line.setdefault(row.employee_id, line)
            if earlier != line:
                extract.problems.append(
                    (
                        line,
                        f"employee number {row.employee_id} is also on line {earlier}: "
                        "send one row per person (their primary assignment)",
                    )
                )
                continue
            extract.rows.append(row)
    except csv.Error as error:
        raise ExtractError(f"Line {reader.line_num} is not valid CSV: {error}.") from None
    if not extract.rows and not extract.problems:
        raise ExtractError("There are no staff in the file, only its first line.")
    return extract
