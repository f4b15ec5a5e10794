"""The project's own docs name what the code has: docs/api.md and docs/architecture.md are
the reference a fresh clone carries, so a setting, an endpoint or a command added without a
word there fails here, and so do a pointer to notes outside the repository and a file the
docs name that the repository does not have.
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
DOCS = ROOT / "docs"
API_DOC = (DOCS / "api.md").read_text(encoding="utf-8")
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


# What a file the docs name looks like: a path with a folder, or a name with one of these
# endings. `Europe/London` or `text/csv` (no ending, no folder of ours) is not one.
FILE_ENDINGS = (".py", ".md", ".yml", ".yaml", ".toml", ".lock", ".json", ".sql", ".html", ".txt")
# Made by the running stack or the tests, never committed.
MADE_AT_RUN_TIME = ("var/", "test-artifacts/", ".venv/")
PATH_LIKE = re.compile(r"[\w.*-]+(/[\w.*-]+)*/?")
# A module map's heading names the folder its table's bare names live in: ### `records/` — …
SECTION_FOLDER = re.compile(r"#+ `([\w/]+/)`")


def named_paths(text: str) -> list[tuple[str, str]]:
    """(folder the section is about, path) for every path written in backticks."""
    found: list[tuple[str, str]] = []
    folder = ""
    for line in text.splitlines():
        if line.startswith("#"):
            heading = SECTION_FOLDER.match(line)
            folder = heading[1] if heading else ""
            continue
        for quoted in re.findall(r"`([^`]*)`", line):
            if not PATH_LIKE.fullmatch(quoted) or quoted.startswith(MADE_AT_RUN_TIME):
                continue
            top = quoted.split("/")[0]
            if (
                quoted.endswith(FILE_ENDINGS)
                or quoted.endswith("/")
                or ("/" in quoted and (ROOT / top).exists())
            ):
                found.append((folder, quoted))
    return found


def exists(folder: str, path: str) -> bool:
    """At the top, in the section's folder, or beside the docs (links between them)."""
    return any(
        any(base.glob(path.rstrip("/"))) if "*" in path else (base / path).exists()
        for base in (ROOT, ROOT / folder, DOCS)
    )


def test_every_path_the_docs_name_exists() -> None:
    missing = [
        f"{doc.name}: {path}"
        for doc in sorted(DOCS.glob("*.md"))
        for folder, path in named_paths(doc.read_text(encoding="utf-8"))
        if not exists(folder, path)
    ]
    assert missing == [], f"the docs name paths the repository does not have: {missing}"


def test_the_path_check_sees_the_module_map() -> None:
    """Guards the check above against passing because it found nothing."""
    paths = named_paths((DOCS / "architecture.md").read_text(encoding="utf-8"))
    assert ("workflows/", "case_process.py") in paths
    assert ("", "tests/unit/test_import_rules.py") in paths
    assert not exists("workflows/", "no_such_module.py")


MAPPED_PACKAGES = ("workflows", "activities", "mail", "policies", "records", "services", "api")


def test_the_module_map_names_every_module() -> None:
    """docs/architecture.md, "Module map": each module of a package in its package's table,
    each top-level module in the top-level table (a package's __init__.py may go unnamed)."""
    named = set(named_paths((DOCS / "architecture.md").read_text(encoding="utf-8")))
    unnamed = [
        f"{package}/{module.name}"
        for package in MAPPED_PACKAGES
        for module in sorted((ROOT / package).glob("*.py"))
        if module.name != "__init__.py" and (f"{package}/", module.name) not in named
    ] + [module.name for module in sorted(ROOT.glob("*.py")) if ("", module.name) not in named]
    assert unnamed == [], f"docs/architecture.md, Module map, does not name {unnamed}"
