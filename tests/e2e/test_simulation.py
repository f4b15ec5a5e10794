"""`ercase simulate`: a small year whose breaches are worked out by hand, under two policies
that differ in one deadline, replayed through the real workflow on the time-skipping server."""

from pathlib import Path

import pytest

from cli import main
from policies.loader import load_policy_file
from simulation import WHOLE_CASE, CasesFileInvalid, read_cases, simulate

POLICY = """\
case_type: grievance
name: Grievance (simulation test)
reference_prefix: GRS
stages:
  - key: assessment
    name: Assessment
    due: {assessment}
    reminders: [P1D]
    actions:
      - {{key: refer, to: investigation}}
  - key: investigation
    name: Investigation
    due: P10D
    actions:
      - {{key: close, to: closed}}
"""

# Opened at 09:00 and stepped at 12:00 (London) on these dates; a day-based deadline falls due
# at the end of its day, so P5D from Mon 3 March is the end of Sat 8 March, P3D of Thu 6 March.
#   A1 refers on the 6th (3 days), closes on the 10th: no breach under either policy.
#   A2 refers on the 7th (4 days): late only under P3D; investigation from the 7th is due at
#      the end of the 17th and it closes on the 20th: an investigation breach under both.
#   A3 refers on the 10th (7 days): late under both; closes on the 12th, in time.
#   A4 is never stepped: its assessment breaches under both before the file ends (the 20th).
#   A5 is a disciplinary case: not the policy's type, skipped.
CASES = """\
case_id,case_type,opened,steps
A1,grievance,2025-03-03,refer=2025-03-06;close=2025-03-10
A2,grievance,2025-03-03,refer=2025-03-07;close=2025-03-20
A3,,2025-03-03,refer=2025-03-10;close=2025-03-12
A4,grievance,2025-03-03,
A5,disciplinary,2025-03-03,close=2025-03-04
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


async def test_breaches_per_stage_under_two_policies(tmp_path: Path) -> None:
    current = load_policy_file(write(tmp_path, "p5.yaml", POLICY.format(assessment="P5D")))
    proposed = load_policy_file(write(tmp_path, "p3.yaml", POLICY.format(assessment="P3D")))
    comparison = await simulate(proposed, current, write(tmp_path, "cases.csv", CASES))
    assert (comparison.cases, comparison.skipped) == (4, 1)
    assert dict(comparison.current.breaches) == {"Assessment": 2, "Investigation": 1}
    assert dict(comparison.proposed.breaches) == {"Assessment": 3, "Investigation": 1}
    assert comparison.current.closed == comparison.proposed.closed == 3
    assert comparison.current.refused == comparison.proposed.refused == []
    lines = comparison.lines()
    assert "Assessment" in lines[2] and lines[2].split()[1:] == ["2", "3", "+1"]
    assert lines[3].split()[1:] == ["1", "1", "+0"]
    assert lines[4].startswith(WHOLE_CASE) and lines[4].split()[-3:] == ["0", "0", "+0"]
    assert lines[5].split()[1:] == ["3", "4", "+1"]


def test_a_bad_row_is_named_by_its_line(tmp_path: Path) -> None:
    policy = load_policy_file(write(tmp_path, "p.yaml", POLICY.format(assessment="P5D")))
    bad = write(tmp_path, "bad.csv", "opened,steps\n2025-03-03,refer=2025-03-06\n2025-13-01,\n")
    with pytest.raises(CasesFileInvalid, match="line 3"):
        read_cases(bad, policy)
    backwards = write(tmp_path, "back.csv", "opened,steps\n2025-03-03,refer=2025-03-01\n")
    with pytest.raises(CasesFileInvalid, match="line 2: steps must be dated in order"):
        read_cases(backwards, policy)


def test_the_command_names_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write(tmp_path, "p.yaml", POLICY.format(assessment="P5D"))
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--policy", str(policy), "--cases", str(tmp_path / "none.csv")])
    assert exit_.value.code == 1
    assert "none.csv" in capsys.readouterr().err
