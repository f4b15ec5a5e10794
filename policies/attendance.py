"""Attendance triggers: given sickness episodes and a day, which triggers fire, with the numbers.

Pure functions of their arguments (no clock, no I/O), so the attendance workflow can call
them and tests can check them against dates worked out by hand. The rules:

- Episodes that overlap or adjoin (one ends the day before the next starts) are one spell:
  an e-roster that sends the same absence twice, or a fit note that extends one, does not
  make two absences. An episode with no last day is still open.
- Working days lost leave out weekends and England & Wales bank holidays; an open spell
  counts up to and including the day evaluated.
- A rolling period `within` of N days ends with the day evaluated: P365D on 2030-06-30
  covers 2029-07-01 to 2030-06-30. A spell counts in it if any of its days do; only the days
  inside the period count as lost.
- The Bradford factor is spells squared times working days lost, over its own period.
- Counting starts again after a short-term trigger fires: spells that began on or before
  that day do not count towards the next one (which moves the open case on a stage).
- Long-term sickness: a spell still open on its `from_day`th calendar day (its first day is
  day 1) fires once for that spell.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from policies.calendar import DEFAULT_REGION, count_working_days
from policies.durations import as_timedelta
from policies.schema import CountTrigger, Triggers, duration

SCAN_DAYS = 400
KIND_ORDER = ("episodes", "days_lost", "bradford", "long_term")
"""Severity by kind of trigger: only for a monitor that has not yet been told the policy's
stage order (fed before it was sent); `lead_firing` otherwise goes by stage."""
"""How far ahead `next_firing_day` looks: past a year, every rolling period has turned over."""


@dataclass(frozen=True)
class Episode:
    first_day: date
    last_day: date | None = None  # None: still off


@dataclass(frozen=True)
class Spell:
    first_day: date
    last_day: date | None

    def open_on(self, day: date) -> bool:
        return self.first_day <= day and (self.last_day is None or self.last_day >= day)


@dataclass(frozen=True)
class Figures:
    """The numbers over one rolling period ending on `day`."""

    period_start: date
    day: date
    spells: int
    working_days_lost: int

    @property
    def bradford(self) -> int:
        return self.spells * self.spells * self.working_days_lost


@dataclass(frozen=True)
class Firing:
    """A trigger that fired on `day`, with the figures that made it fire."""

    trigger: str  # episodes | days_lost | bradford | long_term
    day: date
    opens_at: str
    threshold: int
    period_start: date
    spells: int
    working_days_lost: int
    bradford: int
    # Long-term only: the spell's first day and how many calendar days it has lasted.
    spell_started: date | None = None
    days_off: int | None = None


def spells(episodes: Iterable[Episode]) -> list[Spell]:
    """Episodes merged into spells (overlapping or adjoining ones become one), oldest first."""
    merged: list[Spell] = []
    for episode in sorted(episodes, key=lambda each: each.first_day):
        if merged:
            previous = merged[-1]
            if previous.last_day is None or episode.first_day <= previous.last_day + timedelta(
                days=1
            ):
                last = (
                    None
                    if previous.last_day is None or episode.last_day is None
                    else max(previous.last_day, episode.last_day)
                )
                merged[-1] = Spell(previous.first_day, last)
                continue
        merged.append(Spell(episode.first_day, episode.last_day))
    return merged


def period_days(within: str | dict[str, Any]) -> int:
    """A rolling period's length in days (working days count as calendar days here)."""
    return as_timedelta(duration(within)).days


def figures(
    all_spells: list[Spell],
    day: date,
    within_days: int,
    counted_after: date | None = None,
    region: str = DEFAULT_REGION,
) -> Figures:
    """Spells and working days lost in the `within_days` days ending on `day`, working days in
    the organisation's bank-holiday region.

    `counted_after`: only spells that began after this day count (the last trigger's day).
    """
    start = day - timedelta(days=within_days - 1)
    counted = [
        spell
        for spell in all_spells
        if spell.first_day <= day
        and (spell.last_day is None or spell.last_day >= start)
        and (counted_after is None or spell.first_day > counted_after)
    ]
    lost = sum(
        count_working_days(
            max(spell.first_day, start),
            day if spell.last_day is None else min(spell.last_day, day),
            region,
        )
        for spell in counted
    )
    return Figures(start, day, len(counted), lost)


def _count_firing(
    name: str,
    trigger: CountTrigger,
    all_spells: list[Spell],
    day: date,
    after: date | None,
    region: str,
) -> Firing | None:
    numbers = figures(all_spells, day, period_days(trigger.within), after, region)
    value = numbers.spells if name == "episodes" else numbers.working_days_lost
    if value < trigger.count:
        return None
    return Firing(
        name,
        day,
        trigger.opens_at,
        trigger.count,
        numbers.period_start,
        numbers.spells,
        numbers.working_days_lost,
        numbers.bradford,
    )


def fired(
    triggers: Triggers,
    episodes: Iterable[Episode],
    day: date,
    counted_after: date | None = None,
    long_term_done: frozenset[date] = frozenset(),
    region: str = DEFAULT_REGION,
) -> list[Firing]:
    """Every trigger that fires on `day`.

    `counted_after` is the day the last short-term trigger fired (None: none yet);
    `long_term_done` the first days of spells whose long-term trigger has already fired.
    """
    all_spells = spells(episodes)
    firings: list[Firing] = []
    for name, count_trigger in (("episodes", triggers.episodes), ("days_lost", triggers.days_lost)):
        if count_trigger is not None:
            firing = _count_firing(name, count_trigger, all_spells, day, counted_after, region)
            if firing is not None:
                firings.append(firing)
    if triggers.bradford is not None:
        within = period_days(triggers.bradford.within)
        numbers = figures(all_spells, day, within, counted_after, region)
        if numbers.bradford >= triggers.bradford.score:
            firings.append(
                Firing(
                    "bradford",
                    day,
                    triggers.bradford.opens_at,
                    triggers.bradford.score,
                    numbers.period_start,
                    numbers.spells,
                    numbers.working_days_lost,
                    numbers.bradford,
                )
            )
    long_term = triggers.long_term
    if long_term is not None:
        for spell in all_spells:
            reached = spell.first_day + timedelta(days=long_term.from_day - 1)
            if spell.open_on(day) and reached <= day and spell.first_day not in long_term_done:
                lost = count_working_days(spell.first_day, day, region)
                firings.append(
                    Firing(
                        "long_term",
                        day,
                        long_term.opens_at,
                        long_term.from_day,
                        spell.first_day,
                        1,
                        lost,
                        lost,
                        spell_started=spell.first_day,
                        days_off=(day - spell.first_day).days + 1,
                    )
                )
    return firings


def lead_firing(firings: Sequence[Firing], stage_order: Sequence[str]) -> Firing:
    """Of triggers firing on one day, the one a case opens for: the one whose stage comes
    latest in the policy's stage order (the furthest on, so the most severe). The others are
    still reported with their figures. Two triggers opening at one stage: the first listed
    (episodes, days lost, Bradford, long-term) leads. Without a stage order (a monitor fed
    before it was sent one), the kinds' own order decides, as it did before.
    """
    if not firings:
        raise ValueError("no trigger fired")
    if not stage_order:
        return max(firings, key=lambda firing: KIND_ORDER.index(firing.trigger))
    rank = {key: index for index, key in enumerate(stage_order)}
    return max(firings, key=lambda firing: rank.get(firing.opens_at, -1))


def next_firing_day(
    triggers: Triggers,
    episodes: Iterable[Episode],
    after: date,
    counted_after: date | None = None,
    long_term_done: frozenset[date] = frozenset(),
) -> date | None:
    """The first day after `after` on which a trigger would fire if nothing else is reported.

    Figures only grow while a spell is still open or one is yet to start (a fit note sent
    ahead); otherwise spells only leave the rolling periods and nothing new can fire.
    """
    episodes = list(episodes)
    all_spells = spells(episodes)
    if not any(spell.last_day is None or spell.last_day > after for spell in all_spells):
        return None
    for offset in range(1, SCAN_DAYS + 1):
        day = after + timedelta(days=offset)
        if fired(triggers, episodes, day, counted_after, long_term_done):
            return day
    return None
