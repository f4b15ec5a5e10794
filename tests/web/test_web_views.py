"""The pure parts behind the pages: urgency order, validator paths to YAML lines, the heat map,
the attendance page's triggers."""

from datetime import UTC, datetime, timedelta

from api.web.attendance import trigger_rows
from api.web.dashboards import heat_map, monthly_trend, workloads
from api.web.urgency import by_urgency
from api.web.yaml_lines import line_of
from records.models import Case

NOW = datetime(2026, 5, 6, 9, 0, tzinfo=UTC)  # a Wednesday morning in London (BST)


def case(case_id: str, due: datetime | None, **fields: object) -> Case:
    values: dict[str, object] = {
        "status": "open",
        "breached": False,
        "risk": "routine",
        "advisor": "alice",
        "division": "Medicine",
        "case_type": "disciplinary",
        "opened_at": NOW - timedelta(days=3),
        "closed_at": None,
        "due_at": None,
    }
    return Case(id=case_id, stage_due_at=due, **{**values, **fields})


def test_work_list_runs_breached_today_this_week_later() -> None:
    cases = [
        case("LATER", NOW + timedelta(days=20)),
        case("WEEK", NOW + timedelta(days=3)),
        case("NONE", None),
        case("PAUSED", NOW + timedelta(hours=1), status="paused"),
        case("TODAY", NOW + timedelta(hours=10)),
        case("PAST", NOW - timedelta(minutes=1)),
        case("FLAGGED", NOW + timedelta(days=9), breached=True),
    ]
    rated = by_urgency(cases, NOW)
    assert [(c.id, u.words) for c, u in rated] == [
        ("PAST", "Red: breached"),
        ("FLAGGED", "Red: breached"),
        ("TODAY", "Amber: due today"),
        ("WEEK", "Amber: due this week"),
        ("LATER", "Green: on track"),
        ("NONE", "Green: on track"),
        ("PAUSED", "Paused: clock stopped"),
    ]


YAML = """case_type: disciplinary
name: Disciplinary
stages:
  - key: assessment
    due: P5D
    actions:
      - {key: close, to: closed}
  - key: investigation
    name: Investigation
    due: 21 days
"""


def test_validator_paths_point_at_the_line_to_edit() -> None:
    assert line_of(YAML, "stages[1].due") == 10
    assert line_of(YAML, "stages[0].actions[0].to") == 7  # inside a flow mapping: its line
    assert line_of(YAML, "stages[0].name") == 4  # missing: the block it belongs in
    assert line_of(YAML, "reference_prefix") == 1
    assert line_of(YAML, "line 3") == 3  # the loader's own YAML errors
    assert line_of("a: [unclosed", "stages[0]") == 1


def test_team_and_overview_numbers() -> None:
    cases = [
        case("A", NOW - timedelta(hours=1), risk="urgent"),
        case("B", NOW + timedelta(days=1), advisor="bob", division="Surgery"),
        case("C", None, status="closed", closed_at=NOW - timedelta(days=1)),
    ]
    rows = workloads(cases, {"alice": "Alice", "bob": "Bob", "cy": "Cy"}, NOW)
    assert [(r.advisor, r.cases, r.weight, r.breached, r.near_breach) for r in rows] == [
        ("alice", 1, 3, 1, 0),
        ("bob", 1, 1, 0, 1),
        ("cy", 0, 0, 0, 0),
    ]
    heat = heat_map(cases, {"disciplinary": "Disciplinary", "grievance": "Grievance"}, NOW)
    assert heat.columns == ["Medicine", "Surgery"] and heat.rows == ["Disciplinary", "Grievance"]
    labels = [cell.label for cell in heat.cells]
    assert "Medicine, Disciplinary: 1 open, 1 breached" in labels
    assert "Surgery, Grievance: 0 open" in labels
    trend = monthly_trend(cases, NOW, 3)
    assert [(m.label, m.opened, m.closed) for m in trend] == [
        ("Mar 2026", 0, 0),
        ("Apr 2026", 0, 0),
        ("May 2026", 3, 1),
    ]


def test_attendance_triggers_in_words_latest_first_naming_only_visible_cases() -> None:
    figures = {"period_start": "2029-07-09", "threshold": 4, "spells": 4}
    record = {
        "sickness_cases": [{"id": "SCK-2030-0001"}],  # the cases this reader may see
        "triggers_fired": [
            {
                "trigger": "episodes",
                "fired_on": "2030-07-08",
                "case_id": "SCK-2030-0001",
                "outcome": "opened",
                "reason": None,
                "working_days_lost": 4,
                "bradford": 64,
                **figures,
            },
            {
                "trigger": "long_term",
                "fired_on": "2030-09-20",
                "case_id": "SCK-2030-0001",
                "outcome": "attached",
                "reason": None,
                "threshold": 28,
                "days_off": 28,
                "spell_started": "2030-08-24",
            },
            {
                "trigger": "bradford",
                "fired_on": "2031-03-02",
                "case_id": None,
                "outcome": "not_opened",
                "reason": "E1001 is no longer in the staff directory",
                "working_days_lost": 20,
                "bradford": 320,
                **figures,
            },
            {
                "trigger": "days_lost",
                "fired_on": "2031-06-01",
                "case_id": "SCK-2031-0009",  # restricted: not among the visible cases
                "outcome": "opened",
                "reason": None,
                "working_days_lost": 8,
                "bradford": 32,
                **figures,
            },
        ],
    }
    rows = trigger_rows(record)
    assert [(row.fired_on, row.name, row.case_id, row.refused) for row in rows] == [
        ("2031-06-01", "Working days lost", None, False),
        ("2031-03-02", "Bradford factor", None, True),
        ("2030-09-20", "Long-term sickness", "SCK-2030-0001", False),
        ("2030-07-08", "Episodes of absence", "SCK-2030-0001", False),
    ]
    assert [row.outcome for row in rows] == [
        "Case opened",
        "No case opened: E1001 is no longer in the staff directory",
        "Sent to the sickness case already open",
        "Case opened",
    ]
    assert rows[3].figures == (
        "4 spell(s), 4 working day(s) lost, Bradford 64 since 2029-07-09 (threshold 4)"
    )
    assert rows[2].figures == "off 28 calendar days since 2030-08-24 (threshold: day 28)"
