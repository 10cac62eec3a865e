"""Configuration: what must fail at startup, settings from the environment, the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gateway.transcoder import ConfigError, Gateway
from gateway.transcoder.settings import GatewaySettings
from services.kit.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[3]


def test_a_listed_service_missing_from_the_descriptor_fails_at_startup(compiled) -> None:
    with pytest.raises(ConfigError, match="gwtest.v1.NoSuchService"):
        Gateway(compiled.descriptor, {"gwtest.v1.NoSuchService": "127.0.0.1:1"})


def test_an_unreadable_descriptor_fails_at_startup(tmp_path: Path) -> None:
    (tmp_path / "bad.binpb").write_bytes(b"\xff\xff not a descriptor set")
    with pytest.raises(ConfigError):
        Gateway(str(tmp_path / "bad.binpb"), {"gwtest.v1.WidgetService": "127.0.0.1:1"})


def test_print_options_the_local_gateway_cannot_honour_fail_at_startup(compiled, tmp_path: Path) -> None:
    options = tmp_path / "print_options.json"
    options.write_text(json.dumps({"add_whitespace": True}))
    with pytest.raises(ConfigError, match="add_whitespace"):
        Gateway(compiled.descriptor, {"gwtest.v1.WidgetService": "127.0.0.1:1"}, print_options_path=str(options))


def test_settings_from_the_environment() -> None:
    settings = load_settings(
        GatewaySettings,
        {
            "GATEWAY_UPSTREAMS": "a.v1.A=127.0.0.1:1, b.v1.B=localhost:2",
            "GATEWAY_PORT": "9000",
            "GATEWAY_API_KEYS": "k1, k2",
        },
    )
    assert settings.upstreams == {"a.v1.A": "127.0.0.1:1", "b.v1.B": "localhost:2"}
    assert (settings.host, settings.port, settings.descriptor) == ("127.0.0.1", 9000, "gen/descriptor.binpb")
    assert settings.upstream_timeout_s == 600 and settings.api_keys == {"k1", "k2"}
    assert "k1" not in repr(settings)


@pytest.mark.parametrize("upstreams", [None, "", "CatalogService=host:1", "a.v1.A=host", "a.v1.A=h:1,junk"])
def test_bad_or_missing_upstreams_are_named(upstreams: str | None) -> None:
    environ = {} if upstreams is None else {"GATEWAY_UPSTREAMS": upstreams}
    with pytest.raises(SettingsError, match="GATEWAY_UPSTREAMS"):
        load_settings(GatewaySettings, environ)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_python_m_gateway_transcoder_serves_logs_json_and_stops_on_sigterm(compiled, upstream) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "GATEWAY_DESCRIPTOR": compiled.descriptor,
        "GATEWAY_UPSTREAMS": f"gwtest.v1.WidgetService={upstream.address}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.transcoder"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/widgets/cli", timeout=2) as response:
                    assert json.loads(response.read())["widget_id"] == "cli"
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    lines = [json.loads(line) for line in process.stderr.read().splitlines()]
    (access,) = [line for line in lines if line.get("logger") == "gateway.access"]
    assert access["service"] == "gateway"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/v1/widgets/cli", 200)
    assert access["rpc"] == "/gwtest.v1.WidgetService/GetWidget" and access["duration_ms"] > 0


def test_cli_with_an_unknown_service_exits_at_once(compiled) -> None:
    env = {**os.environ, "GATEWAY_DESCRIPTOR": compiled.descriptor, "GATEWAY_UPSTREAMS": "gwtest.v1.Nope=127.0.0.1:1"}
    result = subprocess.run(
        [sys.executable, "-m", "gateway.transcoder"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "gwtest.v1.Nope" in result.stderr
