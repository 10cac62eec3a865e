"""deploy/compose.yaml, deploy/k8s and deploy/Dockerfile against the services.

The environment each process gets must be made of names its settings class
reads (a misspelt variable would be silently ignored and the default used),
with every required one present, and every health check must probe the port
the process actually listens on.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import pytest

from deploy.embedded.lineup import SERVICES, Role

# `python -m <module>` -> where its settings class lives.
PROCESSES = {
    "services.catalog": ("services.catalog.settings", "CatalogSettings"),
    "services.catalog.migrate": ("services.catalog.settings", "DatabaseSettings"),
    "services.results": ("services.results.settings", "ResultsSettings"),
    "services.executor": ("services.executor.settings", "ExecutorSettings"),
}
_S3 = {"S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET"}
# What each process reads, for a service whose settings module is not written yet.
FALLBACK = {
    "services.catalog": (
        _S3 | {"GRPC_LISTEN", "DATABASE_URL", "NATS_URL", "S3_SECURE", "SYNC_EXECUTE_TIMEOUT_S", "LOG_LEVEL"},
        _S3 | {"DATABASE_URL", "NATS_URL"},
    ),
    "services.catalog.migrate": ({"DATABASE_URL"}, {"DATABASE_URL"}),
    "services.results": (_S3 | {"GRPC_LISTEN", "CATALOG_ADDR", "S3_SECURE", "LOG_LEVEL"}, _S3 | {"CATALOG_ADDR"}),
    "services.executor": (
        _S3 | {"NATS_URL", "CATALOG_ADDR", "S3_SECURE", "EXECUTOR_ID", "HEALTH_LISTEN", "LOG_LEVEL"},
        _S3 | {"NATS_URL", "CATALOG_ADDR"},
    ),
}
# The address variable each server binds, and the health service its readiness asks about.
LISTENS = {
    "services.catalog": ("GRPC_LISTEN", "backtest.v1.CatalogService"),
    "services.results": ("GRPC_LISTEN", "backtest.v1.ResultsService"),
    "services.executor": ("HEALTH_LISTEN", ""),
}
# The names the Envoy container may be given: the ones the Lua filters read.
GATEWAY_ENV = {"GATEWAY_API_KEYS"}


class Reads(NamedTuple):
    names: frozenset[str]
    required: frozenset[str]


def reads(process: str) -> Reads:
    """The variables `process` reads and the ones without a default."""
    module_name, class_name = PROCESSES[process]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if not module_name.startswith(err.name or "\0"):
            raise
        names, required = FALLBACK[process]
        return Reads(frozenset(names), frozenset(required))
    fields = dataclasses.fields(getattr(module, class_name))
    return Reads(
        frozenset(f.metadata["env"] for f in fields),
        frozenset(
            f.metadata["env"]
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ),
    )


def _process(command: list[str] | None) -> str | None:
    """The module of a `python -m <module>` command."""
    if command and command[:2] == ["python", "-m"]:
        return command[2]
    return None


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def _check_env(where: str, process: str, env: dict[str, str]) -> None:
    expected = reads(process)
    assert set(env) <= expected.names, f"{where}: not read by {process}: {set(env) - expected.names}"
    assert expected.required <= set(env), f"{where}: required but missing: {expected.required - set(env)}"
    if process in LISTENS:
        variable, _ = LISTENS[process]
        # The services' defaults bind loopback, unreachable from other containers.
        assert env[variable].startswith("0.0.0.0:"), f"{where}: {variable}={env.get(variable)}"


# --- docker compose ---------------------------------------------------------


@pytest.fixture(scope="module")
def compose_apps(compose: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Compose service name -> (process, service) for the services' image."""
    found = {}
    for name, service in compose["services"].items():
        process = _process(service.get("command"))
        if process is not None:
            found[name] = (process, service)
    return found


def test_compose_runs_every_part_of_the_platform(compose: dict[str, Any], compose_apps: dict[str, Any]) -> None:
    assert {"postgres", "nats", "minio", "envoy"} <= set(compose["services"])
    assert sorted(process for process, _ in compose_apps.values()) == sorted(PROCESSES)


def test_compose_runs_three_executors(compose_apps: dict[str, Any]) -> None:
    executors = [s for process, s in compose_apps.values() if process == "services.executor"]
    assert sum(s.get("deploy", {}).get("replicas", 1) for s in executors) == 3


def test_every_long_running_compose_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if service.get("restart") == "no":  # one-shot jobs: dependents wait for their exit code
            continue
        assert service.get("healthcheck", {}).get("test"), name


def test_compose_grpc_health_checks_probe_the_listen_port(compose_apps: dict[str, Any]) -> None:
    for name, (process, service) in compose_apps.items():
        if process not in LISTENS:
            continue
        variable, health_service = LISTENS[process]
        test = service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"] and "grpc_health.v1" in test[3], name
        assert _port(test[4]) == _port(service["environment"][variable]), name
        assert (test[5] if len(test) > 5 else "") == health_service, name


def test_compose_health_probe_code_is_python(compose_apps: dict[str, Any]) -> None:
    for _, service in compose_apps.values():
        if "healthcheck" in service:
            compile(service["healthcheck"]["test"][3], "healthcheck", "exec")


def test_compose_env_names_are_the_ones_the_services_read(compose_apps: dict[str, Any]) -> None:
    for name, (process, service) in compose_apps.items():
        _check_env(f"compose {name}", process, service["environment"])


def test_compose_gateway_env_is_what_its_lua_reads(root: Path, compose: dict[str, Any]) -> None:
    env = compose["services"]["envoy"]["environment"]
    assert set(env) == GATEWAY_ENV
    lua = (root / "gateway/lua/api_key.lua").read_text()
    assert all(f'os.getenv("{name}")' in lua for name in GATEWAY_ENV)


def test_compose_secrets_have_no_defaults(root: Path) -> None:
    text = (root / "deploy/compose.yaml").read_text()
    secrets = re.findall(r"\$\{(\w*(?:PASSWORD|SECRET|API_KEYS)\w*)(.?.?)", text)
    assert secrets
    for name, operator in secrets:
        assert operator == ":?", f"${{{name}}} must fail when unset, not fall back to a default"


def test_compose_nats_keeps_jetstream_on_file_storage(compose: dict[str, Any]) -> None:
    command = compose["services"]["nats"]["command"]
    assert "-js" in command and "-sd" in command
    store = command[command.index("-sd") + 1]
    assert any(volume.endswith(":" + store) for volume in compose["services"]["nats"]["volumes"])


def test_compose_catalog_starts_after_migrations(compose: dict[str, Any], compose_apps: dict[str, Any]) -> None:
    (migrate,) = [name for name, (process, _) in compose_apps.items() if process == "services.catalog.migrate"]
    (catalog,) = [s for process, s in compose_apps.values() if process == "services.catalog"]
    assert catalog["depends_on"][migrate] == {"condition": "service_completed_successfully"}


# --- the Dockerfile ---------------------------------------------------------


def _stages(root: Path) -> dict[str, list[str]]:
    """Dockerfile stage name -> its instructions (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", (root / "deploy/Dockerfile").read_text())
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            current = stages.setdefault(line.split()[-1], [])
        current.append(line)
    return stages


def test_services_image_builds_the_contract_and_runs_unprivileged(root: Path) -> None:
    stages = _stages(root)
    assert list(stages)[-1] == "app"  # the default target
    build, app = stages["build"], stages["app"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in (root / "deploy/Dockerfile").read_text()
    assert "RUN make proto" in build and any("pip install" in line or "make venv" in line for line in build)
    users = [line.split()[1] for line in app if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")


def test_gateway_image_lays_out_the_files_envoy_yaml_names(root: Path, envoy, compose: dict[str, Any]) -> None:
    gateway = _stages(root)["gateway"]
    (workdir,) = [PurePosixPath(line.split()[1]) for line in gateway if line.startswith("WORKDIR ")]
    copied = [workdir / line.split()[-1] for line in gateway if line.startswith("COPY ")]
    needed = [*files_envoy_reads(envoy), "gateway/envoy.yaml", "gateway/drain.sh"]
    assert "gen/openapi.json" in needed and "gateway/lua/api_key.lua" in needed
    for path in needed:
        target = workdir / path
        assert any(target == c or c in target.parents for c in copied), path
    envoy = compose["services"]["envoy"]
    assert envoy["build"]["target"] == "gateway"


# --- Kubernetes -------------------------------------------------------------


@pytest.fixture(scope="module")
def objects(k8s_docs: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> object, over every manifest."""
    found = {}
    for file, docs in k8s_docs.items():
        if file == "kustomization.yaml":  # kustomize's input, not an object
            continue
        for doc in docs:
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, key
            found[key] = doc
    return found


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def _app_containers(objects: dict[tuple[str, str], Any]) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(kind/name, process, container, object) for every container running a service."""
    found = []
    for (kind, name), obj in objects.items():
        if kind not in ("Deployment", "StatefulSet", "Job"):
            continue
        for container in _pod(obj)["containers"]:
            process = _process(container.get("command"))
            if process is not None:
                found.append((f"{kind}/{name}", process, container, obj))
    return found


def test_k8s_manifests_are_all_in_the_kustomization(root: Path, k8s_docs: dict[str, Any]) -> None:
    (kustomization,) = k8s_docs["kustomization.yaml"]
    listed = set(kustomization["resources"])
    # The secret example is a template for the operator, never applied as is.
    assert listed == set(k8s_docs) - {"kustomization.yaml", "secret.example.yaml"}


def test_envoy_config_map_is_generated_from_the_gateway_files(
    root: Path, k8s_docs: dict[str, Any], objects: dict[tuple[str, str], Any], lua_files: dict[str, str]
) -> None:
    (kustomization,) = k8s_docs["kustomization.yaml"]
    (generator,) = kustomization["configMapGenerator"]
    sources = dict(entry.split("=", 1) for entry in generator["files"])
    resolved = {key: (root / "deploy/k8s" / path).resolve() for key, path in sources.items()}
    gateway = _pod(objects[("Deployment", "gateway")])["containers"][0]
    script = root / _pre_stop_script(gateway).relative_to("/app")
    expected = {root / "gateway/envoy.yaml", *(root / path for path in lua_files.values()), script}
    assert set(resolved.values()) == {p.resolve() for p in expected}


def test_k8s_runs_each_service_and_the_migration(objects: dict[tuple[str, str], Any]) -> None:
    kinds = {(process, obj["kind"]) for _, process, _, obj in _app_containers(objects)}
    assert kinds == {
        ("services.catalog", "Deployment"),
        ("services.results", "Deployment"),
        ("services.executor", "Deployment"),
        ("services.catalog.migrate", "Job"),
    }


def test_k8s_probes_use_the_grpc_health_service_on_the_listen_port(objects: dict[tuple[str, str], Any]) -> None:
    for where, process, container, _ in _app_containers(objects):
        if process not in LISTENS:
            continue
        variable, health_service = LISTENS[process]
        env = {item["name"]: item.get("value") for item in container["env"]}
        port = _port(env[variable])
        assert port in {p["containerPort"] for p in container["ports"]}, where
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == port, (where, probe)
        assert container["readinessProbe"]["grpc"].get("service", "") == health_service, where


def test_k8s_services_expose_the_grpc_ports_headless(objects: dict[tuple[str, str], Any]) -> None:
    for where, process, container, obj in _app_containers(objects):
        if process not in ("services.catalog", "services.results"):
            continue
        labels = obj["spec"]["template"]["metadata"]["labels"]
        services = [
            s
            for (kind, _), s in objects.items()
            if kind == "Service" and s["spec"]["selector"].items() <= labels.items()
        ]
        (service,) = services
        # Headless, so Envoy's STRICT_DNS sees each pod and balances per request.
        assert service["spec"]["clusterIP"] == "None", where
        assert {p["port"] for p in service["spec"]["ports"]} == {p["containerPort"] for p in container["ports"]}


def test_k8s_env_names_are_the_ones_the_services_read(
    objects: dict[tuple[str, str], Any], k8s_docs: dict[str, Any]
) -> None:
    (secret,) = k8s_docs["secret.example.yaml"]
    config = objects[("ConfigMap", "backtest-config")]["data"]
    for where, process, container, _ in _app_containers(objects):
        env = {item["name"]: item.get("value", "<ref>") for item in container["env"]}
        _check_env(where, process, env)
        for item in container["env"]:
            source = item.get("valueFrom", {})
            if "configMapKeyRef" in source:
                assert source["configMapKeyRef"]["key"] in config, (where, item["name"])
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"], where


def test_k8s_config_has_no_unused_keys(objects: dict[tuple[str, str], Any]) -> None:
    used = {
        item["valueFrom"]["configMapKeyRef"]["key"]
        for obj in objects.values()
        if obj["kind"] in ("Deployment", "StatefulSet", "Job")
        for container in _pod(obj)["containers"]
        for item in container.get("env", [])
        if "configMapKeyRef" in item.get("valueFrom", {})
    }
    assert set(objects[("ConfigMap", "backtest-config")]["data"]) == used


def test_k8s_secret_example_holds_no_real_secret(k8s_docs: dict[str, Any]) -> None:
    (secret,) = k8s_docs["secret.example.yaml"]
    assert all("CHANGE-ME" in value for value in secret["stringData"].values())


def test_k8s_hpa_scales_the_executor_deployment_on_cpu(objects: dict[tuple[str, str], Any]) -> None:
    ((_, executor),) = [(w, obj) for w, p, _, obj in _app_containers(objects) if p == "services.executor"]
    (hpa,) = [obj for (kind, _), obj in objects.items() if kind == "HorizontalPodAutoscaler"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", executor["metadata"]["name"])
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 1
    # Utilisation is measured against the request; a replicas field would fight the autoscaler.
    assert "replicas" not in executor["spec"]
    assert all(c["resources"]["requests"]["cpu"] for c in _pod(executor)["containers"])


def test_k8s_stateful_backends_have_probes(objects: dict[tuple[str, str], Any]) -> None:
    images = {}
    for (kind, name), obj in objects.items():
        if kind != "StatefulSet":
            continue
        (container,) = _pod(obj)["containers"]
        images[name] = container["image"]
        assert container["readinessProbe"] and container["livenessProbe"], name
        assert obj["spec"]["volumeClaimTemplates"], name
    assert {"postgres", "nats", "minio"} <= set(images)
    (nats,) = _pod(objects[("StatefulSet", "nats")])["containers"]
    assert "-js" in nats["args"] and "-sd" in nats["args"]


def files_envoy_reads(config: Any) -> set[str]:
    """Every file envoy.yaml names (DataSource filenames, the descriptor set), relative to its working directory."""
    found: set[str] = set()
    if isinstance(config, dict):
        for key, value in config.items():
            if key in ("filename", "proto_descriptor") and isinstance(value, str):
                found.add(value)
            else:
                found |= files_envoy_reads(value)
    elif isinstance(config, list):
        for item in config:
            found |= files_envoy_reads(item)
    return found


def _pre_stop_script(container: dict[str, Any]) -> PurePosixPath:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "/bin/bash", command
    return PurePosixPath(command[1])


def test_k8s_gateway_mounts_the_files_envoy_yaml_names(root: Path, objects: dict[tuple[str, str], Any], envoy) -> None:
    pod = _pod(objects[("Deployment", "gateway")])
    (container,) = pod["containers"]
    workdir = PurePosixPath(container["workingDir"])
    assert container["args"] == ["envoy", "-c", "gateway/envoy.yaml"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    placed = set()
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            assert volume["configMap"]["name"] == "envoy-config"
            placed |= {PurePosixPath(mount["mountPath"]) / item["path"] for item in volume["configMap"]["items"]}
        else:  # the contract files make proto wrote, copied in by the init container
            (init,) = pod["initContainers"]
            (shared,) = [m for m in init["volumeMounts"] if m["name"] == mount["name"]]
            command = init["command"]
            assert command[:2] == ["cp", "-r"] and PurePosixPath(command[-1]) == PurePosixPath(shared["mountPath"])
            for source in map(PurePosixPath, command[2:-1]):
                local = root / source.relative_to("/app")  # the image lays gen/ out as a checkout does
                assert local.exists(), f"{local} missing: run `make proto`"
                files = [p for p in local.rglob("*") if p.is_file()] if local.is_dir() else [local]
                placed |= {PurePosixPath(mount["mountPath"]) / p.relative_to(local.parent) for p in files}
    needed = {workdir / p for p in [*files_envoy_reads(envoy), "gateway/envoy.yaml"]} | {_pre_stop_script(container)}
    assert needed <= placed
    assert {item["name"] for item in container["env"]} == GATEWAY_ENV
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"


# --- one restart policy: a crashed long-running process is restarted alone --


def _jobs(compose: dict[str, Any]) -> set[str]:
    """Compose services that others wait for to exit with code 0: run once, never restarted."""
    return {
        name
        for service in compose["services"].values()
        for name, condition in service.get("depends_on", {}).items()
        if condition.get("condition") == "service_completed_successfully"
    }


def test_compose_restarts_every_long_running_service_and_no_job(compose: dict[str, Any]) -> None:
    # Docker restarts with a doubling delay (from 100 ms, at most a minute) and never gives up.
    jobs = _jobs(compose)
    assert jobs
    for name, service in compose["services"].items():
        expected = {"no"} if name in jobs else {"unless-stopped", "always"}
        assert service.get("restart", "no") in expected, name


def test_k8s_restarts_every_long_running_container_and_retries_jobs_a_bounded_number_of_times(
    objects: dict[tuple[str, str], Any],
) -> None:
    # CrashLoopBackOff: a doubling delay from 10 s to 5 minutes; a liveness
    # probe also restarts a container that still runs but no longer serves.
    kinds = set()
    for (kind, name), obj in objects.items():
        pod = _pod(obj) if kind in ("Deployment", "StatefulSet", "Job") else None
        if pod is None:
            continue
        kinds.add(kind)
        if kind == "Job":
            assert pod["restartPolicy"] == "OnFailure", name
            assert 0 < obj["spec"]["backoffLimit"] <= 10, name
            continue
        assert pod.get("restartPolicy", "Always") == "Always", name
        for container in pod["containers"]:
            assert container.get("livenessProbe"), f"{kind}/{name} {container['name']}"
    assert kinds == {"Deployment", "StatefulSet", "Job"}


def test_the_embedded_launcher_restarts_what_compose_restarts(compose_apps: dict[str, Any]) -> None:
    restarted = {process for process, service in compose_apps.values() if service.get("restart") != "no"}
    run_once = {process for process, service in compose_apps.values() if service.get("restart") == "no"}
    for service in SERVICES:
        if service.role is Role.GATEWAY or service.first_run_only:
            continue  # Envoy stands in for the gateway; sample data is for `make up` only
        # The launcher restarts every process but its one-shot tasks (deploy/embedded/supervisor.py).
        assert service.module in (run_once if service.role is Role.TASK else restarted), service.name


# --- addresses agree everywhere ---------------------------------------------


def _endpoints(envoy: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """Envoy cluster -> its one DNS name and port."""
    found = {}
    for cluster in envoy["static_resources"]["clusters"]:
        (locality,) = cluster["load_assignment"]["endpoints"]
        (endpoint,) = locality["lb_endpoints"]
        address = endpoint["endpoint"]["address"]["socket_address"]
        found[cluster["name"]] = (address["address"], address["port_value"])
    return found


def test_gateway_clusters_reach_the_compose_services(envoy: dict[str, Any], compose_apps: dict[str, Any]) -> None:
    for cluster, (host, port) in _endpoints(envoy).items():
        process, service = compose_apps[host]
        assert _port(service["environment"][LISTENS[process][0]]) == port, cluster


def test_gateway_clusters_reach_the_k8s_services(envoy: dict[str, Any], objects: dict[tuple[str, str], Any]) -> None:
    for cluster, (host, port) in _endpoints(envoy).items():
        service = objects[("Service", host)]
        assert port in {p["port"] for p in service["spec"]["ports"]}, cluster


def test_catalog_address_is_where_the_catalog_listens(
    compose_apps: dict[str, Any], objects: dict[tuple[str, str], Any]
) -> None:
    (catalog,) = [s for p, s in compose_apps.values() if p == "services.catalog"]
    listen = _port(catalog["environment"]["GRPC_LISTEN"])
    addresses = {s["environment"].get("CATALOG_ADDR") for _, s in compose_apps.values()} - {None}
    addresses.add(objects[("ConfigMap", "backtest-config")]["data"]["CATALOG_ADDR"])
    assert addresses == {f"catalog:{listen}"}
    assert listen in {p["port"] for p in objects[("Service", "catalog")]["spec"]["ports"]}


def test_compose_and_k8s_run_the_same_envoy(root: Path, objects: dict[tuple[str, str], Any]) -> None:
    (compose_image,) = re.findall(r"^ARG ENVOY_IMAGE=(\S+)$", (root / "deploy/Dockerfile").read_text(), re.MULTILINE)
    (envoy,) = _pod(objects[("Deployment", "gateway")])["containers"]
    assert envoy["image"] == compose_image


@pytest.mark.parametrize("backend", ["postgres", "nats", "minio"])
def test_compose_and_k8s_run_the_same_backends(
    backend: str, compose: dict[str, Any], objects: dict[tuple[str, str], Any]
) -> None:
    (container,) = _pod(objects[("StatefulSet", backend)])["containers"]
    assert container["image"] == compose["services"][backend]["image"]
