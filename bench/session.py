"""What every section of one bench run shares: the stack, a client, the fleet, the report."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from bench.fleet import Fleet
from bench.report import Report
from bench.rest_client import RestClient
from deploy.embedded.stack import Stack
from services.adapters.object_store import ObjectStore, S3Location


@dataclass
class Options:
    """Knobs of a run (the command line sets them).

    runs: timed repetitions of single-run figures and of the (short) vectorbt sweep (medians of this many).
    warm_up: untimed calls before those.
    sweep_repeats: backtrader sweeps timed per size of the fleet (the median is reported).
    json_seconds: how long to read the JSON equity curve of a million points before stopping.
    """

    runs: int = 20
    warm_up: int = 2
    sweep_repeats: int = 5
    json_seconds: float = 8.0


@dataclass
class LocalSession:
    """What a section that needs no stack gets: the options, the report and progress lines."""

    options: Options
    report: Report = field(default_factory=Report)

    def say(self, text: str) -> None:
        """Progress, as the run goes (the table comes at the end)."""
        print(text, file=sys.stdout, flush=True)


@dataclass
class Session:
    """Shared state; `memo` carries numbers one section measured for another's baseline."""

    stack: Stack
    options: Options
    report: Report = field(default_factory=Report)
    memo: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = RestClient(self.stack.gateway_url)
        self.fleet = Fleet(self.stack, say=self.say)
        env = self.stack.env
        self.store = ObjectStore(
            S3Location(
                env["S3_ENDPOINT"],
                env["S3_ACCESS_KEY"],
                env["S3_SECRET_KEY"],
                env["S3_BUCKET"],
                env["S3_SECURE"] == "true",
            )
        )

    def say(self, text: str) -> None:
        """Progress, as the run goes (the table comes at the end)."""
        print(text, file=sys.stdout, flush=True)
