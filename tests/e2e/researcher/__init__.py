"""The researcher's toolkit end to end: the Python client, the `backtest` command, the HTML reports."""
