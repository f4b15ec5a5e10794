"""The project's own docs name what the code has: docs/api.md and docs/architecture.md are
the reference a fresh clone carries, so a setting, an endpoint or a command added without a
word there fails here, and so does a pointer to notes outside the repository.
"""

import base64
import itertools
import re
import subprocess
from pathlib import Path

import pytest

from api.main import create_app
from cli import main
from settings import Settings

# The checkout: found, not counted, so the file may move to a deeper tests/ folder.
ROOT = next(path for path in Path(__file__).resolve().parents if (path / "pyproject.toml").exists())
API_DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
# Served by FastAPI itself.
SEARCHED = ("*.py", "*.md", "*.yml", "Makefile", "Dockerfile")
THIS_FILE = Path(__file__).resolve().relative_to(ROOT)
UNDOCUMENTED_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def segments(path: str) -> tuple[str, ...]:
    return tuple(re.sub(r"\{[^}]*\}", "{}", part) for part in path.strip("/").split("/"))


def documented_paths() -> set[tuple[str, ...]]:
    """Every path written in backticks, `a\\|b` alternatives spelled out, queries dropped."""
    found: set[tuple[str, ...]] = set()
    for quoted in re.findall(r"`([^`]*)`", API_DOC):
        for written in re.findall(r"/[^\s`\[?]*", quoted):
            parts = written.replace("\\|", "|").strip("/").split("/")
            for choice in itertools.product(*(part.split("|") for part in parts)):
                found.add(segments("/".join(choice)))
    return found


def is_documented(route: tuple[str, ...], documented: set[tuple[str, ...]]) -> bool:
    # A route's `{step}` may be documented by its values (`suspension/suspend|review|lift`).
    return any(
        len(written) == len(route)
        and all(r == w or r == "{}" for r, w in zip(route, written, strict=True))
        for written in documented
    )


def test_every_setting_is_documented() -> None:
    missing = [
        f"ERCASE_{name.upper()}"
        for name in Settings.model_fields
        if f"`ERCASE_{name.upper()}`" not in API_DOC
    ]
    assert not missing, f"docs/api.md, Configuration, does not name {missing}"


def test_every_endpoint_is_documented() -> None:
    documented = documented_paths()
    # Keys given, so reading the schema writes no key files under var/.
    keys = Settings(payload_key=base64.b64encode(bytes(32)).decode(), secret_key="docs")
    routes = create_app(keys).openapi()["paths"]
    missing = [
        path
        for path in routes
        if path not in UNDOCUMENTED_PATHS and not is_documented(segments(path), documented)
    ]
    assert not missing, f"docs/api.md does not name {missing}"


def test_every_command_is_documented(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = re.search(r"\{([a-z,-]+)\}", capsys.readouterr().out)
    assert listed, "ercase --help lists no commands"
    missing = [name for name in listed[1].split(",") if f"`ercase {name}" not in API_DOC]
    assert not missing, f"docs/api.md, Commands, does not name {missing}"


@pytest.mark.parametrize("pattern", ["../shared", "ARCHITECTURE.md", "/API.md"])
def test_nothing_points_outside_the_repository(pattern: str) -> None:
    # A fresh clone has no founders' notes beside it: the docs are docs/.
    found = subprocess.run(
        ["git", "grep", "-n", "-F", pattern, "--", *SEARCHED, f":!{THIS_FILE}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert found == "", f"points outside the repository:\n{found}"
