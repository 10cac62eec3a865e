"""The README's walkthroughs run as written against the e2e stack, so their examples never rot.

The curl walkthrough's shell blocks run in one bash with `set -euo
pipefail`; every curl in them uses --fail, so any 4xx or 5xx, or a missing
field in a response, fails the test with the script's output. The Python
walkthrough runs in the venv's interpreter and the command-line one in bash
with the venv's `backtest` on PATH, both with BACKTEST_API_URL naming the
stack: any exception or non-zero exit fails the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
VENV_BIN = Path(sys.executable).parent


def walkthrough(marker: str = "walkthrough", language: str = "sh") -> str:
    """The code of the `language` blocks between `<!-- {marker}:start -->` and its end marker."""
    text = README.read_text()
    section = text.split(f"<!-- {marker}:start -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
    blocks = re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)
    assert blocks, f"no {language} blocks between the {marker} markers"
    return "\n".join(blocks)


def run_walkthrough(command: list[str], cwd: Path, gateway_url: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(cwd)),
        "BACKTEST_API_URL": gateway_url,
    }
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, f"walkthrough failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_readme_walkthrough_runs(stack, tmp_path):
    script = "set -euo pipefail\n" + walkthrough()
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "API": stack.gateway_url + "/api/v1"},
    )
    assert done.returncode == 0, f"walkthrough failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    downloads = sorted(p.name for p in tmp_path.glob("*.parquet"))
    assert [name.split("_")[0] for name in downloads] == ["equity", "trades"]
    assert done.stdout.rstrip().endswith("204\n204")  # the two deletes (the PATCH reply has no newline)


def test_readme_python_walkthrough_runs(stack, tmp_path):
    done = run_walkthrough(
        [sys.executable, "-c", walkthrough("python-walkthrough", "python")], tmp_path, stack.gateway_url
    )
    assert "perf_sharpe_ratio" in done.stdout
    for name in ("aapl_tearsheet.html", "aapl_sweep.html"):
        assert (tmp_path / name).read_text().startswith("<!DOCTYPE html>")


def test_readme_command_line_walkthrough_runs(stack, tmp_path):
    done = run_walkthrough(
        ["bash", "-c", "set -euo pipefail\n" + walkthrough("cli-walkthrough")], tmp_path, stack.gateway_url
    )
    assert "leaderboard by perf_sharpe_ratio" in done.stdout and "comparison" in done.stdout
    assert (tmp_path / "tearsheet.html").read_text().count('<svg class="chart"') == 5


def test_readme_shows_both_commands_first():
    first_block = README.read_text().split("```")[1]
    assert "make up" in first_block and "make test" in first_block
