"""The published format: the JSON Schema editors use, and the page that documents it."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from policies.loader import DEFINITIONS_DIR
from policies.schema import policy_json_schema

DOCS = Path(__file__).parents[2] / "docs" / "policies.md"


def _property_names(schema: dict[str, Any]) -> set[str]:
    names = set(schema.get("properties", {}))
    for definition in schema.get("$defs", {}).values():
        names |= set(definition.get("properties", {}))
    return names


def test_every_field_of_the_format_is_documented_with_an_example() -> None:
    page = DOCS.read_text()
    undocumented = {
        name for name in _property_names(policy_json_schema()) if f"`{name}`" not in page
    }
    assert undocumented == set()


def test_the_json_schema_accepts_every_shipped_definition_and_refuses_bad_ones() -> None:
    validator = jsonschema.Draft202012Validator(policy_json_schema())
    for path in DEFINITIONS_DIR.glob("*.yaml"):
        validator.validate(yaml.safe_load(path.read_text()))
    broken = yaml.safe_load((DEFINITIONS_DIR / "disciplinary.yaml").read_text())
    broken["target"] = "P1M"
    broken["stages"][0]["escalations"][0]["notify"] = ["chief_executive"]
    broken["stages"][0]["colour"] = "red"
    assert len(list(validator.iter_errors(broken))) == 3


def test_ercase_policy_schema_prints_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "policy", "schema"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(json.dumps(policy_json_schema()))
