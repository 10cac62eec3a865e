"""Options several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables (for scripts).")]

# The searches' (sweep, grid) options: one definition, so their help and names cannot drift apart.
SearchBase = Annotated[Path, typer.Option("--base", help="YAML of the base config (see docs/client.md).")]
SearchEngine = Annotated[str | None, typer.Option("--engine", "-e", help="Engine of every run.")]
NewOrStrategy = Annotated[str | None, typer.Option("--strategy", help="Strategy id; default: a new one.")]
RankMetric = Annotated[
    str | None, typer.Option("--rank-metric", help="Flat metric to rank by (default perf_sharpe_ratio).")
]
