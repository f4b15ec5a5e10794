"""Reading definitions from YAML: the shipped ones and any file a policy owner hands in."""

from pathlib import Path
from typing import Any

import yaml

from policies.schema import PolicyDefinition, PolicyError, PolicyInvalid, validate_policy

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


class _DuplicateKey(yaml.MarkedYAMLError):
    """The same name twice in one block, which plain YAML loading would silently let win."""


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML loading that refuses a name written twice in the same block."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) or key is None:
                if key in seen:
                    raise _DuplicateKey(
                        problem=f"'{key}' is written twice in the same block",
                        problem_mark=key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_error(error: yaml.YAMLError) -> PolicyError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    if context:
        problem = f"{context}, {problem}"
    if mark is None:
        return PolicyError("(top)", f"this is not valid YAML: {problem}")
    where = f"line {mark.line + 1}"
    return PolicyError(
        where, f"this is not valid YAML: {problem} ({where}, column {mark.column + 1})"
    )


def parse_policy_text(text: str) -> PolicyDefinition:
    """Parse and check a YAML (or JSON) definition; raise PolicyInvalid listing every problem."""
    try:
        # Bandit B506 does not apply: _StrictLoader is a SafeLoader subclass.
        data = yaml.load(text, Loader=_StrictLoader)  # nosec B506
    except yaml.YAMLError as error:
        raise PolicyInvalid([_yaml_error(error)]) from None
    except RecursionError:
        raise PolicyInvalid([PolicyError("(top)", "the definition is nested too deeply")]) from None
    except ValueError as error:
        # A value the parser cannot build, such as the date 2026-13-45.
        reason = str(error).split(";")[0]
        raise PolicyInvalid([PolicyError("(top)", f"a value cannot be read: {reason}")]) from None
    return validate_policy(data)


def load_policy_file(path: Path) -> PolicyDefinition:
    return parse_policy_text(path.read_text(encoding="utf-8"))


def shipped_policies() -> dict[str, PolicyDefinition]:
    """Every definition in policies/definitions/, by case type."""
    policies = (load_policy_file(path) for path in sorted(DEFINITIONS_DIR.glob("*.yaml")))
    return {policy.case_type: policy for policy in policies}
