"""Which way imports run (ARCHITECTURE.md): each part imported alone, in a fresh interpreter.

A package is imported with every module inside it, then the top-level names in sys.modules
show what it pulled in, directly or not.
"""

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent

PACKAGES = ("policies", "workflows", "activities", "records", "services", "api", "mail")
MODULES = ("worker", "cli", "settings", "codec", "temporal_client", "mail_sink")
OURS = tuple(
    name
    for name in PACKAGES + MODULES
    if (PROJECT / name / "__init__.py").exists() or (PROJECT / f"{name}.py").exists()
)

# What each part must not load. On top of these, nothing but api itself may load api.
FORBIDDEN: dict[str, set[str]] = {
    "policies": (set(OURS) - {"policies"}) | {"sqlalchemy", "temporalio", "fastapi"},
    "workflows": {"records", "api", "services", "sqlalchemy", "jinja2", "aiosmtplib", "fastapi"},
    "records": {"workflows", "api", "services", "activities"},
    # Mail is plumbing under the activities: it knows no workflow, service or Temporal.
    "mail": {"workflows", "api", "services", "activities", "temporalio", "fastapi"},
}

# Imports `name` and, for a package, every module in it; prints the loaded top-level names.
PROBE = """
import importlib, json, pkgutil, sys
name = sys.argv[1]
module = importlib.import_module(name)
for found in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=name + "."):
    importlib.import_module(found.name)
print(json.dumps(sorted({loaded.split(".")[0] for loaded in sys.modules})))
"""


@cache
def loaded_by(name: str) -> frozenset[str]:
    """The top-level modules a fresh interpreter holds after importing `name` alone."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, name],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"importing {name} failed:\n{result.stderr}"
    return frozenset(json.loads(result.stdout))


def forbidden_for(name: str) -> set[str]:
    return FORBIDDEN.get(name, set()) | ({"api"} if name != "api" else set())


@pytest.mark.parametrize("name", OURS)
def test_imports_run_the_agreed_way(name: str) -> None:
    assert loaded_by(name) & forbidden_for(name) == set()


def test_every_part_named_in_the_architecture_is_checked() -> None:
    assert set(PACKAGES) <= set(OURS)
    assert {"worker", "settings", "codec", "temporal_client"} <= set(OURS)


def test_the_probe_sees_what_a_part_loads() -> None:
    """Guards the rules above against passing because the probe saw nothing."""
    assert {"api", "fastapi", "records", "sqlalchemy"} <= loaded_by("api")
    assert {"records", "sqlalchemy", "policies"} <= loaded_by("records")
    # workflows/__init__.py imports nothing: temporalio shows that its modules were walked.
    assert "temporalio" in loaded_by("workflows")
    assert {"jinja2", "aiosmtplib", "records"} <= loaded_by("mail")


def imports_of(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every `from module import name` in the file; ("module", "") for
    `import module`."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.extend((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, "") for alias in node.names)
    return found


def our_sources() -> list[Path]:
    """The project's own code outside mail/ (tests and benchmarks are no users of the API)."""
    modules = [PROJECT / f"{name}.py" for name in MODULES if (PROJECT / f"{name}.py").exists()]
    packages = [
        path
        for name in PACKAGES
        if name != "mail"
        for path in sorted((PROJECT / name).rglob("*.py"))
        if "migrations" not in path.parts
    ]
    return modules + packages


def test_mail_is_used_through_its_public_names_only() -> None:
    private = [
        f"{path.relative_to(PROJECT)}: {module}.{name}"
        for path in our_sources()
        for module, name in imports_of(path)
        if (module == "mail" or module.startswith("mail."))
        and (name.startswith("_") or any(part.startswith("_") for part in module.split(".")))
    ]
    assert private == []


def test_reports_send_through_the_mail_package_not_the_mail_activity() -> None:
    """The mail activity is Temporal's entry point; what reports need lives in `mail`."""
    reports = imports_of(PROJECT / "activities" / "reports.py")
    assert [module for module, _ in reports if module == "activities.mail"] == []
    assert any(module.startswith("mail.") for module, _ in reports)
    # Only the worker registers the mail activity.
    users = {
        str(path.relative_to(PROJECT))
        for path in our_sources()
        for module, _ in imports_of(path)
        if module == "activities.mail"
    }
    assert users <= {"worker.py"}
