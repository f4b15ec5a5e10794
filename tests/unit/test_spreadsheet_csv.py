"""Exports are written so a spreadsheet reads every cell as data (OWASP "CSV injection").

The rule (OWASP, "CSV Injection"): a cell that begins with =, +, -, @, a tab or a carriage
return is a formula to Excel and LibreOffice; prefixing it with an apostrophe makes it text.
"""

import csv
import io

from records.reporting.table import Column, CrossTab, Report, crosstab_csv, report_csv
from records.spreadsheet_csv import SpreadsheetWriter, neutralised

ATTACKS = [
    '=HYPERLINK("http://evil.example","Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_every_formula_start_is_quoted_and_plain_values_are_not() -> None:
    for attack in ATTACKS:
        assert neutralised(attack) == "'" + attack
    for plain in ("Medicine", "-3", "-1.5", "12", "", "Dr Smith = lead", 7, None, 2.5):
        assert neutralised(plain) == plain


def test_the_writer_quotes_cells_and_keeps_the_rest_of_the_row() -> None:
    out = io.StringIO()
    SpreadsheetWriter(out).writerows([["=1+1", "ok", -4], ["@x", "-4"]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'=1+1", "ok", "-4"], ["'@x", "-4"]]


def test_a_report_and_a_crosstab_written_for_publication_neutralise_typed_labels() -> None:
    report = Report(
        name="Root causes",
        columns=[Column("root_cause", "dimension"), Column("cases", "count")],
        rows=[{"root_cause": ATTACKS[0], "cases": 7}],
    )
    for threshold in (None, 5):
        lines = list(csv.reader(io.StringIO(report_csv(report, threshold))))
        assert ["'" + ATTACKS[0], "7"] in lines
    table = CrossTab(
        name="Cases by division",
        row_dimension="division",
        column_dimension="case type",
        row_labels=["=cmd|' /C calc'!A0"],
        column_labels=["disciplinary"],
        counts=[[9]],
    )
    lines = list(csv.reader(io.StringIO(crosstab_csv(table, 5))))
    assert ["'=cmd|' /C calc'!A0", "9", "9"] in lines
