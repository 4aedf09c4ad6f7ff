"""Our worker's throughput row alone, two checkouts side by side: run.py's procedure (N jobs
queued, then `manage.py runworker` processes with their defaults; rate = N / (last end −
first start)), this checkout and each `--against` checkout in turn, `--rounds` times, so
that both see the same load on a shared machine. Besides the rate, the CPU time of the
(first) worker process per job, counted from its first finished job: much less disturbed
by other processes than the wall clock.

    .venv/bin/python bench/worker_ab.py --against /work/main [--db sqlite|postgres] [--jobs N]
                                        [--rounds K] [--processes P] [--log-level INFO]

Each checkout runs with its own code and bench/ (SQLite: its own var/bench/ file;
PostgreSQL: the one `bench_hcm` database, dropped and made again for each checkout's first
round). Prints one line per run and a summary: best and median rate, median CPU per job.
"""

import argparse
import importlib
import math
import os
import statistics
import sys
from pathlib import Path
from types import ModuleType

from procs import load_average

PROJECT_DIR = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", action="append", required=True, help="Another checkout (repeatable).")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--log-level", default="INFO")
    a = parser.parse_args()
    trees = [PROJECT_DIR, *(Path(t).resolve() for t in a.against)]
    benches = {tree: _bench_module(tree) for tree in trees}
    runs: dict[Path, list[tuple[float, float]]] = {tree: [] for tree in trees}
    for round_ in range(a.rounds):
        for tree in trees:
            load = load_average()
            rate, cpu_us = measure_with_cpu(benches[tree], a, fresh=round_ == 0)
            runs[tree].append((rate, cpu_us))
            print(f"{tree}: {rate:,.0f} jobs/s, worker CPU {cpu_text(cpu_us)}/job (load before: {load})", flush=True)
    print(f"\n{a.db}, {a.processes} process(es), {a.jobs:,} jobs, LOG_LEVEL={a.log_level}, {a.rounds} rounds\n")
    print("| checkout | best | median | worker CPU per job (median) |")
    print("| --- | ---: | ---: | ---: |")
    for tree, results in runs.items():
        rates = [r for r, _ in results]
        cpu = median_cpu(results)
        print(f"| {tree} | {max(rates):,.0f}/s | {statistics.median(rates):,.0f}/s | {cpu_text(cpu)} |")
    return 0


def median_cpu(runs: list[tuple[float, float]]) -> float:
    """The median CPU per job of the runs (rate, CPU µs per job) that counted one; NaN if
    none did (see measure_with_cpu)."""
    counted = [c for _, c in runs if not math.isnan(c)]
    return statistics.median(counted) if counted else math.nan


def cpu_text(cpu_us: float) -> str:
    return "—" if math.isnan(cpu_us) else f"{cpu_us:.1f} µs"


def _bench_module(tree: Path) -> ModuleType:
    """That checkout's bench/run.py (its paths, its driver.py, its manage.py)."""
    for name in ("run", "procs", "report"):
        sys.modules.pop(name, None)
    sys.path.insert(0, str(tree / "bench"))
    try:
        return importlib.import_module("run")
    finally:
        sys.path.pop(0)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure_with_cpu(run: ModuleType, a: argparse.Namespace, *, fresh: bool) -> tuple[float, float]:
    """As run.measure_throughput, plus the first worker's CPU time per job (`a`: db, jobs,
    processes, log_level; `run`: a checkout's bench/run.py module)."""
    run.WORK_DIR.mkdir(parents=True, exist_ok=True)
    missing = a.db == "sqlite" and not (run.WORK_DIR / f"{run.DB_NAMES['ours']}.sqlite3").exists()
    if missing or (a.db == "postgres" and fresh):
        run.create_database(a.db, "ours")
        run.driver("ours", run.environment(a.db, "ours"), "setup")
    env = run.environment(a.db, "ours")
    run.driver("ours", env, "reset")
    run.driver("ours", env, "seed", str(a.jobs))
    worker_env = run.environment(a.db, "ours", log_level=a.log_level)
    workers = run.start_workers(run.worker_argv("ours"), worker_env, a.processes, run.WORK_DIR / "log" / "ab.log")
    first: dict[str, float] = {}

    def on_progress(line: dict) -> None:
        workers.check_alive()
        if line.get("progress") and "cpu" not in first:
            first.update(cpu=_cpu_seconds(workers.pids[0]), done=line["progress"])

    try:
        out = run.driver("ours", env, "wait", str(a.jobs), "--timeout", "300", on_line=on_progress)
        cpu = _cpu_seconds(workers.pids[0])
    finally:
        workers.stop()
    if out.get("timed_out") or out.get("failed"):
        raise run.BenchError(f"{out['done']} of {a.jobs} done, {out['failed']} failed")
    # Counted from the first progress line (the worker's start-up left out); NaN when no
    # line came before the end, or the first already had every job: nothing to count.
    counted = a.jobs - first.get("done", a.jobs)
    cpu_us = (cpu - first["cpu"]) / counted * 1e6 if counted else math.nan
    return out["rate"], cpu_us


if __name__ == "__main__":
    sys.exit(main())
