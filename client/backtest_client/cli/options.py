"""Options several commands share."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables (for scripts).")]
