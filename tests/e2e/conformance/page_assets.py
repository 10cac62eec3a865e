"""The assets an HTML page loads (scripts, stylesheets, icons), as a browser finds them."""

from __future__ import annotations

from html.parser import HTMLParser


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"])
        if tag == "link" and found.get("href"):
            self.urls.append(found["href"])


def page_references(html: str) -> list[str]:
    """Every asset URL an HTML page references, in order."""
    parser = _References()
    parser.feed(html)
    return parser.urls
