"""The gateway config and the deployment files, loaded once for the deploy tests.

Envoy and a container engine are not available on our machines, so these
files are checked statically: against the contract (the descriptor set that
`make proto` writes), the services' settings, and each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
TRANSCODER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder"
LUA_TYPE = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root; envoy.yaml's relative paths resolve against it."""
    return ROOT


@pytest.fixture(scope="session")
def envoy() -> dict[str, Any]:
    """gateway/envoy.yaml as data."""
    return yaml.safe_load((ROOT / "gateway/envoy.yaml").read_text())


@pytest.fixture(scope="session")
def hcm(envoy: dict[str, Any]) -> dict[str, Any]:
    """The one HTTP connection manager of the one listener."""
    (listener,) = envoy["static_resources"]["listeners"]
    (chain,) = listener["filter_chains"]
    (manager,) = [f["typed_config"] for f in chain["filters"] if f["typed_config"]["@type"] == HCM_TYPE]
    return manager


@pytest.fixture(scope="session")
def http_filters(hcm: dict[str, Any]) -> list[dict[str, Any]]:
    """The HTTP filters in chain order."""
    return hcm["http_filters"]


@pytest.fixture(scope="session")
def transcoder(http_filters: list[dict[str, Any]]) -> dict[str, Any]:
    """The grpc_json_transcoder's config."""
    (config,) = [f["typed_config"] for f in http_filters if f["typed_config"]["@type"] == TRANSCODER_TYPE]
    return config


@pytest.fixture(scope="session")
def lua_files(http_filters: list[dict[str, Any]]) -> dict[str, str]:
    """Lua filter name -> the file (relative to the working directory) it loads."""
    return {
        f["name"]: f["typed_config"]["default_source_code"]["filename"]
        for f in http_filters
        if f["typed_config"]["@type"] == LUA_TYPE
    }


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """deploy/compose.yaml as data (YAML anchors and merge keys resolved)."""
    return yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())


@pytest.fixture(scope="session")
def k8s_docs() -> dict[str, list[dict[str, Any]]]:
    """Every manifest under deploy/k8s, by file name."""
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted((ROOT / "deploy/k8s").glob("*.yaml"))
    }
