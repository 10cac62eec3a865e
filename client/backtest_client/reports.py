"""An HTML report as the platform renders it: save it, open it, or show it in a notebook."""

from __future__ import annotations

import html
import tempfile
import webbrowser
from pathlib import Path


class Report:
    """One self-contained HTML page (it needs no network to view).

    html: the page.
    name: a file name for it, e.g. "report_<id>.html".
    """

    def __init__(self, html_text: str, name: str) -> None:
        self.html = html_text
        self.name = name

    def save(self, path: str | Path | None = None) -> Path:
        """Writes the page to `path` (default: `name` in the current directory) and returns where."""
        target = Path(path) if path is not None else Path(self.name)
        target.write_text(self.html, encoding="utf-8")
        return target

    def open(self) -> Path:
        """Saves the page to a temporary file and opens it in the default browser; returns the file."""
        target = Path(tempfile.mkdtemp(prefix="backtest-report-")) / self.name
        self.save(target)
        webbrowser.open(target.as_uri())
        return target

    def _repr_html_(self) -> str:
        # Jupyter shows the page in an isolated frame, so its styles stay its own.
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            'style="width:100%;height:900px;border:1px solid #ddd"></iframe>'
        )

    def __repr__(self) -> str:
        return f"<Report {self.name} ({len(self.html.encode()):,} bytes)>"
