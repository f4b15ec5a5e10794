"""The sickness policy's triggers as pure functions (policies/attendance.py), against dates
worked out by hand on the 2030 calendar.

2030's England & Wales bank holidays: Tue 1 Jan, Good Friday 19 Apr, Easter Monday 22 Apr,
Mon 6 May, Mon 27 May, Mon 26 Aug, Wed 25 and Thu 26 Dec; 2029's Christmas is Tue 25 and
Wed 26 Dec.
"""

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.attendance import (
    Episode,
    Firing,
    Spell,
    figures,
    fired,
    lead_firing,
    next_firing_day,
    spells,
)
from policies.calendar import count_working_days, is_working_day
from policies.diff import describe_changes
from policies.loader import shipped_policies
from policies.schema import PolicyInvalid, Triggers, validate_policy

_SHIPPED = shipped_policies()["sickness"].triggers
assert _SHIPPED is not None
TRIGGERS: Triggers = _SHIPPED
DETERMINISTIC = settings(derandomize=True, max_examples=150, deadline=None, database=None)

# Six months of 2030: three short spells, the third still open when the feed reports it.
SIX_MONTHS = [
    Episode(date(2030, 1, 14), date(2030, 1, 16)),  # Mon-Wed: 3 working days
    Episode(date(2030, 2, 14), date(2030, 2, 15)),  # Thu-Fri: 2
    Episode(date(2030, 5, 24)),  # Fri, still off: 24th, (27th bank holiday), 28th, 29th ...
]


def test_the_shipped_defaults_are_the_issues() -> None:
    assert TRIGGERS.episodes is not None and TRIGGERS.days_lost is not None
    assert (TRIGGERS.episodes.count, TRIGGERS.episodes.within) == (4, "P365D")
    assert (TRIGGERS.days_lost.count, TRIGGERS.days_lost.within) == (8, "P365D")
    assert TRIGGERS.long_term is not None and TRIGGERS.long_term.from_day == 28


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2030, 1, 14), date(2030, 1, 16), 3),
        (date(2030, 4, 18), date(2030, 4, 23), 2),  # Thu, Good Friday, weekend, Easter Mon, Tue
        (date(2030, 5, 24), date(2030, 5, 29), 3),  # Fri, weekend, bank holiday, Tue, Wed
        (date(2029, 12, 24), date(2030, 1, 2), 5),  # 24, 27, 28, 31 Dec and 2 Jan
        (date(2030, 5, 24), date(2030, 6, 20), 19),
        (date(2030, 6, 1), date(2030, 6, 2), 0),  # a weekend
        (date(2030, 6, 3), date(2030, 6, 2), 0),  # last before first
    ],
)
def test_working_days_counted_by_hand(first: date, last: date, expected: int) -> None:
    assert count_working_days(first, last) == expected


@DETERMINISTIC
@given(st.dates(date(1995, 1, 1), date(2075, 12, 31)), st.integers(0, 800))
def test_counting_working_days_agrees_with_looking_at_each_day(first: date, length: int) -> None:
    last = first + timedelta(days=length)
    expected = sum(is_working_day(first + timedelta(days=n)) for n in range(length + 1))
    assert count_working_days(first, last) == expected


def test_overlapping_and_adjoining_episodes_are_one_spell() -> None:
    assert spells(
        [
            Episode(date(2030, 3, 4), date(2030, 3, 6)),
            Episode(date(2030, 1, 15), date(2030, 1, 17)),  # reported late, out of order
            Episode(date(2030, 1, 14), date(2030, 1, 16)),  # overlaps the one above
            Episode(date(2030, 1, 18), date(2030, 1, 18)),  # adjoins it
            Episode(date(2030, 1, 21), date(2030, 1, 21)),  # after a weekend: a new spell
            Episode(date(2030, 3, 5), None),  # still off: the spell is open
        ]
    ) == [
        Spell(date(2030, 1, 14), date(2030, 1, 18)),
        Spell(date(2030, 1, 21), date(2030, 1, 21)),
        Spell(date(2030, 3, 4), None),
    ]


@DETERMINISTIC
@given(
    st.lists(
        st.tuples(st.integers(0, 120), st.integers(0, 10), st.booleans()), min_size=1, max_size=8
    )
)
def test_spells_cover_exactly_the_days_of_the_episodes(
    drawn: list[tuple[int, int, bool]],
) -> None:
    start = date(2030, 1, 1)
    horizon = start + timedelta(days=200)
    episodes = [
        Episode(start + timedelta(days=a), None if open_ else start + timedelta(days=a + n))
        for a, n, open_ in drawn
    ]

    def days(first: date, last: date | None) -> set[date]:
        end = horizon if last is None else last
        return {first + timedelta(days=n) for n in range((end - first).days + 1)}

    merged = spells(episodes)
    assert set().union(*(days(e.first_day, e.last_day) for e in episodes)) == set().union(
        *(days(s.first_day, s.last_day) for s in merged)
    )
    for earlier, later in pairwise(merged):
        assert earlier.last_day is not None
        assert later.first_day > earlier.last_day + timedelta(days=1)  # a real gap between


def test_an_open_spell_crosses_the_days_threshold_on_the_day_worked_out() -> None:
    # 3 + 2 working days, then the open spell: Fri 24 May is the 6th, Mon 27 May is a bank
    # holiday, Tue 28 the 7th, Wed 29 May the 8th: the days-lost trigger fires that day.
    assert fired(TRIGGERS, SIX_MONTHS, date(2030, 5, 24)) == []
    assert fired(TRIGGERS, SIX_MONTHS, date(2030, 5, 28)) == []
    assert fired(TRIGGERS, SIX_MONTHS, date(2030, 5, 29)) == [
        Firing(
            trigger="days_lost",
            day=date(2030, 5, 29),
            opens_at="informal",
            threshold=8,
            period_start=date(2029, 5, 30),  # 365 days ending with 29 May 2030
            spells=3,
            working_days_lost=8,
            bradford=72,  # 3 squared times 8
        )
    ]
    assert next_firing_day(TRIGGERS, SIX_MONTHS, date(2030, 5, 24)) == date(2030, 5, 29)


def test_long_term_from_day_28_after_the_short_term_trigger() -> None:
    # Once the days-lost trigger fired on 29 May, the spells begun by then do not count again;
    # the open spell reaches its 28th day on Thu 20 June.
    after = date(2030, 5, 29)
    assert next_firing_day(TRIGGERS, SIX_MONTHS, after, counted_after=after) == date(2030, 6, 20)
    [long_term] = fired(TRIGGERS, SIX_MONTHS, date(2030, 6, 20), counted_after=after)
    assert long_term == Firing(
        trigger="long_term",
        day=date(2030, 6, 20),
        opens_at="long_term",
        threshold=28,
        period_start=date(2030, 5, 24),
        spells=1,
        working_days_lost=19,
        bradford=19,
        spell_started=date(2030, 5, 24),
        days_off=28,
    )
    done = frozenset({date(2030, 5, 24)})
    assert fired(TRIGGERS, SIX_MONTHS, date(2030, 6, 21), after, done) == []
    assert next_firing_day(TRIGGERS, SIX_MONTHS, date(2030, 6, 20), after, done) is None


def test_a_fourth_spell_fires_the_episodes_trigger_and_the_window_is_365_days() -> None:
    spells_2030 = [
        Episode(date(2029, 7, 9), date(2029, 7, 9)),  # 365 days before 8 July 2030: inside
        Episode(date(2030, 3, 4), date(2030, 3, 4)),
        Episode(date(2030, 5, 7), date(2030, 5, 7)),
        Episode(date(2030, 7, 8), date(2030, 7, 8)),
    ]
    [episodes] = fired(TRIGGERS, spells_2030, date(2030, 7, 8))
    assert (episodes.trigger, episodes.spells, episodes.working_days_lost) == ("episodes", 4, 4)
    assert episodes.period_start == date(2029, 7, 9)
    # A day later the first spell has left the period: three spells, nothing fires.
    assert fired(TRIGGERS, spells_2030, date(2030, 7, 9)) == []
    assert figures(spells(spells_2030), date(2030, 7, 9), 365).spells == 3
    # Nothing is open and nothing is yet to start: nothing can fire without a new feed.
    assert next_firing_day(TRIGGERS, spells_2030, date(2030, 7, 9)) is None


def test_bradford_alone_and_its_own_period() -> None:
    only_bradford = Triggers.model_validate(
        {"bradford": {"score": 250, "within": "P182D", "opens_at": "stage_1"}}
    )
    three_spells = [
        Episode(date(2030, 1, 7), date(2030, 1, 18)),  # 10 working days
        Episode(date(2030, 2, 4), date(2030, 2, 15)),  # 10
        Episode(date(2030, 3, 4)),  # open from Mon 4 March: its 8th working day is Wed 13
    ]
    # 3 squared x 27 = 243 on Tue 12 March; x 28 = 252 on Wed 13 March.
    assert fired(only_bradford, three_spells, date(2030, 3, 12)) == []
    [bradford] = fired(only_bradford, three_spells, date(2030, 3, 13))
    assert (bradford.spells, bradford.working_days_lost, bradford.bradford) == (3, 28, 252)
    assert bradford.period_start == date(2029, 9, 13)  # 182 days ending with 13 March


def test_a_back_dated_open_spell_is_long_term_at_once_and_a_closed_one_never() -> None:
    back_dated = [Episode(date(2030, 1, 2))]
    [long_term] = [
        firing
        for firing in fired(TRIGGERS, back_dated, date(2030, 2, 11))
        if firing.trigger == "long_term"
    ]
    assert long_term.days_off == 41
    closed = [Episode(date(2030, 1, 2), date(2030, 2, 8))]
    assert all(f.trigger != "long_term" for f in fired(TRIGGERS, closed, date(2030, 2, 11)))


def test_the_triggers_block_is_validated_with_paths() -> None:
    definition = shipped_policies()["sickness"].model_dump(mode="json")
    definition["triggers"]["episodes"]["opens_at"] = "stage_9"
    definition["triggers"]["days_lost"]["within"] = "P0D"
    definition["triggers"]["bradford"]["score"] = 0
    definition["triggers"]["long_term"]["from_days"] = 28
    definition["stages"][0]["moves_on"] = {"relapse": "stage_1"}
    definition["stages"][1]["moves_on"] = {"trigger": "nowhere"}
    definition["stages"][10]["recurring"][0]["every"] = "P0D"
    with pytest.raises(PolicyInvalid) as invalid:
        validate_policy(definition)
    problems = {error.path: error.message for error in invalid.value.errors}
    assert problems["triggers.days_lost.within"] == "a rolling period must be longer than nothing"
    assert problems["triggers.bradford.score"].startswith("Input should be greater than")
    assert problems["triggers.long_term.from_days"].startswith(
        "'from_days' is not a field this block can have; did you mean 'from_day'?"
    )
    assert problems["stages[0].moves_on"] == (
        "'relapse' is not an attendance event; use one of: trigger, long_term, returned"
    )
    # The checks across fields are reported together with the field problems above.
    assert problems["triggers.episodes.opens_at"].startswith("opens at unknown stage 'stage_9'")
    assert problems["stages[1].moves_on.trigger"].startswith(
        "moves the case to unknown stage 'nowhere'"
    )
    assert problems["stages[10].recurring[0].every"] == "this must be longer than nothing"


def test_a_changed_trigger_or_recurring_clock_is_described_in_words() -> None:
    old = shipped_policies()["sickness"]
    definition = old.model_dump(mode="json")
    definition["triggers"]["days_lost"]["count"] = 10
    definition["triggers"]["bradford"] = None
    definition["stages"][10]["recurring"][0]["every"] = "P7D"
    definition["stages"][10]["moves_on"] = {}
    assert describe_changes(old, validate_policy(definition)) == [
        "Attendance trigger 'days_lost': 10 or more within 365 days, opening at informal "
        "(was 8 or more within 365 days, opening at informal).",
        "Attendance trigger 'bradford': none (was a score of 250 or more within 365 days, "
        "opening at stage_1).",
        "Stage 'long_term': recurring Welfare contact every 7 days (were Welfare contact "
        "every 14 days).",
        "Stage 'long_term': attendance moves the case none (was on returned to return_to_work).",
    ]


def _firing(trigger: str, opens_at: str) -> Firing:
    day = date(2030, 7, 8)
    return Firing(trigger, day, opens_at, 1, day - timedelta(days=364), 4, 4, 64)


SICKNESS_STAGES = [stage.key for stage in shipped_policies()["sickness"].stages]


@pytest.mark.parametrize(
    ("opening", "leads"),
    [
        # The later stage in the policy's order wins, whatever the kind of trigger.
        ({"episodes": "stage_1", "bradford": "informal"}, "episodes"),
        ({"episodes": "informal", "bradford": "stage_1"}, "bradford"),
        ({"days_lost": "final", "long_term": "long_term", "bradford": "stage_2"}, "long_term"),
        ({"days_lost": "stage_2", "episodes": "informal", "bradford": "stage_1"}, "days_lost"),
        # Two at one stage: the first listed leads.
        ({"episodes": "stage_1", "days_lost": "stage_1"}, "episodes"),
    ],
)
def test_several_triggers_on_one_day_go_by_the_policy_stage_order(
    opening: dict[str, str], leads: str
) -> None:
    firings = [_firing(trigger, stage) for trigger, stage in opening.items()]
    assert lead_firing(firings, SICKNESS_STAGES).trigger == leads
    # In the opposite order of stages the other end wins: the order is the policy's, not ours.
    reverse = list(reversed(SICKNESS_STAGES))
    earliest = min(firings, key=lambda firing: SICKNESS_STAGES.index(firing.opens_at))
    if len({firing.opens_at for firing in firings}) == len(firings):
        assert lead_firing(firings, reverse) == earliest


def test_without_a_stage_order_the_kinds_order_decides_as_before() -> None:
    """A monitor fed before the feed carried the stage order keeps its old choice."""
    firings = [_firing("bradford", "informal"), _firing("episodes", "stage_1")]
    assert lead_firing(firings, []).trigger == "bradford"
    with pytest.raises(ValueError, match="no trigger"):
        lead_firing([], SICKNESS_STAGES)


def test_working_days_lost_count_the_organisations_own_bank_holidays() -> None:
    # One spell, Monday 23 November to Wednesday 2 December 2026. In England and Wales that is
    # 8 working days (23-27 November, 30 November, 1-2 December): the shipped "8 days lost in
    # 365" trigger fires on 2 December. In Scotland, St Andrew's Day, Monday 30 November 2026,
    # is a bank holiday (St Andrew's Day Bank Holiday (Scotland) Act 2007), so 7 are lost and
    # nothing fires.
    spell = [Episode(date(2026, 11, 23), date(2026, 12, 2))]
    day = date(2026, 12, 2)
    english = fired(TRIGGERS, spell, day)
    assert [(f.trigger, f.working_days_lost) for f in english] == [("days_lost", 8)]
    assert fired(TRIGGERS, spell, day, region="scotland") == []
    assert figures(spells(spell), day, 365, region="scotland").working_days_lost == 7
