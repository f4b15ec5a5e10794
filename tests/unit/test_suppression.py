"""Small-number suppression and the WRES / WDES figures, worked by hand (pure: no database)."""

from datetime import UTC, date, datetime

from records.reporting import equality
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
    #   opened: North 12, South 3*, East 7 | total 22 -> one hidden. A list's totals row is
    #   no line of its own, so the total goes rather than a division's count: South = 22 - 19
    #   is no longer known (one equation, South - total = -19, two unknowns).
    #   South's median rests on a hidden count: hidden; East's rests on 7 >= 5: shown.
    #   The ratio names no cells it rests on: hidden, as something is.
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
        "East,7,8.25",
        "Total,*,",
    ]
    assert report_csv(report).strip().splitlines()[2:] == [
        "# ratio: 1.5",
        "trust,opened,median",
        "North,12,10.5",
        "South,3,4",
        "East,7,8.25",
    ]


def test_a_zero_beside_a_hidden_count_does_not_say_everyone_is_in_one_group() -> None:
    # Column totals only, threshold 5:    bme 3, white 0, unknown 0 | total 3
    # Primary hides bme 3 and the total 3. Two hidden cells, but bme - total = 0 + 0: the
    # zeros shown say that every one of the 3 is BME. One of the zeros is hidden as well:
    # bme + white = total now has a free unknown, and nothing says who is in which group.
    grid = suppress([[3], [0], [0]], 5, row_totals=False, column_totals=True)
    assert grid.shown() == [["*"], ["*"], ["0"], ["*"]]


WRES_YEARS = [(date(2023, 4, 1), date(2024, 4, 1)), (date(2024, 4, 1), date(2025, 4, 1))]


def test_a_two_year_average_does_not_give_back_a_hidden_year() -> None:
    #            headcount  2023/24  2024/25 | sum (average)
    #   bme            400       30       3* |  33 (16.5)
    #   white         1200       40       45 |  85 (42.5)
    #   unknown        100        6        8 |  14 (7)
    #   total         1700       76       56 | 132 (66)
    # Threshold 5: primary hides bme 2024/25 = 3. Before, the average 16.5 was shown and
    # 2 x 16.5 - 30 gave the 3 back. The average is the published sum of the years, so:
    #   2024/25 column: one hidden -> its total 56 (a list's totals before a group's count);
    #   bme's years: one hidden -> their sum 33, so bme's average and likelihood go;
    #   the totals row's years (76, 56*) -> the grand sum 132 (and its average).
    # Left: b + 53 = T2, S + 99 = T, 30 + b = S, 76 + T2 = T; four unknowns, three independent
    # equations: every one is b + a constant, so none is known.
    # The ratio is computed from bme's average: hidden. The others' likelihoods: white
    # 42.5 / 1200 = 0.035417 -> 0.03542 (4 significant figures), unknown 7 / 100 = 0.07.
    report = equality.likelihood_report(
        equality.WRES3,
        "2y",
        WRES_YEARS,
        {"bme": 400, "white": 1200, "unknown": 100},
        [{"bme": 30, "white": 40, "unknown": 6}, {"bme": 3, "white": 45, "unknown": 8}],
    )
    lines = report_csv(report, 5).strip().splitlines()
    assert lines[-8:] == [
        "# relative_likelihood: *",
        "# measure: WRES indicator 3",
        "# window: 2y",
        "group,headcount,entrants_2023-04-01_2024-04-01,entrants_2024-04-01_2025-04-01,"
        "entrants,likelihood",
        "bme,400,30,*,*,*",
        "white,1200,40,45,42.5,0.03542",
        "unknown,100,6,8,7,0.07",
        "Total,1700,76,*,*,",
    ]


def test_a_hidden_unknown_count_leaves_the_ratio_published() -> None:
    # One year, threshold 5:  headcount  entrants (its average is itself)
    #   bme                        400   30
    #   white                     1200   40
    #   unknown                    100    2*
    #   total                     1700   72
    # Primary hides unknown's 2 (the year and its average). Each column then has one hidden
    # cell: its total goes, not a group's count (u + 70 = T: u is not known). The ratio rests
    # on bme and white only: (30 / 400) / (40 / 1200) = 0.075 / 0.03333 = 2.25, published.
    report = equality.likelihood_report(
        equality.WRES3,
        "1y",
        WRES_YEARS[1:],
        {"bme": 400, "white": 1200, "unknown": 100},
        [{"bme": 30, "white": 40, "unknown": 2}],
    )
    lines = report_csv(report, 5).strip().splitlines()
    assert lines[-8:] == [
        "# relative_likelihood: 2.25",
        "# measure: WRES indicator 3",
        "# window: 1y",
        "group,headcount,entrants_2024-04-01_2025-04-01,entrants,likelihood",
        "bme,400,30,30,0.075",
        "white,1200,40,40,0.03333",
        "unknown,100,*,*,*",
        "Total,1700,*,*,",
    ]


def test_likelihoods_keep_four_significant_figures() -> None:
    # 13 entrants of 2,000 staff: 13 / 2000 = 0.0065, which two places printed as 0.01.
    # Ratio (13 / 2000) / (12 / 3000) = 0.0065 / 0.004 = 1.625.
    report = equality.likelihood_report(
        equality.WRES3,
        "1y",
        WRES_YEARS[1:],
        {"bme": 2000, "white": 3000, "unknown": 0},
        [{"bme": 13, "white": 12}],
    )
    assert [row["likelihood"] for row in report.rows] == [0.0065, 0.004, None]
    assert report.headline["relative_likelihood"] == 1.625
    assert "bme,2000,13,13,0.0065" in report_csv(report).splitlines()


def test_reporting_years_are_whole_london_years_including_leap_days() -> None:
    # A year ends the day before `to` and starts the day after the same date a year earlier:
    # to 1 April 2024 -> 1 April 2023 to 31 March 2024, 366 days with 29 February 2024
    # (365 days back from 1 April 2024 would start on 2 April 2023 and lose 1 April 2023).
    assert equality.years(date(2024, 4, 1), "1y") == [(date(2023, 4, 1), date(2024, 4, 1))]
    assert equality.years(date(2024, 4, 1), "2y") == [
        (date(2022, 4, 1), date(2023, 4, 1)),
        (date(2023, 4, 1), date(2024, 4, 1)),
    ]
    # Last day 29 February 2028: a year earlier has no 29 February, so the year starts on
    # 1 March 2027 (28 February 2027 + 1 day).
    assert equality.years(date(2028, 3, 1), "1y") == [(date(2027, 3, 1), date(2028, 3, 1))]
    # The days begin at London midnight: 1 April 2023 00:00 BST is 31 March 23:00 UTC.
    assert equality.midnight(date(2023, 4, 1)).astimezone(UTC) == datetime(
        2023, 3, 31, 23, 0, tzinfo=UTC
    )


def test_esr_coded_ethnicity_and_disability_fall_in_the_standards_groups() -> None:
    # WRES technical guidance: White = ESR categories A, B, C (White British, White Irish,
    # any other White background); BME = every other stated category; not stated or null =
    # unknown. Before, grouping by text starting "white" put the codes under BME.
    white = ["A White - British", "B White - Irish", "CA White English", "White - British"]
    bme = ["D Mixed - White and Black Caribbean", "Mixed - White and Asian", "LH Asian British"]
    unknown = ["Z Not Stated", "Not stated", "", None]
    assert [equality.ethnicity_group(v) for v in white] == ["white"] * 4
    assert [equality.ethnicity_group(v) for v in bme] == ["bme"] * 3
    assert [equality.ethnicity_group(v) for v in unknown] == ["unknown"] * 4
    assert [
        equality.disability_group(v) for v in ("Y Yes", "Yes", "N No", "No", "Z Not Stated")
    ] == [
        "disabled",
        "disabled",
        "non_disabled",
        "non_disabled",
        "unknown",
    ]
