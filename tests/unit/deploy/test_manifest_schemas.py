"""The deploy files under their own schemas, and cross-checked with envoy.yaml.

Neither a cluster nor Docker runs here. The Kubernetes manifests are
validated against the OpenAPI schemas of one pinned Kubernetes version
(kubernetes-validate, strict: unknown fields fail), the ConfigMap kustomize
generates included; the compose file against the Compose specification's
JSON schema (compose-spec/compose-spec `schema/compose-spec.json`, as the
pinned check-jsonschema release vendors it). Then ports, paths and health
checks are compared with what envoy.yaml serves.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

K8S_VERSION = "1.33.0"
CONFIG_MAP_LIMIT = 1024 * 1024  # bytes of data a ConfigMap may hold


@pytest.fixture(scope="module")
def listener(envoy: dict[str, Any]) -> dict[str, Any]:
    (only,) = envoy["static_resources"]["listeners"]
    return only


@pytest.fixture(scope="module")
def health_path(hcm: dict[str, Any]) -> str:
    (health,) = [f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.health_check"]
    (header,) = health["typed_config"]["headers"]
    return header["string_match"]["exact"]


def _k8s_objects(k8s_docs: dict[str, list[dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, doc) for name, docs in k8s_docs.items() if name != "kustomization.yaml" for doc in docs]


def test_k8s_manifests_match_the_pinned_kubernetes_api(k8s_docs: dict[str, list[dict[str, Any]]]) -> None:
    objects = _k8s_objects(k8s_docs)
    assert len(objects) >= 10
    for name, doc in objects:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{name} {doc['kind']}/{doc['metadata']['name']}: {err.message} at {list(err.path)}")


def test_generated_envoy_config_map_is_a_valid_config_map(root: Path, k8s_docs: dict[str, Any]) -> None:
    (kustomization,) = k8s_docs["kustomization.yaml"]
    for generator in kustomization["configMapGenerator"]:
        data = {}
        for entry in generator["files"]:
            key, path = entry.split("=", 1)
            data[key] = (root / "deploy/k8s" / path).read_text()
        config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": generator["name"]}, "data": data}
        kubernetes_validate.validate(config_map, K8S_VERSION, strict=True)
        assert sum(len(v.encode()) for v in data.values()) < CONFIG_MAP_LIMIT


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(vendored.read_text())


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any], compose_schema) -> None:
    validator = jsonschema.Draft202012Validator(compose_schema)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert problems == []


def test_compose_schema_catches_a_misspelt_key(compose: dict[str, Any], compose_schema) -> None:
    # The check has teeth: the schema forbids unknown service keys.
    broken = json.loads(json.dumps(compose))
    broken["services"]["envoy"]["healthchek"] = broken["services"]["envoy"].pop("healthcheck")
    assert list(jsonschema.Draft202012Validator(compose_schema).iter_errors(broken))


def test_gateway_ports_are_envoys_listener(
    listener: dict[str, Any], compose: dict[str, Any], k8s_docs: dict[str, Any]
) -> None:
    port = listener["address"]["socket_address"]["port_value"]
    (published,) = compose["services"]["envoy"]["ports"]
    assert published.rsplit(":", 1)[1] == str(port)
    gateway = dict((doc["kind"], doc) for doc in k8s_docs["gateway.yaml"])
    (container,) = gateway["Deployment"]["spec"]["template"]["spec"]["containers"]
    (container_port,) = container["ports"]
    assert container_port["containerPort"] == port
    (service_port,) = gateway["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == container_port["name"]


def test_gateway_health_checks_ask_envoys_health_filter(
    listener: dict[str, Any], health_path: str, compose: dict[str, Any], k8s_docs: dict[str, Any]
) -> None:
    port = listener["address"]["socket_address"]["port_value"]
    gateway = dict((doc["kind"], doc) for doc in k8s_docs["gateway.yaml"])
    (container,) = gateway["Deployment"]["spec"]["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == health_path
        assert container[probe]["httpGet"]["port"] == container["ports"][0]["name"]
    check = " ".join(compose["services"]["envoy"]["healthcheck"]["test"])
    assert f"/dev/tcp/127.0.0.1/{port}" in check
    # Envoy answers HTTP/1.0 with 426 unless accept_http_10 is set: the check must speak HTTP/1.1.
    request = re.search(r"GET (\S+) (HTTP/1\.[01])", check)
    assert request is not None and request.groups() == (health_path, "HTTP/1.1")
    assert "Host:" in check
    accepts_http_10 = listener["filter_chains"][0]["filters"][0]["typed_config"].get("http_protocol_options", {})
    assert not accepts_http_10.get("accept_http_10")
