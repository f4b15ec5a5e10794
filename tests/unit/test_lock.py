"""The lock files agree with pyproject.toml, and this environment is what they say.

requirements.lock (the application) and requirements-test.lock (with the test extras) are
what `make` and the Dockerfile install, hash-checked; `make lock` regenerates them. What
the clocks depend on (temporalio, holidays, tzdata) is only as pinned as these files keep
it, so a hand edit of pyproject.toml that the locks do not follow fails here, and so does a
virtualenv that drifted from them. Any change of those pins must also pass the replay test,
tests/replay/test_replay.py (docs/architecture.md, "Pinned").
"""

import pickle
import re
import tomllib
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from policies.calendar import LONDON, PackagedZone, packaged_zone

# The checkout: found, not counted, so the file may move to a deeper tests/ folder.
ROOT = next(path for path in Path(__file__).resolve().parents if (path / "pyproject.toml").exists())
APPLICATION_LOCK = ROOT / "requirements.lock"
TEST_LOCK = ROOT / "requirements-test.lock"
# A pin's first line (`name==version \`); its hashes follow on continuation lines.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*(?:\\|$)")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    version: Version
    hashes: int


def read_lock(path: Path) -> dict[NormalizedName, Pin]:
    pins: dict[NormalizedName, Pin] = {}
    name: NormalizedName | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match[1])
            assert name not in pins, f"{path.name} pins {name} twice"
            pins[name] = Pin(Version(match[2]), 0)
        elif HASH.match(line) and name is not None:
            pins[name] = Pin(pins[name].version, pins[name].hashes + 1)
        elif line.strip() and not line.lstrip().startswith(("#", "--hash")):
            pytest.fail(f"{path.name}: a line that is not a pin, a hash or a comment: {line!r}")
    return pins


def declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    if extra is not None:
        requirements += [Requirement(text) for text in project["optional-dependencies"][extra]]
    return requirements


@pytest.mark.parametrize(
    ("lock", "extra"), [(APPLICATION_LOCK, None), (TEST_LOCK, "test")], ids=["app", "test"]
)
def test_every_declared_dependency_is_locked_within_its_range(
    lock: Path, extra: str | None
) -> None:
    pins = read_lock(lock)
    for requirement in declared(extra):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock.name} does not lock {requirement}: run `make lock`"
        assert requirement.specifier.contains(pins[name].version, prereleases=True), (
            f"{lock.name} locks {name}=={pins[name].version}, outside {requirement}: "
            "run `make lock`"
        )


@pytest.mark.parametrize("lock", [APPLICATION_LOCK, TEST_LOCK], ids=["app", "test"])
def test_every_pin_carries_hashes(lock: Path) -> None:
    # `pip install --require-hashes` refuses a lock with one unhashed pin; say which here.
    unhashed = [name for name, pin in read_lock(lock).items() if pin.hashes == 0]
    assert not unhashed, f"{lock.name} pins without hashes: {unhashed}"


def test_the_test_lock_runs_the_applications_versions() -> None:
    # The tests must exercise what the image ships: the same version of every package.
    application, test = read_lock(APPLICATION_LOCK), read_lock(TEST_LOCK)
    differing = {
        name: (pin.version, test[name].version if name in test else None)
        for name, pin in application.items()
        if name not in test or test[name].version != pin.version
    }
    assert not differing, f"requirements-test.lock differs from requirements.lock: {differing}"


def test_the_clock_dependencies_are_bounded() -> None:
    # Unbounded, a routine upgrade could move running deadlines or break replay.
    for requirement in declared():
        if canonicalize_name(requirement.name) in {"temporalio", "holidays", "tzdata"}:
            operators = {spec.operator for spec in requirement.specifier}
            assert operators & {"<", "==", "~="}, f"{requirement} has no upper bound"
    names = {canonicalize_name(requirement.name) for requirement in declared()}
    assert {"temporalio", "holidays", "tzdata"} <= names


def test_the_installed_environment_matches_the_test_lock() -> None:
    installed = {
        canonicalize_name(distribution.metadata["Name"]): Version(distribution.version)
        for distribution in metadata.distributions()
    }
    drifted = {
        name: (str(pin.version), str(installed[name]) if name in installed else None)
        for name, pin in read_lock(TEST_LOCK).items()
        if installed.get(name) != pin.version
    }
    assert not drifted, f"installed (locked, found) differ: {drifted}; run `make test` afresh"


def test_the_london_zone_comes_from_the_locked_tzdata_package() -> None:
    packaged = resources.files("tzdata.zoneinfo").joinpath("Europe", "London").read_bytes()
    assert packaged.startswith(b"TZif")
    assert LONDON.key == "Europe/London"
    assert isinstance(LONDON, PackagedZone)
    assert packaged_zone("Europe/London") is LONDON
    # Pickled (as deep copies and the workflow sandbox may), it comes back as the same zone.
    assert pickle.loads(pickle.dumps(LONDON)) is LONDON
