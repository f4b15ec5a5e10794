"""How urgent an open case is, for ordering a work list and saying so in words and colour."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from policies.calendar import LONDON
from records.models import Case

DUE_SOON = timedelta(days=7)


@dataclass(frozen=True)
class Urgency:
    rank: int  # 0 is the most urgent
    rag: str  # red | amber | green | grey: a CSS class, never the only signal
    words: str  # what the colour means, always shown with it


BREACHED = Urgency(0, "red", "Red: breached")
DUE_TODAY = Urgency(1, "amber", "Amber: due today")
DUE_THIS_WEEK = Urgency(2, "amber", "Amber: due this week")
LATER = Urgency(3, "green", "Green: on track")
PAUSED = Urgency(4, "grey", "Paused: clock stopped")
CLOSED = Urgency(5, "grey", "Closed")


def next_deadline(case: Case) -> datetime | None:
    """The nearest of the stage deadline and the whole-case target."""
    dues = [due for due in (case.stage_due_at, case.due_at) if due is not None]
    return min(dues, default=None)


def urgency(case: Case, now: datetime) -> Urgency:
    """Breached, due today (London's today), due within seven days, or later.

    A paused case whose deadline had passed before the pause is still breached: the pause
    stops the clock, it does not undo the breach.
    """
    if case.status == "closed":
        return CLOSED
    if case.breached:
        return BREACHED
    if case.status == "paused":
        return PAUSED
    due = next_deadline(case)
    if due is None:
        return LATER
    if due <= now:
        return BREACHED
    if due.astimezone(LONDON).date() == now.astimezone(LONDON).date():
        return DUE_TODAY
    if due - now <= DUE_SOON:
        return DUE_THIS_WEEK
    return LATER


def by_urgency(cases: list[Case], now: datetime) -> list[tuple[Case, Urgency]]:
    """Most urgent first; within a group, the nearest deadline first."""
    rated = [(case, urgency(case, now)) for case in cases]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(rated, key=lambda item: (item[1].rank, next_deadline(item[0]) or far, item[0].id))
