"""SQL pieces the reports share, written once for SQLite and PostgreSQL.

Percentiles are PostgreSQL's `percentile_cont` (linear interpolation between the two nearest
ranks); SQLite has no such aggregate, so there the same figure comes from window functions
(each value's rank and its group's size) and the interpolation is finished in Python.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, Select, cast, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from records.models import UTCDateTime

Key = tuple[Any, ...]


def is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def days_between(session: AsyncSession, end: Any, start: Any) -> ColumnElement[float]:
    """Days (fractional) from `start` to `end`; either may be a column or a datetime."""
    return elapsed_days(is_sqlite(session), end, start)


def elapsed_days(sqlite: bool, end: Any, start: Any) -> ColumnElement[float]:
    """`days_between` for a condition written before its session exists (the dialect known
    from the database's engine)."""
    if sqlite:
        return cast(func.julianday(end) - func.julianday(start), Float)
    return cast(func.extract("epoch", end - start) / 86400.0, Float)


def month_of(session: AsyncSession, moment: Any) -> ColumnElement[str]:
    """'2026-03' for an instant, by the UTC calendar (the same on both databases)."""
    if is_sqlite(session):
        return func.strftime("%Y-%m", moment)
    return func.to_char(func.timezone("UTC", moment), "YYYY-MM")


# Sort memory for one report's transaction on PostgreSQL. Exact percentiles sort every value
# of the window (national figures: hundreds of thousands); the server's default (4 MB) sends
# such sorts to disk, several times slower.
REPORT_WORK_MEM = "64MB"


async def prepare(session: AsyncSession) -> None:
    """Set up a report's transaction (it lasts until the session's transaction ends)."""
    if not is_sqlite(session):
        await session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))


def at(moment: datetime) -> ColumnElement[Any]:
    """A datetime as a bound SQL value of the same type as the stored instants."""
    return literal(moment, UTCDateTime())


def inline_percentiles(
    session: AsyncSession, value: ColumnElement[float], fractions: Sequence[float]
) -> list[ColumnElement[float]]:
    """On PostgreSQL, the `fractions`-th percentiles of `value` as aggregates to add to a
    grouped query, so that its other figures and these come from one pass over the rows (a
    national window holds hundreds of thousands). SQLite has no such aggregate: [] there, and
    the caller asks `percentiles` instead."""
    if is_sqlite(session):
        return []
    return [func.percentile_cont(p).within_group(value) for p in fractions]


async def percentiles(
    session: AsyncSession,
    source: Select[Any],
    groups: Sequence[str],
    value: str,
    fractions: Sequence[float],
) -> dict[Key, list[float]]:
    """For each group of `source` (its columns named in `groups`), the `fractions`-th
    percentiles of its column `value`, interpolated linearly between ranks.

    `source` must select the group columns and the value column under those labels.
    """
    rows_in = source.subquery("values_in")
    group_columns = [rows_in.c[name] for name in groups]
    figure = rows_in.c[value]
    if not is_sqlite(session):
        query = select(
            *group_columns,
            *[
                func.percentile_cont(p).within_group(figure).label(f"p{i}")
                for i, p in enumerate(fractions)
            ],
        ).group_by(*group_columns)
        # Without groups an aggregate over no rows still gives one row, of NULLs: no figures.
        return {
            tuple(row[: len(groups)]): [float(v) for v in row[len(groups) :]]
            for row in await session.execute(query)
            if row[-1] is not None
        }
    partition = group_columns or None
    ranked = select(
        *group_columns,
        figure.label("v"),
        (func.row_number().over(partition_by=partition, order_by=figure) - 1).label("i"),
        func.count().over(partition_by=partition).label("n"),
    ).subquery("ranked")
    ranked_groups = [ranked.c[name] for name in groups]
    picks: list[ColumnElement[Any]] = []
    for p in fractions:
        position = literal(p, Float) * (ranked.c.n - 1)
        low = cast(position, Integer)  # positions are never negative: truncation is floor
        picks += [
            func.max(func.iif(ranked.c.i == low, ranked.c.v, None)),
            func.max(func.iif(ranked.c.i == low + 1, ranked.c.v, None)),
            func.max(position - low),
        ]
    found: dict[Key, list[float]] = {}
    for row in await session.execute(select(*ranked_groups, *picks).group_by(*ranked_groups)):
        values = row[len(groups) :]
        if values[0] is None:  # no values at all (an ungrouped aggregate over no rows)
            continue
        figures = []
        for index in range(len(fractions)):
            low_value, high_value, fraction = values[3 * index : 3 * index + 3]
            high_value = low_value if high_value is None else high_value
            figures.append(low_value + fraction * (high_value - low_value))
        found[tuple(row[: len(groups)])] = figures
    return found
