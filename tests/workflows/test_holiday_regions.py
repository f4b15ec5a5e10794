"""A case's working days are its organisation's: a Scottish board's case skips St Andrew's Day.

The rule: a stage due in N working days falls due at 23:59:59 London time on the Nth working
day after the day it started, not counting that day (policies/calendar.py); 30 November, or
the Monday after when it falls at a weekend, is a bank holiday in Scotland only (St Andrew's
Day Bank Holiday (Scotland) Act 2007) and England has no bank holiday in those weeks. Each
row below was worked out with a calendar: the case opens at noon on the first date, and its
2-working-day stage falls due in England and Wales, and in Scotland, on the next two dates.
The first row whose opening still lies ahead of the test server's clock is used (the
time-skipping server's clock starts at today's date and only moves forward).
"""

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from activities.types import CaseSnapshot
from policies.calendar import ENGLAND_AND_WALES, LONDON, SCOTLAND
from policies.loader import shipped_policies
from policies.schema import PolicyDefinition
from records.models import CaseEvent
from tests.support.harness import Harness, at_instants
from tests.support.waiting import eventually
from workflows.cases import DisciplinaryCase

# (opened, due in England and Wales, due in Scotland)
ST_ANDREWS_WEEKS = [
    # Fri 26 Nov 2027 → Mon 29, Tue 30 Nov; Scotland: Mon 29, (Tue 30 St Andrew's), Wed 1 Dec
    (date(2027, 11, 26), date(2027, 11, 30), date(2027, 12, 1)),
    # Tue 28 Nov 2028 → Wed 29, Thu 30 Nov; Scotland: Wed 29, (Thu 30), Fri 1 Dec
    (date(2028, 11, 28), date(2028, 11, 30), date(2028, 12, 1)),
    # Wed 28 Nov 2029 → Thu 29, Fri 30 Nov; Scotland: Thu 29, (Fri 30), Mon 3 Dec
    (date(2029, 11, 28), date(2029, 11, 30), date(2029, 12, 3)),
    # Thu 28 Nov 2030 → Fri 29 Nov, Mon 2 Dec; Scotland: 30 Nov is a Saturday, so Mon 2 Dec
    # is the bank holiday: Fri 29, Tue 3 Dec
    (date(2030, 11, 28), date(2030, 12, 2), date(2030, 12, 3)),
]


def two_working_day_policy() -> PolicyDefinition:
    """The disciplinary policy with its first stage due in 2 working days and no whole-case
    target, so the stage deadline is the only clock."""
    definition = shipped_policies()["disciplinary"].model_dump(mode="json", exclude_none=True)
    definition.pop("target", None)
    definition["target_escalations"] = []
    first = definition["stages"][0]
    first.update(due={"working_days": 2}, reminders=[], escalations=[])
    return PolicyDefinition.model_validate(definition)


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON)


async def breaches(harness: Harness, case_id: str) -> list[datetime]:
    async with harness.db.sessions() as session:
        rows = await session.scalars(
            select(CaseEvent.at).where(
                CaseEvent.case_id == case_id, CaseEvent.kind == "stage_breach"
            )
        )
        return list(rows)


async def test_a_scottish_case_falls_due_a_working_day_after_an_english_one(
    harness: Harness,
) -> None:
    now = await harness.env.get_current_time()
    opened_on, english_due, scottish_due = next(
        row for row in ST_ANDREWS_WEEKS if datetime.combine(row[0], time(0), LONDON) > now
    )
    opened_at = datetime.combine(opened_on, time(12), tzinfo=LONDON)
    policy = two_working_day_policy()

    english, _ = await harness.open_case(
        policy, opened_at=opened_at, holiday_region=ENGLAND_AND_WALES
    )
    english_id = harness.case_id
    scottish, _ = await harness.open_case(policy, opened_at=opened_at, holiday_region=SCOTLAND)
    scottish_id = harness.case_id

    english_state: CaseSnapshot = await english.query(DisciplinaryCase.state)
    scottish_state: CaseSnapshot = await scottish.query(DisciplinaryCase.state)
    assert english_state.stage_due_at == end_of(english_due)
    assert scottish_state.stage_due_at == end_of(scottish_due)

    # The English breach comes at its deadline; the Scottish one a working day later.
    async def breached_at(case_id: str, due: date) -> bool:
        return at_instants(await breaches(harness, case_id), [end_of(due)])

    await harness.env.sleep(end_of(english_due) + timedelta(hours=1) - now)
    await eventually(lambda: breached_at(english_id, english_due), 10)
    assert await breaches(harness, scottish_id) == []
    await harness.env.sleep(end_of(scottish_due) - end_of(english_due))
    await eventually(lambda: breached_at(scottish_id, scottish_due), 10)
