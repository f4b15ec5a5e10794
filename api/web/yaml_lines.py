"""Where in a YAML text a validator's path points: `stages[2].due` → the line a person edits."""

import re

import yaml

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_LINE = re.compile(r"^line (\d+)$")


def _parts(path: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _PART.findall(path)]


def line_of(text: str, path: str) -> int:
    """The 1-based line the path names, or of the nearest enclosing block that exists.

    A missing field points at the block it belongs in; a path the YAML cannot be walked for
    (or `(top)`) points at line 1. The loader names YAML syntax errors `line N` already.
    """
    if match := _LINE.match(path):
        return int(match.group(1))
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 1
    if node is None:
        return 1
    line = node.start_mark.line
    for part in _parts(path):
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    line, child = key.start_mark.line, value
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line
        if child is None:
            break
        node = child
    return line + 1
