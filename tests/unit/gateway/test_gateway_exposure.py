"""The gateway refuses to serve beyond loopback without API keys."""

from __future__ import annotations

import subprocess
import sys

from gateway.transcoder.settings import GatewaySettings, exposure_problem
from services.kit.settings import load_settings

UPSTREAMS = "backtest.v1.CatalogService=127.0.0.1:1"


def settings(**env: str) -> GatewaySettings:
    return load_settings(GatewaySettings, {"GATEWAY_UPSTREAMS": UPSTREAMS, **env})


def test_loopback_needs_no_key():
    assert exposure_problem(settings(GATEWAY_HOST="127.0.0.1")) is None
    assert exposure_problem(settings(GATEWAY_HOST="::1")) is None
    assert exposure_problem(settings(GATEWAY_HOST="localhost")) is None


def test_any_other_address_needs_a_key():
    problem = exposure_problem(settings(GATEWAY_HOST="0.0.0.0"))
    assert problem is not None and "GATEWAY_API_KEYS" in problem
    assert exposure_problem(settings(GATEWAY_HOST="0.0.0.0", GATEWAY_API_KEYS="k1")) is None
    assert exposure_problem(settings(GATEWAY_HOST="gateway.internal")) is not None


def test_the_process_exits_with_the_reason():
    env = {"GATEWAY_UPSTREAMS": UPSTREAMS, "GATEWAY_HOST": "0.0.0.0", "GATEWAY_PORT": "0", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "gateway.transcoder"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "GATEWAY_API_KEYS" in done.stderr
