"""Which way imports run (docs/architecture.md): each part imported alone, in a fresh interpreter.

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

PROJECT = Path(__file__).resolve().parents[2]

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


# ---- rules read from the source (docs/architecture.md, "Which way imports run") -------------

SOURCE_PARTS = (
    "activities",
    "api",
    "mail",
    "records",
    "services",
    "workflows",
    "policies",
    "bench",
)
# What a route module would need to run queries itself: the case services do that for it.
SESSION_OPERATIONS = {"transaction", "sessions", "scalar", "scalars", "execute", "commit", "flush"}


def sources(*parts: str) -> list[Path]:
    """The project's Python files in these folders (migrations aside: they are history)."""
    return [
        path
        for part in parts
        for path in sorted((PROJECT / part).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, by its full dotted name (`from a.b import c` gives a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def calls_of(path: Path) -> set[str]:
    """The names called in a file: `f(...)` gives f, `x.m(...)` gives m."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                names.add(node.func.id)
            elif isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
    return names


def relative(path: Path) -> str:
    return path.relative_to(PROJECT).as_posix()


def test_services_take_from_activities_only_the_types_workflows_hand_over() -> None:
    """The read-model writes live in records/projection.py, so the case services and the
    recording activity share records and neither imports the other."""
    reaching = {
        relative(path): sorted(
            name
            for name in imported_modules(path)
            if name.split(".")[0] == "activities" and name != "activities.types"
        )
        for path in sources("services")
    }
    assert {path: names for path, names in reaching.items() if names} == {}


def test_only_activities_retention_reaches_into_services() -> None:
    """The purge activity runs the purge `cli.py purge` runs; no other activity uses a service."""
    reaching = {
        relative(path)
        for path in sources("activities")
        if any(name.split(".")[0] == "services" for name in imported_modules(path))
    }
    assert reaching <= {"activities/retention.py"}


def test_loading_services_loads_no_activity_but_the_types() -> None:
    probe = (
        "import importlib, json, pkgutil, sys\n"
        "module = importlib.import_module('services')\n"
        "for found in pkgutil.walk_packages(module.__path__, prefix='services.'):\n"
        "    importlib.import_module(found.name)\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] == 'activities')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) <= {"activities", "activities.types"}


def test_only_records_audit_builds_audit_rows() -> None:
    """Every writer calls records.audit.append_audit; nobody else constructs an AuditEntry."""
    builders = {
        relative(path)
        for path in [*sources(*SOURCE_PARTS), *sorted(PROJECT.glob("*.py"))]
        if "AuditEntry" in calls_of(path)
    }
    assert builders == {"records/audit.py"}


def test_routes_leave_the_database_to_the_services() -> None:
    """No module under api/ imports SQLAlchemy, writes audit rows or projections itself, or
    opens a session and queries in it."""
    offending = {}
    for path in sources("api"):
        imports = {
            name
            for name in imported_modules(path)
            if name.split(".")[0] == "sqlalchemy" or name in ("records.audit", "records.projection")
        }
        operations = calls_of(path) & SESSION_OPERATIONS
        if imports or operations:
            offending[relative(path)] = sorted(imports | operations)
    assert offending == {}


def test_the_source_rules_see_what_they_look_for() -> None:
    """Guards the rules above against passing because the scan read nothing."""
    assert "AuditEntry" in calls_of(PROJECT / "records" / "audit.py")
    assert "activities.types" in imported_modules(PROJECT / "services" / "case_steps.py")
    assert "transaction" in calls_of(PROJECT / "services" / "case_queries.py")
    assert len(sources("api")) > 10
