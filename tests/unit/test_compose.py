"""The production-shaped stack (docker-compose.yml and the Dockerfile) stays valid and wired.

No Docker engine runs here, so the stack is checked statically: the compose file against
the Compose specification's JSON schema (tests/data/compose-spec.json), and against the
structure ercase depends on: which services exist, what waits for what, which image each
runs, and that the API and the worker get the same, documented configuration.
"""

import base64
import copy
import importlib
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from sqlalchemy.engine import make_url

from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
POSTGRES_INIT = ROOT / "deploy" / "postgres-init.sql"
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "data" / "compose-spec.json"

# docs/api.md, "Configuration": the ERCASE_ variables that are part of the public contract.
# The stack may only use these: anything else would be configuration nobody documented
# (and pydantic-settings ignores unknown ERCASE_ variables silently, so a typo would
# never fail on its own).
DOCUMENTED_VARIABLES = frozenset(
    {
        "ERCASE_DATABASE_URL",
        "ERCASE_TEMPORAL_ADDRESS",
        "ERCASE_TEMPORAL_NAMESPACE",
        "ERCASE_TASK_QUEUE",
        "ERCASE_SMTP_HOST",
        "ERCASE_SMTP_PORT",
        "ERCASE_SMTP_USERNAME",
        "ERCASE_SMTP_PASSWORD",
        "ERCASE_SMTP_STARTTLS",
        "ERCASE_MAIL_FROM",
        "ERCASE_PAYLOAD_KEY",
        "ERCASE_SECRET_KEY",
        "ERCASE_DOCUMENTS_DIR",
        "ERCASE_SHRED_LEDGER",
        "ERCASE_DEV",
    }
)

# Secrets the stack must refuse to start without (`${VAR:?message}` in the file).
REQUIRED_SECRETS = ("POSTGRES_PASSWORD", "ERCASE_PAYLOAD_KEY", "ERCASE_SECRET_KEY")

# What an operator would put in .env: realistic values, so Settings can parse them.
SAMPLE_ENVIRONMENT = {
    "POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef",
    "ERCASE_PAYLOAD_KEY": base64.b64encode(bytes(range(32))).decode(),
    "ERCASE_SECRET_KEY": base64.b64encode(bytes(range(48))).decode(),
}

EXPECTED_SERVICES = {
    "postgresql",
    "temporal-admin-tools",
    "temporal",
    "temporal-create-namespace",
    "temporal-ui",
    "mailpit",
    "api",
    "worker",
}


# --- Compose interpolation -------------------------------------------------------------
#
# The schema validates the raw strings, but what a container receives is the value after
# Compose's interpolation, so the tests that look at values resolve it the same way:
# `$$` is a literal `$`; `$VAR` / `${VAR}`; `${VAR:-default}` / `${VAR-default}`;
# `${VAR:?error}` / `${VAR?error}` (refuse to start); `${VAR:+other}` / `${VAR+other}`.

_INTERPOLATION = re.compile(
    r"\$(?:"
    r"(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*)"
    # Anything else after `${` is a syntax error Compose would report.
    r"|(?P<invalid>\{)"
    r")"
)


class MissingVariableError(Exception):
    """A `${VAR:?message}` whose variable is not set: Compose refuses to start."""


def interpolate(value: str, environment: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["invalid"]:
            raise ValueError(f"invalid interpolation in {value!r}")
        name = match["braced"] or match["named"]
        operator, argument = match["operator"] or "", match["argument"] or ""
        # With a colon, an empty value counts as unset (as in the shell).
        is_set = name in environment and (environment[name] != "" or not operator.startswith(":"))
        if operator in (":-", "-"):
            return environment[name] if is_set else argument
        if operator in (":?", "?"):
            if not is_set:
                raise MissingVariableError(f"{name}: {argument}")
            return environment[name]
        if operator in (":+", "+"):
            return argument if is_set else ""
        return environment.get(name, "")

    return _INTERPOLATION.sub(substitute, value)


def resolve(node: Any, environment: Mapping[str, str]) -> Any:
    """The document as Compose sees it after interpolation (values only, never keys)."""
    if isinstance(node, str):
        return interpolate(node, environment)
    if isinstance(node, dict):
        return {key: resolve(value, environment) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, environment) for item in node]
    return node


def _strings(node: Any) -> list[str]:
    """Every string value in the document, where Compose interpolates."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for value in node.values() for text in _strings(value)]
    if isinstance(node, list):
        return [text for item in node for text in _strings(item)]
    return []


def referenced_variables(node: Any) -> set[str]:
    """Every variable the document interpolates (`$$` escapes are the container's own)."""
    return {
        match["braced"] or match["named"]
        for text in _strings(node)
        for match in _INTERPOLATION.finditer(text)
        if match["braced"] or match["named"]
    }


# --- Reading the files ------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as written (anchors and merge keys expanded by YAML)."""
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def resolved(compose: dict[str, Any]) -> dict[str, Any]:
    """The compose file after interpolation with the secrets set."""
    result = resolve(compose, SAMPLE_ENVIRONMENT)
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    # The schema declares Draft 7; validate with exactly that dialect.
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)]


def environment_of(service: Mapping[str, Any]) -> dict[str, str | None]:
    """A service's environment, whether written as a mapping or as a list of NAME=value."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in environment)
        return {name: value for name, value in pairs}
    return {name: None if value is None else str(value) for name, value in environment.items()}


def dependencies_of(service: Mapping[str, Any]) -> dict[str, str]:
    """Service name -> condition, for both the list and the mapping form of depends_on."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends_on.items()}


def container_ports(service: Mapping[str, Any]) -> set[int]:
    ports: set[int] = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            ports.add(int(port["target"]))
        else:
            # [ip:][host:]container[/protocol]
            ports.add(int(str(port).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def image_tag(reference: str) -> str | None:
    """The tag of an image reference; a registry's port (`host:5000/name`) is not a tag."""
    name = reference.split("@", 1)[0]
    last_part = name.rsplit("/", 1)[-1]
    return last_part.split(":", 1)[1] if ":" in last_part else None


def as_text(command: Any) -> str:
    return " ".join(command) if isinstance(command, list) else str(command)


def project_version() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(pyproject["project"]["version"])


# --- The schema -------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification(
    compose: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    assert schema_errors(validator, compose) == []


def test_interpolated_compose_file_still_matches_the_specification(
    resolved: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    assert schema_errors(validator, resolved) == []


def test_schema_check_is_not_vacuous(
    compose: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    """A misspelt key must fail, or the two tests above would prove nothing."""
    broken = copy.deepcopy(compose)
    broken["services"]["api"]["enviroment"] = {"ERCASE_DEV": "false"}
    assert schema_errors(validator, broken)


@pytest.mark.parametrize("secret", REQUIRED_SECRETS)
def test_the_stack_refuses_to_start_without_each_secret(
    compose: dict[str, Any], secret: str
) -> None:
    environment = {name: value for name, value in SAMPLE_ENVIRONMENT.items() if name != secret}
    with pytest.raises(MissingVariableError, match=secret):
        resolve(compose, environment)
    # An empty value is as good as none: `:?` rejects it too.
    with pytest.raises(MissingVariableError, match=secret):
        resolve(compose, {**environment, secret: ""})


def test_interpolation_follows_compose_rules() -> None:
    """The helper the value tests rely on, against Compose's documented behaviour."""
    environment = {"SET": "value", "EMPTY": ""}
    assert interpolate("$$HOME and $${X}", environment) == "$HOME and ${X}"
    assert interpolate("${SET}/$SET/${EMPTY}/${UNSET}", environment) == "value/value//"
    assert interpolate("${UNSET:-fallback} ${EMPTY:-fallback} ${EMPTY-kept}", environment) == (
        "fallback fallback "
    )
    assert interpolate("${SET:+other}${UNSET:+other}", environment) == "other"
    with pytest.raises(MissingVariableError, match="EMPTY"):
        interpolate("${EMPTY:?must be set}", environment)
    assert interpolate("${EMPTY?only unset fails}", environment) == ""
    with pytest.raises(ValueError, match="invalid"):
        interpolate("${NOT VALID}", environment)


# --- Services and their order -----------------------------------------------------------


def test_the_services_ercase_needs_exist(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= EXPECTED_SERVICES


def test_every_dependency_names_an_existing_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        missing = set(dependencies_of(service)) - set(services)
        assert not missing, f"{name} depends on unknown services {sorted(missing)}"


def test_temporal_starts_only_after_its_schema_is_in_place(compose: dict[str, Any]) -> None:
    services = compose["services"]
    temporal_dependencies = dependencies_of(services["temporal"])
    assert temporal_dependencies["temporal-admin-tools"] == "service_completed_successfully"
    assert dependencies_of(services["temporal-admin-tools"])["postgresql"] == "service_healthy"
    assert "healthcheck" in services["postgresql"]

    # The job creates and migrates both of the databases the server is configured for.
    script = as_text(services["temporal-admin-tools"]["command"])
    for database in ("temporal", "temporal_visibility"):
        for step in ("create", "setup-schema", "update-schema"):
            assert re.search(rf"--db {database} {step}\b", script), (database, step)
    assert "postgresql/v12/temporal/versioned" in script
    assert "postgresql/v12/visibility/versioned" in script

    tools = environment_of(services["temporal-admin-tools"])
    server = environment_of(services["temporal"])
    assert tools["SQL_PLUGIN"] == server["DB"] == "postgres12"
    assert tools["SQL_HOST"] == server["POSTGRES_SEEDS"] == "postgresql"
    assert tools["SQL_PORT"] == server["DB_PORT"] == "5432"
    assert tools["SQL_USER"] == server["POSTGRES_USER"]
    assert tools["SQL_PASSWORD"] == server["POSTGRES_PWD"]


def test_schema_tool_and_server_are_the_same_release(compose: dict[str, Any]) -> None:
    """temporal-sql-tool migrates to the schema its own release expects."""
    services = compose["services"]
    server_tag = image_tag(services["temporal"]["image"])
    assert image_tag(services["temporal-admin-tools"]["image"]) == server_tag
    assert image_tag(services["temporal-create-namespace"]["image"]) == server_tag


def test_ercase_starts_once_its_namespace_exists(compose: dict[str, Any]) -> None:
    services = compose["services"]
    namespace_job = services["temporal-create-namespace"]
    assert dependencies_of(namespace_job)["temporal"] == "service_healthy"
    assert "healthcheck" in services["temporal"]
    script = as_text(namespace_job["command"])
    assert "temporal operator namespace create" in script
    for name in ("api", "worker"):
        dependencies = dependencies_of(services[name])
        assert dependencies["temporal-create-namespace"] == "service_completed_successfully"
        assert dependencies["postgresql"] == "service_healthy"
        assert "mailpit" in dependencies
        # The namespace the job creates is the one ercase connects to.
        assert (
            environment_of(namespace_job)["NAMESPACE"]
            == environment_of(services[name])["ERCASE_TEMPORAL_NAMESPACE"]
        )


def test_temporal_ui_and_mail_catcher(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert environment_of(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert 8080 in container_ports(services["temporal-ui"])
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    assert 8025 in container_ports(services["mailpit"])


# --- Images -----------------------------------------------------------------------------


def test_every_image_is_pinned_to_a_version(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert "image" in service, f"{name} names no image"
        reference = service["image"]
        if "@sha256:" in reference:
            continue  # a digest pins harder than any tag
        tag = image_tag(reference)
        assert tag, f"{name}: {reference} has no tag, which means latest"
        assert tag != "latest", f"{name}: {reference}"
        # A floating major tag (postgres:16) moves under a deployment; want a release.
        assert re.search(r"\d+\.\d+", tag), f"{name}: {reference} is not a specific version"


def test_api_and_worker_run_the_same_image(compose: dict[str, Any]) -> None:
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    assert api["build"] == worker["build"]
    assert api["image"] == worker["image"]
    build = api["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (COMPOSE_FILE.parent / context / dockerfile).resolve() == DOCKERFILE
    # The image we build is named after the release it contains.
    assert image_tag(api["image"]) == project_version()


def test_api_and_worker_run_their_own_commands(compose: dict[str, Any]) -> None:
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    assert as_text(api["command"]).startswith("ercase api")
    assert "--host 0.0.0.0" in as_text(api["command"])
    assert as_text(worker["command"]) == "ercase worker"


# --- ercase's configuration -------------------------------------------------------------


def test_api_and_worker_share_one_configuration(compose: dict[str, Any]) -> None:
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    api_environment = environment_of(api)
    assert api_environment == environment_of(worker)
    assert all(name.startswith("ERCASE_") for name in api_environment)
    assert api.get("env_file") == worker.get("env_file")


def test_only_documented_ercase_variables_are_used(compose: dict[str, Any]) -> None:
    used = referenced_variables(compose)
    for service in compose["services"].values():
        used |= set(environment_of(service))
    ercase_variables = {name for name in used if name.startswith("ERCASE_")}
    assert ercase_variables, "the stack configures ercase through ERCASE_ variables"
    assert ercase_variables <= DOCUMENTED_VARIABLES, ercase_variables - DOCUMENTED_VARIABLES
    # Every one of them also reaches a field of Settings.
    fields = {f"ERCASE_{name.upper()}" for name in Settings.model_fields}
    assert ercase_variables <= fields, ercase_variables - fields


def test_every_interpolated_variable_is_required_or_has_a_default(
    compose: dict[str, Any],
) -> None:
    """A bare `$NAME` meant for a container's shell would be emptied by Compose instead.

    Shell variables in scripts must be written `$$NAME`; every real interpolation states
    what happens when the variable is missing.
    """
    bare: set[str] = set()
    for text in _strings(compose):
        for match in _INTERPOLATION.finditer(text):
            name = match["braced"] or match["named"]
            if name and match["operator"] not in (":?", "?", ":-", "-"):
                bare.add(name)
    assert not bare, f"interpolated without :? or :- : {sorted(bare)}"


def test_secrets_come_from_the_environment(compose: dict[str, Any]) -> None:
    """The keys are never written into the file: `${VAR:?…}` makes them required."""
    raw = environment_of(compose["services"]["api"])
    for name in ("ERCASE_PAYLOAD_KEY", "ERCASE_SECRET_KEY"):
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", raw[name] or ""), raw[name]
    assert "${POSTGRES_PASSWORD:?" in (raw["ERCASE_DATABASE_URL"] or "")


def test_ercase_configuration_points_at_the_stack(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = resolved["services"]
    environment = environment_of(services["api"])
    assert environment["ERCASE_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert environment["ERCASE_SMTP_HOST"] == "mailpit"
    assert environment["ERCASE_SMTP_PORT"] == "1025"

    url = make_url(environment["ERCASE_DATABASE_URL"] or "")
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "postgresql"
    assert url.database == "ercase"
    # The same password the postgres container initialises the role with.
    assert url.password == environment_of(services["postgresql"])["POSTGRES_PASSWORD"]

    # What the containers receive is configuration Settings accepts as it is.
    for name in list(DOCUMENTED_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        assert value is not None
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.database_url == environment["ERCASE_DATABASE_URL"]
    assert settings.smtp_port == 1025
    assert settings.dev is False
    assert settings.payload_key == SAMPLE_ENVIRONMENT["ERCASE_PAYLOAD_KEY"]
    mounted = {volume.split(":")[1] for volume in services["api"].get("volumes", [])}
    assert str(settings.documents_dir) in mounted
    # The shred ledger on its own volume: it outlives, and is never restored with, the database.
    assert str(settings.shred_ledger.parent) in mounted


def test_postgres_creates_the_ercase_database(compose: dict[str, Any]) -> None:
    postgresql = compose["services"]["postgresql"]
    mounts = [volume.split(":") for volume in postgresql["volumes"] if isinstance(volume, str)]
    init_scripts = [
        source for source, target, *_ in mounts if "docker-entrypoint-initdb.d" in target
    ]
    assert init_scripts == ["./deploy/postgres-init.sql"]
    assert (COMPOSE_FILE.parent / init_scripts[0]).resolve() == POSTGRES_INIT

    url = make_url(
        interpolate(
            environment_of(compose["services"]["api"])["ERCASE_DATABASE_URL"] or "",
            SAMPLE_ENVIRONMENT,
        )
    )
    script = POSTGRES_INIT.read_text(encoding="utf-8")
    assert re.search(rf"CREATE ROLE {url.username} LOGIN PASSWORD", script)
    assert re.search(rf"CREATE DATABASE {url.database} OWNER {url.username};", script)
    # The script reads the password from the container's environment: it must be there.
    assert "POSTGRES_PASSWORD" in environment_of(postgresql)
    assert "\\getenv ercase_password POSTGRES_PASSWORD" in script


def test_api_is_published_and_health_checked(compose: dict[str, Any]) -> None:
    api = compose["services"]["api"]
    assert 8000 in container_ports(api)
    assert "/healthz" in as_text(api["healthcheck"]["test"])


# --- The Dockerfile ---------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def test_dockerfile_runs_ercase() -> None:
    commands = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "CMD"]
    assert commands, "the Dockerfile has no CMD"
    # Only the last CMD counts; exec form, so signals reach ercase.
    command = json.loads(commands[-1])
    assert command[:2] == ["ercase", "api"]
    # The console script the image calls is the one the project installs.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    module, function = pyproject["project"]["scripts"]["ercase"].split(":")
    assert (module, function) == ("cli", "run")
    assert callable(getattr(importlib.import_module(module), function))


def test_dockerfile_builds_on_python_311_and_runs_unprivileged() -> None:
    instructions = dockerfile_instructions()
    arguments = " ".join(arguments for _, arguments in instructions)
    assert re.search(r"python:3\.11\.\d+-slim", arguments)
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    # The dependencies come from the lock, hash-checked; ercase itself adds none of its own.
    assert any("pip install --require-hashes -r requirements.lock" in args for args in runs)
    assert any("pip install --no-deps ." in args for args in runs)
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "the image would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
