"""The installed `backtest` command against the stack: every command, its --json output, its exit codes."""

from __future__ import annotations

import signal
import subprocess
import uuid

import pytest

from backtest_client.tasks import SweepTask
from tests.e2e.conformance import synthetic_bars
from tests.e2e.researcher.conftest import BACKTEST, parsed, run_args

BASE_YAML = """\
symbol: {symbol}
timeframe: 1d
start_date: {start}
end_date: {end}
signal_plugin_key: crossover_signal
signal_plugin_params: {{fast_period: 5, slow_period: 20}}
"""


def test_data_import_and_list(cli, tmp_path):
    symbol = synthetic_bars.unique_symbol("CLI")
    path = tmp_path / "bars.parquet"
    path.write_bytes(synthetic_bars.to_parquet(synthetic_bars.daily(80)))
    summary = parsed(cli("data", "import", str(path), "--symbol", symbol, "--timeframe", "1d", "--json"))
    assert summary["symbol"] == symbol and summary["rows"] == 80
    listed = parsed(cli("data", "list", "--json"))
    assert {"symbol": symbol, "timeframe": "1d"} in [{k: s[k] for k in ("symbol", "timeframe")} for s in listed]
    table = cli("data", "list")
    assert table.returncode == 0 and symbol in table.stdout


def test_run_prints_the_metrics_and_json_has_them_all(cli, daily):
    done = parsed(
        cli(*run_args(daily, "-p", "fast_period=5", "-p", "slow_period=20", "--engine", "vectorbt", "--json"))
    )
    assert done["status"] == "completed" and done["config"]["params"] == {
        "fast_period": 5,
        "ma_type": "sma",
        "slow_period": 20,
    }
    assert isinstance(done["metrics"]["perf_sharpe_ratio"], float)
    text = cli(*run_args(daily, "-p", "fast_period=5", "-p", "slow_period=20", "--set", "size_type=percent"))
    assert text.returncode == 0, text.stderr
    assert "sharpe_ratio" in text.stdout and "max_drawdown" in text.stdout and "completed" in text.stdout


def test_show_trades_and_compare(cli, completed, swept):
    shown = parsed(cli("show", completed.id, "--json"))
    assert shown["id"] == completed.id and shown["metrics"] == completed.metrics
    trades = parsed(cli("trades", completed.id, "--json"))
    assert len(trades) == len(completed.trades) and trades[0]["side"] in ("long", "short")
    assert completed.id[:8] in cli("trades", completed.id, "--limit", "3").stdout
    first, last = (completed.trades["entry_date"].iloc[i].isoformat() for i in (1, -2))
    window = parsed(cli("trades", completed.id, "--from", first, "--to", last, "--json"))
    assert len(window) == len(completed.trades) - 2 and window[0]["pnl"] == pytest.approx(
        completed.trades["pnl"].iloc[1]
    )
    ids = list(swept[1]["backtest_id"][:2])
    rows = parsed(cli("compare", *ids, "--json"))
    sharpe = next(r for r in rows if r["metric"] == "perf_sharpe_ratio")
    assert sharpe["best"] == max(ids, key=lambda i: sharpe[i])
    table = cli("compare", *ids)
    assert table.returncode == 0 and "✓" in table.stdout


def test_sweep_shows_progress_and_prints_the_leaderboard(cli, daily, tmp_path):
    symbol, config = daily
    base = tmp_path / "base.yaml"
    base.write_text(BASE_YAML.format(symbol=symbol, start=config.start, end=config.end))
    grid = ["--grid", "signal_plugin_params.fast_period=5,10", "--grid", "signal_plugin_params.slow_period=30,60"]
    result = parsed(cli("sweep", "--base", str(base), *grid, "--rank-metric", "total_return", "--json"))
    board = result["leaderboard"]
    assert result["status"] == "SUCCESS" and len(board) == 4 and result["rank_metric"] == "total_return"
    returns = [entry["metrics"]["total_return"] for entry in board]
    assert returns == sorted(returns, reverse=True)
    text = cli("sweep", "--base", str(base), "--grid", "signal_plugin_params.fast_period=5,10")
    assert text.returncode == 0, text.stderr
    assert "leaderboard by perf_sharpe_ratio" in text.stdout and "2/2" in text.stderr  # the bar's last state


def test_report_writes_the_html_of_a_run_and_of_a_sweep(cli, completed, swept, tmp_path):
    out = tmp_path / "run.html"
    written = parsed(cli("report", completed.id, "-o", str(out), "--json"))
    assert written["path"] == str(out) and out.read_text().count('<svg class="chart"') == 5
    sweep_out = tmp_path / "sweep.html"
    assert cli("report", swept[0].task_id, "--task", "-o", str(sweep_out)).returncode == 0
    assert "Leaderboard" in sweep_out.read_text()
    default = cli("report", completed.id, cwd=tmp_path)
    assert default.returncode == 0 and (tmp_path / f"report_{completed.id}.html").is_file()


def test_task_shows_a_finished_sweep(cli, swept):
    state = parsed(cli("task", swept[0].task_id, "--wait", "--json"))
    assert state["status"] == "SUCCESS" and state["progress"]["total"] == 6


def test_a_validation_error_exits_2_naming_the_field(cli, daily):
    symbol, config = daily
    swapped = cli("run", "--symbol", symbol, "--from", str(config.end), "--to", str(config.start))
    assert swapped.returncode == 2
    assert "config.end_date" in swapped.stderr and "must be after start_date" in swapped.stderr
    as_json = parsed(cli(*run_args(daily, "--engine", "zipline", "--json")), code=2)
    assert [v["field"] for v in as_json["error"]["violations"]] == ["engine"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["run", "--symbol", "X", "--from", "2020-01-01", "--to", "2021-01-01", "-p", "fast_period"], "--param"),
        (["run", "--symbol", "X", "--from", "2020-01-01"], "--to"),
        (["sweep", "--base", "/nonexistent.yaml", "--grid", "a=1"], "--base"),
        (["sweep", "--base", "/nonexistent.yaml", "--grid", "a"], "--grid"),
    ],
)
def test_a_usage_error_exits_2_naming_the_option(cli, args, named):
    done = cli(*args)
    assert done.returncode == 2 and named in done.stderr


def test_an_unknown_id_or_a_failed_run_exits_1(cli, daily):
    missing = str(uuid.uuid4())
    shown = cli("show", missing)
    assert shown.returncode == 1 and missing in shown.stderr
    symbol = synthetic_bars.unique_symbol("NODATA")
    config = daily[1]
    failed = parsed(cli("run", "--symbol", symbol, "--from", str(config.start), "--to", str(config.end), "--json"), 1)
    assert failed["error"]["type"] == "RunFailedError" and symbol in failed["error"]["reason"]
    unreachable = subprocess.run(
        [str(BACKTEST), "--api-url", "http://127.0.0.1:9", "data", "list"], capture_output=True, text=True, timeout=60
    )
    assert unreachable.returncode == 1 and "cannot reach the API at http://127.0.0.1:9" in unreachable.stderr


def test_ctrl_c_stops_waiting_but_not_the_sweep(client, gateway_url, tmp_path):
    # Backtrader over half a year of one-minute bars: seconds a run, so the wait is on when Ctrl-C comes.
    base = tmp_path / "base.yaml"
    base.write_text(BASE_YAML.format(symbol="SYNTH1M", start="2016-03-03", end="2016-09-01").replace("1d", "1m"))
    command = [str(BACKTEST), "--api-url", gateway_url, "sweep", "--base", str(base), "--engine", "backtrader"]
    command += ["--grid", "signal_plugin_params.fast_period=5,10", "--grid", "signal_plugin_params.slow_period=30,60"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_deliver_sigint
    )
    assert process.stderr is not None
    announced = process.stderr.readline()  # "sweep of 4 runs: task <id>", printed as the wait starts
    task_id = announced.strip().rsplit(" ", 1)[-1]
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"backtest task {task_id} --wait" in stderr and "goes on" in stderr
    # The sweep goes on without the command: it finishes, every run completed.
    board = SweepTask(client, task_id, 4).wait(progress=False, timeout=300)
    assert len(board) == 4 and set(board["status"]) == {"completed"}


def _deliver_sigint() -> None:
    """Runs in the child before exec: a shell's background job (make test under nohup or &) ignores SIGINT,
    and a child inherits that, so Python would install no KeyboardInterrupt handler. A terminal's Ctrl-C
    reaches a foreground command with the default disposition; give the child that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
