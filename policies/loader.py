"""Reading definitions from YAML: the shipped ones and any file a policy owner hands in."""

from pathlib import Path

import yaml

from policies.schema import PolicyDefinition, PolicyError, PolicyInvalid, validate_policy

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


def parse_policy_text(text: str) -> PolicyDefinition:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(top)"
        raise PolicyInvalid([PolicyError(where, f"not valid YAML: {error}")]) from None
    return validate_policy(data)


def load_policy_file(path: Path) -> PolicyDefinition:
    return parse_policy_text(path.read_text(encoding="utf-8"))


def shipped_policies() -> dict[str, PolicyDefinition]:
    """Every definition in policies/definitions/, by case type."""
    policies = (load_policy_file(path) for path in sorted(DEFINITIONS_DIR.glob("*.yaml")))
    return {policy.case_type: policy for policy in policies}
