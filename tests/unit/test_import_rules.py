"""Which way imports run (ARCHITECTURE.md): each part imported alone, in a fresh interpreter.

A package is imported with every module inside it, then the top-level names in sys.modules
show what it pulled in, directly or not.
"""

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]

PACKAGES = ("policies", "workflows", "activities", "records", "services", "api")
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


@pytest.mark.slow  # a fresh interpreter for each part
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
