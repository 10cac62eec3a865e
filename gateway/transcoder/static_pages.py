"""The contract's own pages: GET /openapi.json and the interactive docs under /docs.

`make proto` writes them next to the descriptor set (gen/openapi.json,
gen/docs/); envoy.yaml serves the same files as direct responses, with the
same content types, and without the API key: the document describes the
public API, and a browser opening /docs cannot send a key header. They are
read once at startup, as Envoy reads them.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
CONTENT_TYPES = {
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    "": "text/plain; charset=utf-8",  # the license file
}


def content_type(path: Path) -> str:
    """The content type a page file is served with (by its suffix)."""
    return CONTENT_TYPES.get(path.suffix, "application/octet-stream")


def page_files(contract_dir: Path) -> dict[str, Path]:
    """URL path -> file, for every page `make proto` wrote into `contract_dir` (empty when it wrote none).

    contract_dir: the directory of the descriptor set (gen/).
    """
    document = contract_dir / "openapi.json"
    docs = contract_dir / "docs"
    if not document.is_file() or not (docs / "index.html").is_file():
        return {}
    files = {OPENAPI_PATH: document, DOCS_PATH: docs / "index.html"}
    files.update({f"{DOCS_PATH}/{p.name}": p for p in sorted(docs.iterdir()) if p.is_file() and p.name != "index.html"})
    return files


class StaticPages:
    """The pages, loaded into memory.

    contract_dir: the directory of the descriptor set, where `make proto` writes the pages.
    """

    def __init__(self, contract_dir: Path) -> None:
        self._pages = {url: (content_type(path), path.read_bytes()) for url, path in page_files(contract_dir).items()}
        if not self._pages:
            log.warning("no OpenAPI document next to the descriptor set: /openapi.json and /docs are not served")

    def get(self, method: str, path: str) -> tuple[str, bytes] | None:
        """(content type, body) of a GET for one of the pages, else None (the request goes on to routing)."""
        return self._pages.get(path) if method == "GET" else None
