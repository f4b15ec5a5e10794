"""Equality: WRES indicator 3 and WDES metric 3, with the counts behind each figure.

As NHS England's technical guidance defines them (NHS England, "NHS Workforce Race Equality
Standard (WRES): technical guidance", indicator 3; "NHS Workforce Disability Equality
Standard (WDES): technical guidance", metric 3):

- WRES 3: the relative likelihood of BME staff entering the formal disciplinary process,
  "as measured by entry into a formal disciplinary investigation", compared with white
  staff = (BME entrants / BME headcount) / (white entrants / white headcount). Only conduct
  cases count: entry into a disciplinary case's investigation stage. An investigation case
  of its own is not counted: it may be a grievance's or a bullying complaint's (its
  employee is then the one who complained), and an investigation opened from a disciplinary
  is already counted by that disciplinary's own investigation stage.
- WDES 3: the same for disabled against non-disabled staff "entering the formal capability
  process", on the grounds of performance (not ill health): entry into formal stage 1 of
  the capability (performance) procedure. Ill health is the sickness absence procedure, a
  case type of its own, so it is never counted here.
- Both: "based on data from a two-year rolling average of the current year and the previous
  year": the default window is two reporting years, each year's entrants are shown and
  their average is the figure. A person is counted once a year however many cases or stages
  they entered. A reporting year is whole London calendar days: the year up to 31 March 2024
  starts on 1 April 2023 (366 days, a leap year).
- Headcount: the staff in post on the reporting date (the window's last day, "as at 31
  March"), from ESR: a leaver whose leaving date is that day or later was in post and is
  counted; one who left before it is not, though they still count as an entrant if they
  entered in the window (a dismissed leaver keeps their directory row and their group).
- Groups from ESR's coded values (records/esr.py): White = ethnic categories A, B and C
  (White British, White Irish, any other White background; ESR's two-character codes such
  as "CA White English" refine C); BME = every other stated category (D to S); unknown = Z
  Not Stated, an empty value, or none. Disability: Y Yes, N No, anything else unknown.
  Unknown is counted and shown, never dropped, and left out of the ratio (the standards
  compare the two known groups).
- Likelihoods and the ratio to 4 significant figures (0.0065 is not 0.01).
"""

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from policies.calendar import LONDON
from records import esr
from records.models import Case, Staff, StageInterval
from records.reporting.kpis import ReportError, case_of_stay
from records.reporting.sql import at
from records.reporting.table import Column, Report

# (case type, stage key) whose entry is entering the formal process (see the module).
FORMAL_DISCIPLINARY = (("disciplinary", "investigation"),)
FORMAL_CAPABILITY = (("capability", "formal_first"),)
UNKNOWN_VALUES = {
    "",
    "unknown",
    "not stated",
    "not known",
    "not specified",
    "unspecified",
    "prefer not to say",
    "prefer not to answer",
    "not declared",
}
SIGNIFICANT = 4
DEFAULT_WINDOW = "2y"


def ethnicity_group(value: str | None) -> str:
    """'white', 'bme' or 'unknown' for a directory value: ESR's coded form ("A White -
    British", "Z Not Stated") or the category it is stored as ("White - British")."""
    text = " ".join((value or "").split())
    # Not a code: already a category in words (as the ESR import stores it), or free text.
    with suppress(ValueError):
        text = esr.ethnic_origin(text)
    words = text.casefold()
    if words in UNKNOWN_VALUES:
        return "unknown"
    return "white" if words.startswith("white") else "bme"


def disability_group(value: str | None) -> str:
    text = " ".join((value or "").split())
    with suppress(ValueError):
        text = esr.disability(text)
    words = text.casefold()
    if words in ("yes", "y", "disabled", "true"):
        return "disabled"
    if words in ("no", "n", "not disabled", "non-disabled", "false"):
        return "non_disabled"
    return "unknown"


@dataclass(frozen=True)
class Measure:
    name: str
    stages: tuple[tuple[str, str], ...]
    field: InstrumentedAttribute[str | None]  # the directory's column the group comes from
    classify: Callable[[str | None], str]  # a value of that column -> its group
    groups: tuple[str, str]  # (the group compared, the reference group)


WRES3 = Measure(
    "WRES indicator 3", FORMAL_DISCIPLINARY, Staff.ethnic_group, ethnicity_group, ("bme", "white")
)
WDES3 = Measure(
    "WDES metric 3",
    FORMAL_CAPABILITY,
    Staff.disability,
    disability_group,
    ("disabled", "non_disabled"),
)


def years(to: date, window: str) -> list[tuple[date, date]]:
    """The reporting years [first day, day after the last) ending the day before `to`,
    earliest first. A year runs from the day after the same date a year before its last
    day: up to 31 March 2024 it starts on 1 April 2023 (366 days); up to 29 February 2028
    (2027 has no 29 February) on 1 March 2027."""
    if window not in ("1y", "2y"):
        raise ReportError("window: use 1y (one year) or 2y (two-year rolling average).")
    spans: list[tuple[date, date]] = []
    stop = to
    for _ in range(1 if window == "1y" else 2):
        last = stop - timedelta(days=1)
        start = _year_before(last) + timedelta(days=1)
        spans.insert(0, (start, stop))
        stop = start
    return spans


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def midnight(day: date) -> datetime:
    """The instant a London day begins (stays are stored as instants)."""
    return datetime.combine(day, time(), LONDON)


def in_post_on(day: date) -> ColumnElement[bool]:
    """Directory rows of people employed on `day`; ESR's leaving date is the last day of
    employment, so someone leaving on `day` is still in post. An unknown start counts as in
    post."""
    return and_(
        or_(Staff.start_date.is_(None), Staff.start_date <= day),
        or_(Staff.left_on.is_(None), Staff.left_on >= day),
    )


def _entered(stages: tuple[tuple[str, str], ...]) -> ColumnElement[bool]:
    return or_(
        *(and_(Case.case_type == case_type, StageInterval.key == key) for case_type, key in stages)
    )


def significant(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT}g}")


async def _grouping(
    session: AsyncSession, organisation_ids: ColumnElement[bool], measure: Measure
) -> ColumnElement[str]:
    """The group of a directory row as SQL: each distinct stored value classified here, by
    the same rule as ESR's codes, so the database needs no pattern matching."""
    values = await session.scalars(select(measure.field).where(organisation_ids).distinct())
    groups = {value: measure.classify(value) for value in values if value is not None}
    if not groups:
        return literal("unknown")
    return case(groups, value=measure.field, else_="unknown")


async def relative_likelihood(
    session: AsyncSession,
    scope: ColumnElement[bool],
    organisation_ids: ColumnElement[bool],
    measure: Measure,
    to: date,
    window: str,
) -> Report:
    """`scope` limits cases; `organisation_ids` is the same limit on the staff directory.
    `to` is the day after the reporting date (the window is [.., to))."""
    spans = years(to, window)
    # Grouped over subqueries' columns: PostgreSQL would not match a GROUP BY expression
    # carrying bound parameters to the same expression in the select list.
    directory = (
        select(
            Staff.organisation_id,
            Staff.employee_id,
            (await _grouping(session, organisation_ids, measure)).label("grp"),
            in_post_on(to - timedelta(days=1)).label("in_post"),
        )
        .where(organisation_ids)
        .subquery("directory")
    )
    headcount: dict[str, int] = {
        group: count
        for group, count in await session.execute(
            select(directory.c.grp, func.count())
            .where(directory.c.in_post)
            .group_by(directory.c.grp)
        )
    }
    entrants_by_year: list[dict[str, int]] = []
    for start, stop in spans:
        people = (
            select(Case.organisation_id, Case.employee_id)
            .join(StageInterval, case_of_stay())
            .where(
                scope,
                StageInterval.kind == "stage",
                # Implied by _entered, but named alone it lets the index find the stays.
                StageInterval.key.in_(sorted({key for _, key in measure.stages})),
                StageInterval.started_at >= at(midnight(start)),
                StageInterval.started_at < at(midnight(stop)),
                _entered(measure.stages),
            )
            # Once a year each, however many cases or entries.
            .group_by(Case.organisation_id, Case.employee_id)
            .subquery("people")
        )
        # Someone with a case but no directory entry is of unknown group.
        grouped = (
            select(func.coalesce(directory.c.grp, "unknown").label("grp"))
            .select_from(people)
            .outerjoin(
                directory,
                and_(
                    directory.c.organisation_id == people.c.organisation_id,
                    directory.c.employee_id == people.c.employee_id,
                ),
            )
            .subquery("grouped")
        )
        entrants_by_year.append(
            {
                group: count
                for group, count in await session.execute(
                    select(grouped.c.grp, func.count()).group_by(grouped.c.grp)
                )
            }
        )
    return likelihood_report(measure, window, spans, headcount, entrants_by_year)


def likelihood_report(
    measure: Measure,
    window: str,
    spans: list[tuple[date, date]],
    headcount: dict[str, int],
    entrants_by_year: list[dict[str, int]],
) -> Report:
    """The report from its counts: the headcount of each group on the reporting date (the
    last span's last day) and each year's entrants by group."""
    snapshot = spans[-1][1] - timedelta(days=1)
    year_names = [f"entrants_{start.isoformat()}_{stop.isoformat()}" for start, stop in spans]
    rows = []
    for group in [*measure.groups, "unknown"]:
        row: dict[str, Any] = {"group": group, "headcount": headcount.get(group, 0)}
        yearly = [counts.get(group, 0) for counts in entrants_by_year]
        row.update(zip(year_names, yearly, strict=True))
        row["entrants"] = sum(yearly) / len(yearly)
        row["likelihood"] = (
            significant(row["entrants"] / row["headcount"]) if row["headcount"] else None
        )
        rows.append(row)
    # From the counts, not the rounded likelihoods: (2/3) / (1/6) is 4, not 3.9994.
    (a, n_a), (b, n_b) = ((row["entrants"], row["headcount"]) for row in rows[:2])
    ratio = significant((a / n_a) / (b / n_b)) if n_a and n_b and b else None
    return Report(
        f"{measure.name}: relative likelihood of {measure.groups[0]} staff entering the formal "
        f"process compared with {measure.groups[1]} staff",
        [
            Column("group", "dimension"),
            Column("headcount", "count"),
            *(Column(name, "count") for name in year_names),
            Column("entrants", "mean", parts=tuple(year_names)),
            Column("likelihood", "figure", "headcount", inputs=("entrants",)),
        ],
        rows,
        [
            "Entered: " + ", ".join(f"{t} {k}" for t, k in measure.stages) + " (each person "
            "once a year).",
            f"Headcount: staff in post on {snapshot.isoformat()} (leavers on or after that "
            "day included). Unknown: not stated in the directory, or not in it.",
            "Window: "
            + "; ".join(
                f"{a.isoformat()} to {(b - timedelta(days=1)).isoformat()}" for a, b in spans
            )
            + (" (one year)." if window == "1y" else " (two-year rolling average)."),
        ],
        {"relative_likelihood": ratio, "measure": measure.name, "window": window},
        {
            "relative_likelihood": [
                (0, "headcount"),
                (1, "headcount"),
                (0, "entrants"),
                (1, "entrants"),
            ],
            "measure": [],
            "window": [],
        },
    )
