"""Equality: WRES indicator 3 and WDES metric 3, with the counts behind each figure.

WRES 3: the relative likelihood of BME staff entering a formal disciplinary investigation
compared with white staff = (BME entrants ÷ BME headcount) ÷ (white entrants ÷ white
headcount). WDES 3: the same for disabled vs non-disabled staff entering the formal
capability process. An entrant is a member of staff whose case entered one of the stages
below in the window (counted once however many cases). Headcount is the staff in post on
the window's last day, the standards' snapshot ("as at 31 March"): a leaver (left_on before
that day) or a starter after it is not counted, though a leaver who entered the process in
the window still counts as an entrant; the directory keeps no other history. Staff whose
ethnicity or disability is not known are counted and shown as "unknown", never dropped,
and are left out of the ratio (it compares two known groups, as the standards do). With a
two-year window the entrants of each year are shown and their yearly average is used.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from policies.calendar import LONDON
from records.models import Case, Staff, StageInterval
from records.reporting.kpis import ReportError, case_of_stay
from records.reporting.sql import at
from records.reporting.table import Column, Report

# (case type, stage key) whose entry is entering the formal process: a disciplinary case's
# investigation stage, or the first stage of a separate investigation case.
FORMAL_DISCIPLINARY = (("disciplinary", "investigation"), ("investigation", "terms_of_reference"))
FORMAL_CAPABILITY = (
    ("capability", "formal_first"),
    ("capability", "formal_second"),
    ("capability", "final_review"),
)
UNKNOWN_VALUES = {"", "unknown", "not stated", "not known", "prefer not to say", "not declared"}


def _text(column: Any) -> ColumnElement[str]:
    return func.coalesce(func.lower(func.trim(column)), "")


def ethnicity_group(column: Any) -> ColumnElement[str]:
    """'white' for the White groups (British, Irish, any other White background), 'unknown' when
    not stated, 'bme' for every other stated group, as WRES defines them."""
    text = _text(column)
    return case((text.in_(UNKNOWN_VALUES), "unknown"), (text.like("white%"), "white"), else_="bme")


def disability_group(column: Any) -> ColumnElement[str]:
    text = _text(column)
    return case(
        (text.in_(("yes", "y", "disabled", "true")), "disabled"),
        (text.in_(("no", "n", "not disabled", "non-disabled", "false")), "non_disabled"),
        else_="unknown",
    )


@dataclass(frozen=True)
class Measure:
    name: str
    stages: tuple[tuple[str, str], ...]
    classify: ColumnElement[str]  # the group of a staff row
    groups: tuple[str, str]  # (the group compared, the reference group)


WRES3 = Measure(
    "WRES indicator 3", FORMAL_DISCIPLINARY, ethnicity_group(Staff.ethnic_group), ("bme", "white")
)
WDES3 = Measure(
    "WDES metric 3",
    FORMAL_CAPABILITY,
    disability_group(Staff.disability),
    ("disabled", "non_disabled"),
)


def snapshot_day(end: datetime) -> date:
    """The window's last day in London (the window ends at the start of the next)."""
    return (end - timedelta(microseconds=1)).astimezone(LONDON).date()


def years(end: datetime, window: str) -> list[tuple[datetime, datetime]]:
    if window not in ("1y", "2y"):
        raise ReportError("window: use 1y (one year) or 2y (two-year rolling average).")
    spans = [(end - timedelta(days=365), end)]
    if window == "2y":
        spans.insert(0, (end - timedelta(days=730), end - timedelta(days=365)))
    return spans


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


async def relative_likelihood(
    session: AsyncSession,
    scope: ColumnElement[bool],
    organisation_ids: ColumnElement[bool],
    measure: Measure,
    end: datetime,
    window: str,
) -> Report:
    """`scope` limits cases; `organisation_ids` is the same limit on the staff directory."""
    spans = years(end, window)
    # Grouped over subqueries' columns: PostgreSQL would not match a GROUP BY expression
    # carrying bound parameters to the same expression in the select list.
    directory = (
        select(
            Staff.organisation_id,
            Staff.employee_id,
            measure.classify.label("grp"),
            in_post_on(snapshot_day(end)).label("in_post"),
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
                StageInterval.started_at >= at(start),
                StageInterval.started_at < at(stop),
                _entered(measure.stages),
            )
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
    order = [*measure.groups, "unknown"]
    rows = []
    for group in order:
        row: dict[str, Any] = {"group": group, "headcount": headcount.get(group, 0)}
        yearly = [counts.get(group, 0) for counts in entrants_by_year]
        for (start, stop), count in zip(spans, yearly, strict=True):
            row[f"entrants_{start.date().isoformat()}_{stop.date().isoformat()}"] = count
        row["entrants"] = sum(yearly) / len(yearly)
        row["likelihood"] = (
            round(row["entrants"] / row["headcount"], 4) if row["headcount"] else None
        )
        rows.append(row)
    # From the counts, not the rounded likelihoods: (2/3) / (1/6) is 4, not 3.9994.
    (a, n_a), (b, n_b) = ((row["entrants"], row["headcount"]) for row in rows[:2])
    ratio = round((a / n_a) / (b / n_b), 2) if n_a and n_b and b else None
    year_columns = [Column(name, "count") for name in rows[0] if name.startswith("entrants_")]
    return Report(
        f"{measure.name}: relative likelihood of {measure.groups[0]} staff entering the formal "
        f"process compared with {measure.groups[1]} staff",
        [
            Column("group", "dimension"),
            Column("headcount", "count"),
            *year_columns,
            Column("entrants", "figure", "headcount"),
            Column("likelihood", "figure", "headcount"),
        ],
        rows,
        [
            "Entered: " + ", ".join(f"{t} {k}" for t, k in measure.stages) + ".",
            "Headcount: today's staff directory. "
            "Unknown: not stated in the directory, or not in it.",
            "Window: "
            + "; ".join(f"{a.date().isoformat()} to {b.date().isoformat()}" for a, b in spans)
            + ("" if window == "1y" else " (yearly average)."),
        ],
        {"relative_likelihood": ratio, "measure": measure.name, "window": window},
    )
