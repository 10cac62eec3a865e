"""What a scenario found, held against issue 14's rules, and the table of every scenario.

A scenario holds when nothing is lost (every run it got accepted completed),
nothing is stuck in `running`, every completed run equals the clean run of its
config, the API never answered a 5xx other than 503 (and a 503 says when to
retry), always answered, and no error text exposed exception classes, SQL,
hosts or ports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.chaos.api_probe import Answer

_SHOWN = 5  # examples of each problem in a report


@dataclass
class Verdict:
    """The findings of one scenario."""

    scenario: str
    """Its name in the table."""
    runs: int = 0
    """Runs the scenario got accepted (its workload, the probe's executes and sweeps)."""
    lost: list[str] = field(default_factory=list)
    """Runs that ended failed, each with its reason."""
    stuck: list[str] = field(default_factory=list)
    """Backtests still `running` (or tasks unfinished) when the scenario's time was up."""
    differ: list[str] = field(default_factory=list)
    """Completed runs whose metrics or equity curve differ from the clean run."""
    answers: list[Answer] = field(default_factory=list)
    """Every answer the API gave during the scenario."""
    exposed: list[str] = field(default_factory=list)
    """One entry per error text that exposes internals: where it was found and what it exposes."""
    recovery_s: float | None = None
    """Seconds from the end of the fault until every endpoint answered 2xx and every run had settled."""
    unrecovered_after: float | None = None
    """Set when that never happened: the seconds waited."""
    error: str | None = None
    """The scenario itself broke off (a step that must work did not)."""

    def expose(self, where: str, found: list[str]) -> None:
        """Note an error text that exposes internals, unless `found` is empty.

        where: the endpoint and status, or the kind of record, that carried the text.
        found: what it exposes (tests.chaos.exposure.exposures).
        """
        if found:
            self.exposed.append(f"{where}: {', '.join(found)}")

    @property
    def server_errors(self) -> list[Answer]:
        """5xx answers other than 503."""
        return [a for a in self.answers if a.status >= 500 and a.status != 503]

    @property
    def unavailable(self) -> list[Answer]:
        """503 answers."""
        return [a for a in self.answers if a.status == 503]

    @property
    def unanswered(self) -> list[Answer]:
        """Requests that got no answer at all."""
        return [a for a in self.answers if a.status == 0]

    def problems(self) -> list[str]:
        """Every broken rule, with a few examples each; empty when the scenario held."""
        found = []
        if self.error:
            found.append(f"the scenario broke off: {self.error}")
        for label, items in (("lost", self.lost), ("stuck", self.stuck), ("differ from a clean run", self.differ)):
            if items:
                found.append(f"{len(items)} runs {label}: " + "; ".join(items[:_SHOWN]))
        if self.server_errors:
            found.append(f"{len(self.server_errors)} answers 5xx but not 503: " + _examples(self.server_errors))
        bare = [a for a in self.unavailable if not a.retry_after]
        if bare:
            found.append(f"{len(bare)} answers 503 without Retry-After: " + _examples(bare))
        if self.unanswered:
            found.append(f"{len(self.unanswered)} requests got no answer: " + _examples(self.unanswered))
        if self.unrecovered_after is not None:
            found.append(f"not recovered {self.unrecovered_after:g}s after the fault")
        if self.exposed:
            kinds = Counter(self.exposed).most_common(_SHOWN)
            found.append(
                f"{len(self.exposed)} error texts expose internals: " + "; ".join(f"{n} x {k}" for k, n in kinds)
            )
        return found

    def check(self) -> None:
        """Fail the test with every problem found."""
        problems = self.problems()
        assert not problems, f"{self.scenario}:\n- " + "\n- ".join(problems)

    def row(self) -> list[str]:
        """The scenario's line in the table."""
        unavailable = self.unavailable
        with_retry = sum(1 for a in unavailable if a.retry_after)
        recovery = "-" if self.recovery_s is None else f"{self.recovery_s:.1f}"
        if self.unrecovered_after is not None:
            recovery = f">{self.unrecovered_after:g}"
        return [
            self.scenario,
            str(self.runs),
            str(len(self.lost)),
            str(len(self.stuck)),
            str(len(self.differ)),
            str(len(self.server_errors)),
            f"{len(unavailable)} ({with_retry})",
            str(len(self.unanswered)),
            str(len(self.exposed)),
            recovery,
            "held" if not self.problems() else "FAILED",
        ]


COLUMNS = [
    "scenario",
    "runs",
    "lost",
    "stuck",
    "differ",
    "5xx not 503",
    "503 (with Retry-After)",
    "no answer",
    "exposed",
    "recovery s",
    "result",
]


def table(verdicts: list[Verdict]) -> str:
    """The verdicts as a Markdown table, one scenario a line.

    verdicts: in the order the scenarios ran.
    """
    rows = [COLUMNS, *(v.row() for v in verdicts)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def write_report(path: Path, verdicts: list[Verdict], *, heading: str) -> None:
    """Write the table and each failed scenario's problems to `path`.

    path: the report file (its directory is created).
    verdicts: in the order the scenarios ran.
    heading: what ran where, for the first lines.
    """
    parts = [heading, "", table(verdicts)]
    for verdict in verdicts:
        problems = verdict.problems()
        if problems:
            parts += ["", f"## {verdict.scenario}", *(f"- {p}" for p in problems)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")


def _examples(answers: list[Answer]) -> str:
    """How many of each endpoint and status, with the first body of each."""
    groups: dict[tuple[str, int], list[Answer]] = {}
    for answer in answers:
        groups.setdefault((answer.endpoint, answer.status), []).append(answer)
    shown = []
    for (endpoint, status), group in sorted(groups.items(), key=lambda item: -len(item[1]))[:_SHOWN]:
        body = " ".join(group[0].body.split())[:240]
        shown.append(f"{len(group)} x {endpoint} -> {status or 'nothing'} {body}".rstrip())
    if len(groups) > _SHOWN:
        shown.append(f"and {len(groups) - _SHOWN} more kinds")
    return "; ".join(shown)
