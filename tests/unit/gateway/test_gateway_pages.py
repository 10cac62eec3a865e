"""/openapi.json and /docs from the local gateway, and the same pages in envoy.yaml.

The page is fetched with every asset it references, as a browser would
(a headless-browser check can come later); the Envoy routes must serve the
same files with the same content types, before the key check.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

from gateway.transcoder import Gateway
from gateway.transcoder.static_pages import content_type, page_files
from tests.e2e.conformance.page_assets import page_references

ROOT = Path(__file__).resolve().parents[3]
DESCRIPTOR = ROOT / "gen/descriptor.binpb"
UPSTREAMS = {"backtest.v1.CatalogService": "127.0.0.1:9", "backtest.v1.ResultsService": "127.0.0.1:9"}


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    assert DESCRIPTOR.is_file(), "run `make proto`"
    with Gateway(str(DESCRIPTOR), UPSTREAMS, api_keys=["the-key"]) as running:
        yield running


def _get(gateway: Gateway, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.request(method, path, body=b"{}" if method == "POST" else None)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_openapi_json_is_served_without_a_key_and_validates(gateway: Gateway) -> None:
    status, headers, body = _get(gateway, "/openapi.json")
    assert (status, headers["content-type"]) == (200, "application/json")
    document = json.loads(body)
    validate(document)
    assert body == (ROOT / "gen/openapi.json").read_bytes()


def test_docs_page_and_every_asset_it_loads(gateway: Gateway) -> None:
    status, headers, body = _get(gateway, "/docs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    references = page_references(body.decode())
    assert {"/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/init.js"} <= set(references)
    for url in references:
        assert url.startswith("/"), f"{url}: not served locally"
        status, headers, asset = _get(gateway, url)
        assert status == 200, url
        assert asset == (ROOT / "gen/docs" / url.rsplit("/", 1)[1]).read_bytes(), url
        assert headers["content-type"] == content_type(Path(url)), url
    # The page asks for the document this gateway serves.
    assert "/openapi.json" in _get(gateway, "/docs/init.js")[2].decode()


def test_pages_answer_get_only_and_the_api_still_needs_its_key(gateway: Gateway) -> None:
    status, _, body = _get(gateway, "/docs", "POST")
    assert status == 401  # not a page: the key check applies, as on every API path
    assert _get(gateway, "/api/v1/backtests/engines/available")[0] == 401


def test_envoy_serves_the_same_pages(gateway: Gateway) -> None:
    envoy = yaml.safe_load((ROOT / "gateway/envoy.yaml").read_text())
    manager = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    (host,) = manager["route_config"]["virtual_hosts"]
    served = {}
    for route in host["routes"]:
        if "direct_response" not in route:
            continue
        assert route["match"]["headers"] == [{"name": ":method", "string_match": {"exact": "GET"}}]
        (header,) = route["response_headers_to_add"]
        assert header["header"]["key"] == "content-type"
        served[route["match"]["path"]] = (route["direct_response"]["body"]["filename"], header["header"]["value"])
        disabled = route["typed_per_filter_config"]
        assert (
            disabled["backtest.api_key"]["disabled"] and disabled["envoy.filters.http.grpc_json_transcoder"]["disabled"]
        )
    local = {url: (str(path.relative_to(ROOT)), content_type(path)) for url, path in page_files(ROOT / "gen").items()}
    assert served == local
