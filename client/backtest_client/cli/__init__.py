"""The `backtest` command: the platform from a terminal, on the Python client.

Exit codes: 0 done; 1 the run failed or the platform answered an error
(not found, conflict, unavailable, server error, unreachable); 2 a usage or
validation error, the bad field named; 130 Ctrl-C during a wait, which stops
waiting but not the run (its task id is printed to come back to).
"""

from backtest_client.cli.app import app


def main() -> None:
    """Entry point of the `backtest` script."""
    app()
