"""Where the time of a sync execute, and of a vectorbt sweep, goes.

With the stack's executors stopped, a traced executor in this process takes
the jobs (see traced_executor). Per sync execute, from the client's send to
its last byte:

  client -> claim committed   gateway in, gRPC to catalog, event subscription, claim transaction
                              (up to the catalog's "dispatched" log line, whose time stamp is
                              cut to the millisecond: this part reads up to 1 ms short, the next long)
  -> job received             JetStream publish (straight after the claim commits) + delivery to the pull
  bars, run, artifacts (encode + PUTs), CompleteRuns   timed in the executor
  metrics                     timed too, but computed while the artifacts encode and upload
  StartRuns                   timed too, but it travels while bars load and the run computes
  executor other              resolve, thread hand-offs, gaps between the steps
  -> client has response      event to the waiting call, row re-read, convert, gateway transcoding

The same execute straight over gRPC (no gateway) and the gateway's own
access-log duration split off the gateway. A 50-config sweep is traced the
same way (one job: the traced executor is not in the registry).
"""

from __future__ import annotations

import statistics
import time

import grpc

from backtest.v1 import catalog_pb2, catalog_pb2_grpc
from bench import commit_latency
from bench.report import Figure
from bench.service_logs import LogReader
from bench.session import Session
from bench.sweeps import run_sweep
from bench.timing import repeat, wall_offset
from bench.traced_executor import TracedExecutor
from bench.workload import GRID, create_backtest, create_strategy, execute_sync
from services.adapters.engines import get_engine

SECTION = "breakdown of one vectorbt sync execute (medians)"
SWEEP_SECTION = "breakdown of one 50-config vectorbt sweep (one traced job)"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _execute_segments(session: Session, traced: TracedExecutor, backtest_id: str) -> tuple[dict, float]:
    """Per-segment samples (seconds) over `runs` traced sync executes, and the median client total."""
    catalog = LogReader(session.stack.log_path("catalog"))
    gateway = LogReader(session.stack.log_path("gateway"))
    offset = wall_offset()
    for _ in range(session.options.warm_up):
        execute_sync(session.client, backtest_id)
    first = len(traced.traces)
    calls = []
    for _ in range(session.options.runs):
        began = time.perf_counter()
        execute_sync(session.client, backtest_id)
        calls.append((began, time.perf_counter()))
    time.sleep(0.2)  # the last log lines land
    skip = session.options.warm_up
    dispatched = [e["t"] for e in catalog.entries("dispatched", backtest_id=backtest_id)][skip:]
    path = f"/api/v1/backtests/{backtest_id}/execute"
    in_gateway = [e["duration_ms"] / 1e3 for e in gateway.entries("request", path=path)][skip:]
    segments: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        segments.setdefault(name, []).append(value)

    for (began, ended), trace, claimed in zip(calls, traced.traces[first:], dispatched, strict=False):
        complete_end = trace.last_end("CompleteRuns")
        steps = {
            "bars (executor cache hit)": trace.seconds("bars"),
            "run: signal + engine": trace.seconds("run"),
            "artifacts: Parquet encode + 2 overlapped S3 PUTs (metrics alongside)": trace.seconds("artifacts"),
            "CompleteRuns RPC (commit + event)": trace.seconds("CompleteRuns"),
        }
        add("client -> claim committed (gateway, gRPC, claim tx)", claimed - (began + offset))
        add("-> job received (outbox relay, JetStream)", trace.received + offset - claimed)
        for name, value in steps.items():
            add(name, value)
        add("executor other (resolve, thread hand-offs)", complete_end - trace.received - sum(steps.values()))
        add("StartRuns RPC (in parallel with bars + run)", trace.seconds("StartRuns"))
        add("metrics (in parallel with the artifacts)", trace.seconds("metrics"))
        add("CompleteRuns -> client has response (event, re-read, gateway)", ended - complete_end)
        add("ack after CompleteRuns (parallel to the response)", (trace.done or complete_end) - complete_end)
    segments["in the gateway (access log duration)"] = in_gateway
    return segments, _median([e - b for b, e in calls])


def _grpc_direct(session: Session, backtest_id: str) -> tuple[float, float]:
    """Median seconds of the same sync execute straight to the catalog's gRPC port, and of a GetBacktest there."""
    with grpc.insecure_channel(session.stack.catalog_addr) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        request = catalog_pb2.ExecuteBacktestRequest(backtest_id=backtest_id, async_mode=False)
        execute = repeat(
            lambda: stub.ExecuteBacktest(request, timeout=60),
            times=session.options.runs,
            warm_up=session.options.warm_up,
        )
        read = catalog_pb2.GetBacktestRequest(backtest_id=backtest_id)
        get = repeat(lambda: stub.GetBacktest(read, timeout=60), times=session.options.runs, warm_up=2)
        return execute.median, get.median


def _sweep(session: Session, traced: TracedExecutor, strategy_id: str) -> tuple[float, dict[str, float]]:
    """(seconds, seconds per part) of one traced 50-config vectorbt sweep."""
    first = len(traced.traces)
    began = time.perf_counter()
    sweep = run_sweep(session, strategy_id, "vectorbt", GRID)
    ended = began + sweep.seconds
    jobs = traced.traces[first:]
    if len(jobs) != 1:
        session.report.note(f"traced sweep ran as {len(jobs)} jobs; its breakdown sums over them")
    parts = {
        "submit -> job received (create 50 rows, outbox, JetStream)": min(j.received for j in jobs) - began,
        "bars": sum(j.seconds("bars") for j in jobs),
        "run_many: 50 columns in one vectorbt call": sum(j.seconds("run") for j in jobs),
        "artifacts x50: encode + 2 batch-file PUTs (wall)": sum(j.wall("artifacts") for j in jobs),
        "CompleteRuns (one RPC + transaction per job)": sum(j.seconds("CompleteRuns") for j in jobs),
    }
    busy = sum(j.last_end("CompleteRuns") - j.received for j in jobs)
    parts["executor other"] = busy - sum(v for k, v in parts.items() if not k.startswith("submit"))
    parts["StartRuns (in parallel with bars + run_many)"] = sum(j.seconds("StartRuns") for j in jobs)
    parts["metrics x50 (in parallel with the artifacts)"] = sum(j.seconds("metrics") for j in jobs)
    parts["last CompleteRuns -> client sees SUCCESS (finalize, poll)"] = ended - max(
        j.last_end("CompleteRuns") for j in jobs
    )
    session.say(f"  traced sweep: {sweep.seconds:.3f} s")
    return sweep.seconds, parts


def run(session: Session) -> None:
    """Traces sync executes and a sweep with the stack's executors stopped, and adds their parts."""
    session.say("breakdown: stack executors stopped; a traced executor in this process takes the jobs")
    session.fleet.ensure(0)
    get_engine("vectorbt").warm_up()
    strategy_id = session.memo.get("strategy") or create_strategy(session.client, "breakdown")
    session.memo["strategy"] = strategy_id
    backtest_id = session.memo.get("backtest:vectorbt") or create_backtest(session.client, strategy_id, "vectorbt")
    with TracedExecutor(session.stack.env) as traced:
        segments, total = _execute_segments(session, traced, backtest_id)
        direct, get = _grpc_direct(session, backtest_id)
        sweep_total, sweep_parts = _sweep(session, traced, strategy_id)
    add = session.report.add
    add(SECTION, Figure("client total, REST via gateway (traced executor)", total * 1e3, "ms"))
    add(
        SECTION,
        Figure(
            "same execute over gRPC to the catalog (no gateway)",
            direct * 1e3,
            "ms",
            baseline=total * 1e3,
            baseline_label="REST",
            ratio=direct / total,
        ),
    )
    for name, values in segments.items():
        value = _median(values)
        add(SECTION, Figure(name, value * 1e3, "ms", baseline=total * 1e3, baseline_label="total", ratio=value / total))
    round_trip, commit = commit_latency.of_session(session)
    add(SECTION, Figure("for scale: GetBacktest over gRPC (one catalog read)", get * 1e3, "ms"))
    add(SECTION, Figure("for scale: PostgreSQL SELECT 1 round trip", round_trip.median * 1e3, "ms"))
    add(
        SECTION,
        Figure("for scale: PostgreSQL durable commit (BEGIN; txid_current(); COMMIT)", commit.median * 1e3, "ms"),
    )
    add(SWEEP_SECTION, Figure("client total, submit -> SUCCESS seen", sweep_total * 1e3, "ms"))
    for name, value in sweep_parts.items():
        add(
            SWEEP_SECTION,
            Figure(
                name, value * 1e3, "ms", baseline=sweep_total * 1e3, baseline_label="total", ratio=value / sweep_total
            ),
        )
