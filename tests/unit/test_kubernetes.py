"""deploy/kubernetes/ stays valid Kubernetes and wired to what ercase is.

No cluster runs here, so the manifests are checked statically: each object against the
Kubernetes JSON schema of its kind (tests/data/kubernetes/, strict: an unknown field is an
error, so a misspelt key cannot pass silently), and against what ercase depends on: the
probes name real routes, every variable is a documented setting, secrets come only from the
Secret, budgets and the Service select the pods they are for, and every replica mounts the
shared storage where the configuration says the files are.
"""

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from api.routes.health import router as health_router
from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "kubernetes"
API_DOCS = ROOT / "docs" / "api.md"
# Applied by hand, not by `kubectl apply -k`: the Secret is made with real values, the
# migration Job is the release step (docs/operations.md, "On Kubernetes").
OUTSIDE_KUSTOMIZATION = {"secret.example.yaml", "migrate-job.yaml"}
SECRET_SETTINGS = {
    "ERCASE_DATABASE_URL",
    "ERCASE_PAYLOAD_KEY",
    "ERCASE_SECRET_KEY",
    "ERCASE_SMTP_USERNAME",
    "ERCASE_SMTP_PASSWORD",
}


def load(name: str) -> list[dict[str, Any]]:
    with (MANIFESTS / name).open(encoding="utf-8") as file:
        return [document for document in yaml.safe_load_all(file) if document]


def manifest_files() -> list[str]:
    return sorted(
        path.name for path in MANIFESTS.glob("*.yaml") if path.name != "kustomization.yaml"
    )


def objects() -> list[dict[str, Any]]:
    return [document for name in manifest_files() for document in load(name)]


def the(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def validator_for(document: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """The strict schema of the document's kind: e.g. apps/v1 Deployment is
    deployment-apps-v1.json, v1 Service is service-v1.json (kubernetes-validate's naming)."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", document["apiVersion"])
    path = SCHEMAS / f"{document['kind'].lower()}-{group_version}.json"
    assert path.exists(), f"no schema vendored for {document['kind']} {document['apiVersion']}"
    schema = yaml.safe_load(path.read_text(encoding="utf-8"))
    definitions = yaml.safe_load((SCHEMAS / "_definitions.json").read_text(encoding="utf-8"))
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


@pytest.mark.parametrize("name", manifest_files())
def test_every_object_is_valid_kubernetes(name: str) -> None:
    for document in load(name):
        errors = list(validator_for(document).iter_errors(document))
        assert not errors, f"{name} {document['kind']}: " + "; ".join(
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors
        )


def test_the_schema_check_catches_a_misspelt_field() -> None:
    """Strict schemas: a probe written `readinessProbes` would be ignored by a lenient
    check and by nothing else until the first outage."""
    deployment = copy.deepcopy(the("Deployment", "ercase-api"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    assert not validator_for(deployment).is_valid(deployment)
    deployment = copy.deepcopy(the("Deployment", "ercase-api"))
    deployment["spec"]["replicas"] = "two"
    assert not validator_for(deployment).is_valid(deployment)


def test_the_kustomization_lists_every_manifest_but_the_hand_applied_ones() -> None:
    (kustomization,) = load("kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(
        set(manifest_files()) - OUTSIDE_KUSTOMIZATION
    )
    assert all(o["metadata"].get("namespace", "ercase") == "ercase" for o in objects())


def containers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(object name, pod spec, container) for every container of every workload."""
    found = []
    for document in objects():
        if document["kind"] in ("Deployment", "Job"):
            pod = document["spec"]["template"]["spec"]
            found += [(document["metadata"]["name"], pod, c) for c in pod["containers"]]
    return found


def test_the_api_is_probed_on_its_real_health_routes() -> None:
    routes = {getattr(route, "path", None) for route in health_router.routes}
    (api,) = [c for name, _, c in containers() if name == "ercase-api"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz"} <= routes
    assert api["command"][:2] == ["ercase", "api"]
    port = api["command"][api["command"].index("--port") + 1]
    assert api["ports"] == [{"name": "http", "containerPort": int(port)}]
    service = the("Service", "ercase-api")
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_each_workload_runs_its_ercase_command() -> None:
    commands = {name: c["command"] for name, _, c in containers()}
    assert commands["ercase-worker"] == ["ercase", "worker"]
    assert commands["ercase-migrate"] == ["ercase", "migrate"]
    images = {c["image"] for _, _, c in containers()}
    assert len(images) == 1, f"every workload runs the same release: {images}"


def documented_settings() -> set[str]:
    """The ERCASE_ variables docs/api.md's Configuration table names."""
    text = API_DOCS.read_text(encoding="utf-8")
    table = text[text.index("## Configuration") :]
    return set(re.findall(r"`(ERCASE_[A-Z_]+)`", table))


def test_every_variable_is_a_documented_setting_and_secrets_stay_in_the_secret() -> None:
    config = the("ConfigMap", "ercase")["data"]
    secret = the("Secret", "ercase")["stringData"]
    inline = {e["name"] for _, _, c in containers() for e in c.get("env", [])}
    everything = set(config) | set(secret) | inline
    assert everything <= documented_settings(), everything - documented_settings()
    for name in everything:
        assert name.removeprefix("ERCASE_").lower() in Settings.model_fields, name
    assert set(secret) == SECRET_SETTINGS
    assert not SECRET_SETTINGS & (set(config) | inline)
    for name, _, container in containers():
        sources = container["envFrom"]
        assert {"configMapRef": {"name": "ercase"}} in sources, name
        assert {"secretRef": {"name": "ercase"}} in sources, name


def test_budgets_and_the_service_select_the_pods_they_are_for() -> None:
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in objects()
        if d["kind"] == "Deployment"
    }

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
        return selector.items() <= labels.items()

    for name, labels in pods.items():
        budget = the("PodDisruptionBudget", name)
        assert selects(budget["spec"]["selector"]["matchLabels"], labels)
        deployment = the("Deployment", name)
        assert selects(deployment["spec"]["selector"]["matchLabels"], labels)
        # A budget of one available with one replica would block every node drain.
        assert deployment["spec"]["replicas"] > budget["spec"]["minAvailable"]
    chosen = [
        n
        for n, labels in pods.items()
        if selects(the("Service", "ercase-api")["spec"]["selector"], labels)
    ]
    assert chosen == ["ercase-api"]


def test_every_replica_mounts_the_shared_files_where_the_configuration_puts_them() -> None:
    config = the("ConfigMap", "ercase")["data"]
    wanted = {
        Path(config["ERCASE_DOCUMENTS_DIR"]),
        Path(config["ERCASE_SHRED_LEDGER"]).parent,
    }
    claims = {d["metadata"]["name"]: d for d in objects() if d["kind"] == "PersistentVolumeClaim"}
    assert all(claim["spec"]["accessModes"] == ["ReadWriteMany"] for claim in claims.values())
    for name, pod, container in containers():
        if name == "ercase-migrate":
            continue  # the schema only: no files
        volumes = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
        mounted = {Path(m["mountPath"]): volumes[m["name"]] for m in container["volumeMounts"]}
        assert set(mounted) == wanted, name
        assert set(mounted.values()) <= set(claims), name


def test_every_container_has_requests_a_memory_limit_and_no_root() -> None:
    for name, pod, container in containers():
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), name
        assert "memory" in resources["limits"], name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        # The Dockerfile's user: the image's files belong to it.
        assert pod["securityContext"]["runAsUser"] == 10001, name
