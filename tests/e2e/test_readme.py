"""The README's walkthrough runs as written against the e2e stack, so its examples never rot.

The shell blocks between the walkthrough markers run in one bash with
`set -euo pipefail`; every curl in them uses --fail, so any 4xx or 5xx, or a
missing field in a response, fails the test with the script's output.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    section = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks, "no shell blocks between the walkthrough markers"
    return "\n".join(blocks)


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


def test_readme_shows_both_commands_first():
    first_block = README.read_text().split("```")[1]
    assert "make up" in first_block and "make test" in first_block
