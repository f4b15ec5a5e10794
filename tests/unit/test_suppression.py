"""Small-number suppression, worked by hand (pure: no database)."""

from records.reporting.suppression import suppress
from records.reporting.table import Column, Report, report_csv


def test_primary_and_secondary_suppression_with_row_and_column_totals() -> None:
    #            c0   c1   c2 | total
    #   r0       12    3    8 |   23
    #   r1        7    9   10 |   26
    #   r2        0    6   15 |   21
    #   total    19   18   33 |   70
    # Threshold 5: primary hides r0c1 = 3 (the zero stays: it names nobody).
    # Lines are visited rows first (r0, r1, r2, totals row), then columns (c0, c1, c2, totals).
    # Pass 1: r0 hides 1 -> its smallest other non-zero, r0c2 = 8; c1 (3*, 9, 6) -> r2c1 = 6;
    #         c2 (8*, 10, 15) -> r1c2 = 10.
    # Pass 2: r1 (7, 9, 10*) -> r1c0 = 7; r2 (0, 6*, 15) -> r2c2 = 15 (the 0 is passed over);
    #         c0 (12, 7*, 0) -> r0c0 = 12.
    # Pass 3: r0 3 hidden, r1 2, r2 2, c0 2, c1 2, c2 3, totals none: stable.
    grid = suppress([[12, 3, 8], [7, 9, 10], [0, 6, 15]], 5, row_totals=True, column_totals=True)
    assert grid.shown() == [
        ["*", "*", "*", "23"],
        ["*", "9", "*", "26"],
        ["0", "*", "*", "21"],
        ["19", "18", "33", "70"],
    ]


def test_a_small_total_is_hidden_and_protected_too() -> None:
    #          c0  c1 | total
    #   r0      2  10 |  12
    #   r1      8  20 |  28
    #   total  10  30 |  40
    # Threshold 5: r0c0 = 2. r0 -> r0c1 = 10; c0 (2*, 8) -> r1c0 = 8; then r1 (8*, 20) -> 20.
    grid = suppress([[2, 10], [8, 20]], 5, row_totals=True, column_totals=True)
    assert grid.shown() == [["*", "*", "12"], ["*", "*", "28"], ["10", "30", "40"]]
    # With a threshold of 11 the totals 10 (c0) is hidden as well, by the primary rule:
    #   primary: 2, 10 (r0c1), 8, 10 (c0 total); r1 then has only 8 hidden -> 20 goes;
    #   c1 (10*, 20*, 30) fine; totals row (10*, 30, 40) has one -> 30 goes; c2 (12, 28, 40):
    #   none hidden. Totals column untouched, every line 0 or 2+.
    grid = suppress([[2, 10], [8, 20]], 11, row_totals=True, column_totals=True)
    assert grid.shown() == [["*", "*", "12"], ["*", "*", "28"], ["*", "*", "40"]]


def test_a_list_report_hides_small_counts_their_figures_and_the_headline() -> None:
    # Column totals only (the measures of a row do not add up). Threshold 5:
    #   opened: North 12, South 3*, East 7 | total 22 -> one hidden: East 7 goes too
    #   the medians of South and East rest on hidden counts: hidden
    report = Report(
        "Demo",
        [
            Column("trust", "dimension"),
            Column("opened", "count"),
            Column("median", "figure", "opened"),
        ],
        [
            {"trust": "North", "opened": 12, "median": 10.5},
            {"trust": "South", "opened": 3, "median": 4.0},
            {"trust": "East", "opened": 7, "median": 8.25},
        ],
        ["A note"],
        {"ratio": 1.5},
    )
    lines = report_csv(report, 5).strip().splitlines()
    assert lines[0] == "# Demo"
    assert lines[1] == "# A note"
    assert lines[2].startswith('"# Small-number suppression (threshold 5): Counts from 1 to 4')
    assert lines[3:] == [
        "# ratio: *",
        "trust,opened,median",
        "North,12,10.5",
        "South,*,*",
        "East,*,*",
        "Total,22,",
    ]
    assert report_csv(report).strip().splitlines()[2:] == [
        "# ratio: 1.5",
        "trust,opened,median",
        "North,12,10.5",
        "South,3,4",
        "East,7,8.25",
    ]
