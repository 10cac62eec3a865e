"""The client's grid search and the `backtest grid` command against the e2e stack."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.e2e.researcher.conftest import parsed
from tests.e2e.researcher.test_cli import BASE_YAML


def test_grid_search_returns_the_top_and_every_run_as_a_dataframe(client, daily):
    space = {
        "signal_plugin_params.fast_period": {"start": 3, "stop": 9, "step": 3},
        "signal_plugin_params.slow_period": [20, 40],
    }
    handle = client.grid_search(daily[1], space, top_n=4)
    assert (handle.n_configs, handle.n_combinations, handle.skipped) == (6, 6, {})
    top = handle.wait(progress=False)
    runs = handle.runs()
    assert isinstance(runs, pd.DataFrame) and len(runs) == 6 and len(top) == 4
    assert runs["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert list(top["backtest_id"]) == list(runs["backtest_id"][:4])
    assert set(runs["signal_plugin_params.fast_period"]) == {3, 6, 9}
    dsr = runs["perf_deflated_sharpe_ratio"].to_numpy(dtype=float)
    assert np.all((dsr >= 0) & (dsr <= 1))
    figures = handle.overfitting()
    assert figures["n_trials"] == 6 and 0 <= figures["pbo"] <= 1


def test_cli_grid_prints_the_top_and_saves_every_run(cli, daily, tmp_path):
    symbol, config = daily
    base = tmp_path / "base.yaml"
    base.write_text(BASE_YAML.format(symbol=symbol, start=config.start, end=config.end))
    out = tmp_path / "runs.parquet"
    params = ["--param", "signal_plugin_params.fast_period=4:8:2", "--param", "signal_plugin_params.slow_period=30,50"]
    result = parsed(cli("grid", "--base", str(base), *params, "--top", "3", "--out", str(out), "--json"))
    assert result["status"] == "SUCCESS" and len(result["leaderboard"]) == 3
    assert result["n_configs"] == 6 and result["overfitting"]["n_trials"] == 6
    saved = pd.read_parquet(out)
    assert len(saved) == 6 and saved["backtest_id"].tolist()[:3] == [e["backtest_id"] for e in result["leaderboard"]]
    text = cli("grid", "--base", str(base), "--param", "signal_plugin_params.fast_period=5,10")
    assert text.returncode == 0, text.stderr
    assert "probability of backtest overfitting" in text.stdout
