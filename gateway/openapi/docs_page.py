"""The interactive docs page: our index.html and init.js, and Swagger UI's files from its PyPI package.

Swagger UI (5.x, which reads OpenAPI 3.1) ships inside the swagger-ui-py
wheel; its files are copied next to the page so a gateway serves them
itself, with no CDN. Every file written here is served under /docs/<name>
by both gateways (envoy.yaml lists each one).
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

PAGE_DIR = Path(__file__).resolve().parent.parent / "docs"
# The Swagger UI files the page loads, from swagger_ui/static in the wheel.
SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "LICENSE")


def write_docs_page(target: Path) -> list[Path]:
    """Writes the page and its assets into `target` (replaced whole); returns the files written.

    target: the directory to write, e.g. gen/docs.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = [Path(shutil.copyfile(PAGE_DIR / name, target / name)) for name in ("index.html", "init.js")]
    static = resources.files("swagger_ui").joinpath("static")
    for name in SWAGGER_FILES:
        written.append(target / ("swagger-ui-LICENSE" if name == "LICENSE" else name))
        written[-1].write_bytes(static.joinpath(name).read_bytes())
    return written
