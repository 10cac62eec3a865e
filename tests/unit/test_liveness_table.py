"""docs/reliability.md and the liveness module name the same paths out of `running`, in the same order."""

from __future__ import annotations

import re
from pathlib import Path

from services.catalog.execution.liveness import PATHS

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def test_the_documented_table_is_the_modules_table():
    section = DOC.read_text().split("## Who moves a run out of `running`, and when", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| path")]
    documented = [re.match(r"\| ([^|]+?) \|", row).group(1) for row in rows if not set(row) <= set("|- ")]
    assert documented == [path.name for path in PATHS]
