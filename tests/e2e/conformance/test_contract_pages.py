"""GET /openapi.json and /docs on the gateway under test (Envoy included), served by the gateway itself.

The page and every asset it references are fetched (no CDN: each is a path
on the same gateway); the document validates as OpenAPI 3.1 and describes
the paths this suite calls.
"""

from __future__ import annotations

from openapi_spec_validator import validate

from .page_assets import page_references


def test_openapi_document_validates_and_describes_the_api(api) -> None:
    response = api.request("GET", "/openapi.json", from_root=True)
    assert response.status == 200 and response.headers["content-type"].startswith("application/json")
    document = response.json()
    validate(document)
    assert {"/api/v1/backtests", "/api/v1/backtests/{backtest_id}", "/api/v1/tasks/{task_id}"} <= set(document["paths"])


def test_docs_page_loads_every_asset_from_the_gateway(api) -> None:
    page = api.request("GET", "/docs", from_root=True)
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    references = page_references(page.text)
    assert any(url.endswith("swagger-ui-bundle.js") for url in references)
    for url in references:
        assert url.startswith("/"), f"{url} is not served by the gateway"
        asset = api.request("GET", url, from_root=True)
        assert asset.status == 200 and asset.body, url
