"""Two of issue 13's worker rows, alone and quickly: what INFO logging costs, and the
worker's memory. Uses bench/run.py's procedure (real `manage.py runworker` processes,
jobs queued first, rate = N / (last end − first start)), without the peers.

    .venv/bin/python bench/worker_costs.py [--db sqlite|postgres|both] [--jobs N] [--repeat K]
                                           [--memory-jobs N] [--skip-memory] [--skip-logging]

Logging: 1 process at LOG_LEVEL=WARNING and at INFO (the default), run alternately K
times each; the best of each (the machine is shared: best is the least disturbed run).
Memory: 1 process over --memory-jobs jobs at WARNING: VmHWM, VmRSS after 10 % of the jobs
and at the end, and where the end's RSS is (from /proc/<pid>/smaps_rollup and smaps:
anonymous memory, i.e. the Python heap and malloc arenas, against pages of mapped files,
the largest shared libraries by name). Prints markdown tables with the load average.
"""

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import run
from procs import load_average, proc_memory_kb, start_workers
from run import WORK_DIR, create_database, driver, drop_database, environment, mib, worker_argv
from worker_ab import cpu_text, measure_with_cpu, median_cpu

Run = tuple[float, float]  # jobs/s, the worker's CPU µs per job

DB_LABEL = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass
class MemoryRun:
    rate: float
    n: int
    hwm_kb: int
    checkpoint_kb: int
    end_kb: int
    parts_kb: dict[str, int]  # smaps_rollup: Anonymous, Rss, ...
    libraries_kb: list[tuple[str, int]]  # (mapped file, its resident kB), largest first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--jobs", type=int, default=20_000, help="Jobs per logging run (default 20,000).")
    parser.add_argument("--repeat", type=int, default=3, help="Runs at each level, alternating (default 3).")
    parser.add_argument("--memory-jobs", type=int, default=100_000, help="Jobs for the memory run (default 100,000).")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-logging", action="store_true")
    a = parser.parse_args()
    dbs = ["sqlite", "postgres"] if a.db == "both" else [a.db]
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    for db in dbs:
        label = DB_LABEL[db]
        create_database(db, "ours")
        driver("ours", environment(db, "ours"), "setup")
        try:
            if not a.skip_logging:
                print_logging(label, *measure_logging(db, a.jobs, a.repeat), jobs=a.jobs, repeat=a.repeat)
            if not a.skip_memory:
                print_memory(label, measure_memory(db, a.memory_jobs))
        finally:
            drop_database(db, "ours")
    return 0


def measure_logging(db: str, n: int, repeat: int) -> tuple[list[Run], list[Run], list[str]]:
    """Alternate runs at WARNING and INFO: (rate, the worker's CPU µs per job) of each."""
    warning: list[Run] = []
    info: list[Run] = []
    loads: list[str] = []
    for _ in range(repeat):
        loads.append(load_average())
        for level, runs in (("WARNING", warning), ("INFO", info)):
            args = argparse.Namespace(db=db, jobs=n, processes=1, log_level=level)
            runs.append(measure_with_cpu(run, args, fresh=False))
    return warning, info, loads


def print_logging(label: str, warning: list[Run], info: list[Run], loads: list[str], *, jobs: int, repeat: int) -> None:
    best_w, best_i = max(r for r, _ in warning), max(r for r, _ in info)
    cost = 1 - best_i / best_w
    verdict = "met" if cost <= 0.10 else "**NOT met**"
    # The worker's own CPU per job: far less disturbed by the rest of a shared machine than
    # the rate, whose runs can differ by half (the rate's verdict stays the measure).
    cpu_w, cpu_i = median_cpu(warning), median_cpu(info)
    print(f"\n{label}: throughput, 1 worker process, {jobs:,} no-op jobs per run, best of {repeat} (runs alternate)\n")
    print("| LOG_LEVEL | best | every run | worker CPU per job (median) | load average before each pair |")
    print("| --- | ---: | --- | ---: | --- |")
    for level, runs, best, cpu, load in (
        ("WARNING", warning, best_w, cpu_w, "; ".join(loads)),
        ("INFO (default)", info, best_i, cpu_i, ""),
    ):
        print(f"| {level} | {best:,.0f}/s | {', '.join(f'{r:,.0f}' for r, _ in runs)} | {cpu_text(cpu)} | {load} |")
    cpu_cost = "—" if math.isnan(cpu_i / cpu_w) else f"{cpu_i / cpu_w - 1:+.1%}"
    print(
        f"\nLogging costs {cost:+.1%} of throughput (target ≤ 10 %: {verdict}); "
        f"in the worker's CPU per job, {cpu_cost} (medians)."
    )


def measure_memory(db: str, n: int) -> MemoryRun:
    """As run.py's memory row, plus where the resident pages are at the end."""
    env = environment(db, "ours")
    driver("ours", env, "reset")
    driver("ours", env, "seed", str(n))
    workers = start_workers(worker_argv("ours"), env, 1, WORK_DIR / "log" / f"ours-{db}-memory.log")
    pid = workers.pids[0]
    checkpoint = n // 10
    sampled: dict[str, int] = {}

    def on_progress(line: dict) -> None:
        workers.check_alive()
        if "progress" in line and "at" not in sampled and line["progress"] >= checkpoint:
            sampled["at"] = proc_memory_kb(pid)["VmRSS"]

    try:
        out = driver("ours", env, "wait", str(n), "--timeout", str(max(300, n / 100)), on_line=on_progress)
        memory = proc_memory_kb(pid)
        parts = _smaps_rollup(pid)
        libraries = _resident_by_file(pid)
    finally:
        workers.stop()
    return MemoryRun(
        rate=out["rate"],
        n=n,
        hwm_kb=memory["VmHWM"],
        checkpoint_kb=sampled.get("at", 0),
        end_kb=memory["VmRSS"],
        parts_kb=parts,
        libraries_kb=libraries,
    )


def _smaps_rollup(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        out[key] = int(value.split()[0])
    return out


def _resident_by_file(pid: int) -> list[tuple[str, int]]:
    """Resident kB per mapping name ([heap], [anon], a library's path), largest first."""
    by_name: dict[str, int] = {}
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and len(fields[0]) > 10 and fields[0][0] in "0123456789abcdef":
            name = fields[5] if len(fields) > 5 else "[anon]"
        elif fields and fields[0] == "Rss:":
            by_name[name] = by_name.get(name, 0) + int(fields[1])
    return sorted(by_name.items(), key=lambda kv: -kv[1])


def print_memory(label: str, m: MemoryRun) -> None:
    growth = mib(m.end_kb) - mib(m.checkpoint_kb)
    verdict = "met" if mib(m.hwm_kb) <= 55 and growth < 5 else "**NOT met**"
    file_kb = m.parts_kb.get("Rss", 0) - m.parts_kb.get("Anonymous", 0)
    print(f"\n{label}: worker memory, 1 process over {m.n:,} jobs at {m.rate:,.0f}/s (load {load_average()})\n")
    print("| figure | MiB |")
    print("| --- | ---: |")
    print(f"| peak RSS (VmHWM) | {mib(m.hwm_kb):.1f} |")
    print(f"| RSS after {m.n // 10:,} jobs | {mib(m.checkpoint_kb):.1f} |")
    print(f"| RSS at the end | {mib(m.end_kb):.1f} |")
    print(f"| … anonymous (Python heap, malloc arenas, thread stacks) | {mib(m.parts_kb.get('Anonymous', 0)):.1f} |")
    print(f"| … pages of mapped files (libraries, .so modules) | {mib(file_kb):.1f} |")
    for name, kb in m.libraries_kb[:12]:
        print(f"| … … {_short(name)} | {mib(kb):.1f} |")
    print(f"\nPeak ≤ 55 MiB and flat (here {growth:+.1f} MiB after the first 10 %): {verdict}.")


def _short(name: str) -> str:
    return name if "/" not in name else "/".join(Path(name).parts[-2:])


if __name__ == "__main__":
    sys.exit(main())
