"""Benchmark the project's job system against django-tasks-db, on SQLite and PostgreSQL.

    .venv/bin/python bench/run.py [--jobs N] [--db sqlite|postgres|both] [--quick]

Prints a markdown table: enqueue rate, throughput with 1 and 2 worker processes (no-op
jobs), enqueue-to-start latency with an idle worker, and worker memory, each beside
django-tasks-db's figure with the ratio, and the issue's targets marked met / NOT met.
Each system gets its own dedicated database (created here, dropped at the end); every
run starts from empty tables. Nothing is tuned for the benchmark: both workers run with
their default options, except the ones the notes under the table name.
"""

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from procs import PROJECT_DIR, PYTHON, BenchError, WorkerProcs, driver, load_average, proc_memory_kb, start_workers
from report import Figure, Row, Target, render

WORK_DIR = PROJECT_DIR / "var" / "bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgres://postgres@127.0.0.1:5432/{name}"
# BENCH_DB_SUFFIX keeps two benchmark runs on one PostgreSQL server (e.g. two engineers'
# worktrees) from dropping each other's databases.
_SUFFIX = f"_{os.environ['BENCH_DB_SUFFIX']}" if os.environ.get("BENCH_DB_SUFFIX") else ""
DB_NAMES = {"ours": f"bench_hcm{_SUFFIX}", "tasksdb": f"bench_tasksdb{_SUFFIX}"}
DB_LABEL = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
T = TypeVar("T")

OURS_WORKER = [PYTHON, "manage.py", "runworker"]
# --no-startup-delay: skip its random 0–1 s sleep at start (meant against a thundering
# herd), which would otherwise fall inside the 2-process measurement window.
TASKSDB_WORKER = [PYTHON, "bench/tasksdb_project/manage.py", "db_worker", "--no-startup-delay"]
# -v 0 is db_worker's way to quiet its per-task INFO lines (what LOG_LEVEL=WARNING does for ours).
TASKSDB_QUIET = ["-v", "0"]


@dataclass
class Plan:
    jobs: int
    tasksdb_jobs: int
    enqueue_jobs: int
    memory_jobs: int
    latency_samples: int
    dbs: list[str]
    quick: bool
    keep: bool
    repeat: int


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def main() -> int:
    plan = parse_args()
    ensure_tasksdb_installed()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    results = Results()
    load_before = load_average()
    t0 = time.monotonic()
    try:
        for db in plan.dbs:
            run_database(db, plan, results)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print_report(plan, results, load_before=load_before, minutes=(time.monotonic() - t0) / 60)
    return 0


def parse_args() -> Plan:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, help="No-op jobs per throughput run of ours (default 20,000).")
    parser.add_argument("--tasksdb-jobs", type=int, help="Jobs per throughput run of django-tasks-db (default N/4).")
    parser.add_argument("--enqueue-jobs", type=int, help="Jobs enqueued to time the enqueue rate (default 5,000).")
    parser.add_argument("--memory-jobs", type=int, help="Jobs for the memory run of ours (default 100,000).")
    parser.add_argument("--latency-samples", type=int, help="Jobs timed for latency (default 200).")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="Small runs (2,000 jobs; memory over 10,000 jobs).")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark databases afterwards.")
    parser.add_argument(
        "--repeat", type=int, default=1, help="Run each enqueue/throughput measurement K times; report the median."
    )
    a = parser.parse_args()
    jobs = a.jobs or (2_000 if a.quick else 20_000)
    return Plan(
        jobs=jobs,
        tasksdb_jobs=a.tasksdb_jobs or max(500, jobs // 4),
        enqueue_jobs=a.enqueue_jobs or (1_000 if a.quick else 5_000),
        memory_jobs=a.memory_jobs or (10_000 if a.quick else 100_000),
        latency_samples=a.latency_samples or (50 if a.quick else 200),
        dbs=["sqlite", "postgres"] if a.db == "both" else [a.db],
        quick=a.quick,
        keep=a.keep,
        repeat=max(1, a.repeat),
    )


def ensure_tasksdb_installed() -> None:
    """django-tasks-db is the benchmark's alone: install bench/requirements.txt when missing."""
    if importlib.util.find_spec("django_tasks_db") is None:
        print("installing bench/requirements.txt (django-tasks-db) ...", file=sys.stderr)
        subprocess.run(
            [PYTHON, "-m", "pip", "install", "--quiet", "-r", str(PROJECT_DIR / "bench" / "requirements.txt")],
            check=True,
        )


# --- databases ----------------------------------------------------------------------------


def database_url(db: str, system: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{WORK_DIR / (DB_NAMES[system] + '.sqlite3')}"
    return PG_URL.format(name=DB_NAMES[system])


def create_database(db: str, system: str) -> None:
    drop_database(db, system)
    if db == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DB_NAMES[system]}")


def drop_database(db: str, system: str) -> None:
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (WORK_DIR / f"{DB_NAMES[system]}.sqlite3{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAMES[system]} WITH (FORCE)")


def environment(db: str, system: str, *, log_level: str = "WARNING") -> dict[str, str]:
    env = dict(os.environ)
    for key in ("DEBUG", "CONN_MAX_AGE", "REDIS_URL", "TEST_DATABASE_NAME"):
        env.pop(key, None)
    env.update(
        DATABASE_URL=database_url(db, system),
        SECRET_KEY="bench-only-not-secret",
        LOG_LEVEL=log_level,
        LOG_DIR=str(WORK_DIR / "log"),
        PYTHONUNBUFFERED="1",
    )
    return env


# --- measurements -------------------------------------------------------------------------


def worker_argv(system: str) -> list[str]:
    return list(OURS_WORKER) if system == "ours" else TASKSDB_WORKER + TASKSDB_QUIET


@dataclass
class Run:
    rate: float
    n: int
    hwm_kb: int | None = None
    rss_checkpoint_kb: int | None = None
    checkpoint: int | None = None
    rss_end_kb: int | None = None


def measure_enqueue(db: str, system: str, n: int, action: str = "enqueue") -> Figure:
    env = environment(db, system)
    driver(system, env, "reset")
    out = driver(system, env, action, str(n))
    return Figure(out["rate"], n)


def measure_throughput(
    db: str, system: str, n: int, *, processes: int, log_level: str = "WARNING", checkpoint: int | None = None
) -> Run:
    """Seed n jobs, start the workers, wait for all to finish: first start → last end."""
    env = environment(db, system)
    driver(system, env, "reset")
    driver(system, env, "seed", str(n))
    worker_env = environment(db, system, log_level=log_level)
    log_path = WORK_DIR / "log" / f"{system}-{db}-{processes}p-{log_level.lower()}.log"
    workers = start_workers(worker_argv(system), worker_env, processes, log_path)
    sampled: dict[str, int] = {}

    def on_progress(line: dict) -> None:
        workers.check_alive()
        if checkpoint and "progress" in line and "checkpoint" not in sampled and line["progress"] >= checkpoint:
            sampled["checkpoint"] = proc_memory_kb(workers.pids[0])["VmRSS"]

    try:
        out = driver(system, env, "wait", str(n), "--timeout", str(max(300, n / 100)), on_line=on_progress)
        memory = workers.memory_kb()[0]
    finally:
        workers.stop()
    if out.get("timed_out") or out.get("failed"):
        raise BenchError(f"{system} on {db}: {out['done']} of {n} done, {out['failed']} failed; see {log_path}")
    return Run(
        rate=out["rate"],
        n=n,
        hwm_kb=memory["VmHWM"],
        rss_checkpoint_kb=sampled.get("checkpoint"),
        checkpoint=checkpoint,
        rss_end_kb=memory["VmRSS"],
    )


def measure_latency(db: str, system: str, samples: int) -> dict:
    env = environment(db, system)
    driver(system, env, "reset")
    workers: WorkerProcs = start_workers(worker_argv(system), env, 1, WORK_DIR / "log" / f"{system}-{db}-latency.log")
    try:
        out = driver(system, env, "latency", str(samples), "--timeout", "60")
    finally:
        workers.stop()
    if "error" in out:
        raise BenchError(f"latency {system} on {db}: {out['error']}")
    return out


def median_run(repeat: int, measure: Callable[[], T]) -> T:
    """The run with the median rate of `repeat` runs (the run itself, so its memory too)."""
    runs = sorted((measure() for _ in range(repeat)), key=lambda r: r.rate if isinstance(r, Run) else r.value)  # type: ignore[attr-defined]  # T is a Run or has .value
    return runs[len(runs) // 2]


def mib(kb: int) -> float:
    return kb / 1024  # /proc reports kB = KiB; MiB is what ps and top show


def run_database(db: str, plan: Plan, results: Results) -> None:
    """Every measurement on one database, ours then theirs, into results.rows."""
    label = DB_LABEL[db]
    progress(f"{label}: creating databases and migrating")
    for system in ("ours", "tasksdb"):
        create_database(db, system)
        driver(system, environment(db, system), "setup")
    try:
        results.rows.extend(enqueue_rows(db, plan))
        theirs1 = throughput_rows(db, plan, results)
        results.rows.extend(latency_rows(db, plan))
        results.rows.extend(memory_rows(db, plan, theirs1, results))
    finally:
        if not plan.keep:
            for system in ("ours", "tasksdb"):
                drop_database(db, system)


ENQUEUE_TARGETS = {"sqlite": (8_000, 50_000), "postgres": (2_000, 20_000)}  # issue 13: one per call, bulk


def enqueue_rows(db: str, plan: Plan) -> list[Row]:
    progress(f"{DB_LABEL[db]}: enqueue rate")
    one, bulk = ENQUEUE_TARGETS[db]
    ours = median_run(plan.repeat, lambda: measure_enqueue(db, "ours", plan.enqueue_jobs))
    theirs = median_run(plan.repeat, lambda: measure_enqueue(db, "tasksdb", plan.enqueue_jobs))
    rows = [
        Row(
            DB_LABEL[db],
            "Enqueue rate (one job per call, no worker running)",
            "/s",
            ours,
            theirs,
            Target(one, True, f"≥ {one:,}/s"),
        )
    ]
    progress(f"{DB_LABEL[db]}: bulk enqueue rate")
    n = plan.enqueue_jobs * 4
    ours = median_run(plan.repeat, lambda: measure_enqueue(db, "ours", n, "enqueue_bulk"))
    theirs = median_run(plan.repeat, lambda: measure_enqueue(db, "tasksdb", n, "enqueue_bulk"))
    rows.append(
        Row(
            DB_LABEL[db],
            "Bulk enqueue rate (ours: job_enqueue_many; theirs: .enqueue() calls in one transaction)",
            "/s",
            ours,
            theirs,
            Target(bulk, True, f"≥ {bulk:,}/s"),
        )
    )
    progress(f"{DB_LABEL[db]}: bulk enqueue rate through the Tasks API")
    ours = median_run(plan.repeat, lambda: measure_enqueue(db, "ours", n, "enqueue_tasks"))
    theirs = median_run(plan.repeat, lambda: measure_enqueue(db, "tasksdb", n, "enqueue_tasks"))
    rows.append(
        Row(
            DB_LABEL[db],
            "Bulk enqueue rate through the Tasks API (both: a @task's .enqueue() calls in one transaction)",
            "/s",
            ours,
            theirs,
            Target(bulk, True, f"≥ {bulk:,}/s"),
        )
    )
    return rows


def throughput_rows(db: str, plan: Plan, results: Results) -> Run:
    """1 and 2 worker processes (and ours with INFO logging); returns theirs' 1-process
    run, whose memory the memory rows compare against."""
    label = DB_LABEL[db]

    def ours(processes: int, log_level: str = "WARNING") -> Run:
        return median_run(
            plan.repeat, lambda: measure_throughput(db, "ours", plan.jobs, processes=processes, log_level=log_level)
        )

    def theirs(processes: int) -> Run:
        return median_run(
            plan.repeat, lambda: measure_throughput(db, "tasksdb", plan.tasksdb_jobs, processes=processes)
        )

    progress(f"{label}: throughput, 1 worker process")
    ours1, theirs1 = ours(1), theirs(1)
    # Issue 13's targets, at the default (INFO) logging: SQLite 1 process, PostgreSQL 2.
    target = Target(10_000, True, "≥ 10,000/s at INFO (row below)") if db == "sqlite" else None
    results.rows.append(Row(label, "Throughput, 1 worker process", "/s", _fig(ours1), _fig(theirs1)))

    progress(f"{label}: throughput, 1 worker process, INFO logging")
    info = ours(1, "INFO")
    cost = 1 - info.rate / ours1.rate
    logging_target = Target(
        10_000 if db == "sqlite" else 0,
        True,
        target.text if target else "",
        extra_ok=cost <= 0.10,
        extra_text=f"logging costs ≤ 10 % (here {cost:+.0%} against the row above)",
    )
    results.rows.append(
        Row(
            label,
            "Throughput, 1 worker process, default INFO logging (ours only)",
            "/s",
            _fig(info),
            None,
            logging_target,
        )
    )

    progress(f"{label}: throughput, 2 worker processes")
    ours2, theirs2 = ours(2), theirs(2)
    target = Target(6000, True, "≥ 6,000/s") if db == "postgres" else None
    results.rows.append(Row(label, "Throughput, 2 worker processes", "/s", _fig(ours2), _fig(theirs2), target))
    return theirs1


def latency_rows(db: str, plan: Plan) -> list[Row]:
    progress(f"{DB_LABEL[db]}: enqueue-to-start latency, idle worker")
    ours = measure_latency(db, "ours", plan.latency_samples)
    theirs = measure_latency(db, "tasksdb", plan.latency_samples)
    limit = 20.0 if db == "sqlite" else 2.0
    return [
        Row(
            DB_LABEL[db],
            f"Enqueue-to-start latency {key}, idle worker",
            "ms",
            Figure(ours[key], ours["samples"]),
            Figure(theirs[key], theirs["samples"]),
            Target(limit, False, f"≤ {limit:g} ms") if key == "p50" else None,
        )
        for key in ("p50", "p95")
    ]


def memory_rows(db: str, plan: Plan, theirs1: Run, results: Results) -> list[Row]:
    """Ours over plan.memory_jobs jobs: peak, RSS at a checkpoint and at the end."""
    label = DB_LABEL[db]
    progress(f"{label}: worker memory over {plan.memory_jobs:,} jobs")
    checkpoint = 10_000 if plan.memory_jobs >= 20_000 else plan.memory_jobs // 10
    mem = measure_throughput(db, "ours", plan.memory_jobs, processes=1, checkpoint=checkpoint)
    assert mem.hwm_kb and mem.rss_end_kb and mem.rss_checkpoint_kb
    growth = mib(mem.rss_end_kb) - mib(mem.rss_checkpoint_kb)
    target = Target(
        55,
        False,
        "≤ 55 MiB",
        extra_ok=growth < 5.0,
        extra_text=f"and flat (RSS {growth:+.1f} MiB from {checkpoint:,} jobs to the end)",
    )
    theirs_peak = Figure(mib(theirs1.hwm_kb or 0), theirs1.n)
    theirs_end = Figure(mib(theirs1.rss_end_kb or 0), theirs1.n)
    results.notes.append(f"{label} memory run: ours processed {mem.n:,} jobs at {mem.rate:,.0f}/s (1 process).")
    return [
        Row(label, "Worker peak RSS (VmHWM at the end)", "MiB", Figure(mib(mem.hwm_kb), mem.n), theirs_peak, target),
        Row(label, f"Worker RSS after {checkpoint:,} jobs", "MiB", Figure(mib(mem.rss_checkpoint_kb), checkpoint)),
        Row(label, "Worker RSS at the end", "MiB", Figure(mib(mem.rss_end_kb), mem.n), theirs_end),
    ]


def _fig(run: Run) -> Figure:
    return Figure(run.rate, run.n)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message} (load {load_average()})", file=sys.stderr, flush=True)


# --- report -------------------------------------------------------------------------------


def print_report(plan: Plan, results: Results, *, load_before: str, minutes: float) -> None:
    cpu = _cpu_model()
    print(render(results.rows))
    print()
    print("Notes:")
    notes = [
        f"Machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"{_pg_version() if 'postgres' in plan.dbs else 'SQLite ' + _sqlite_version()}. "
        f"Load average before: {load_before}; after: {load_average()} ({minutes:.1f} min run). "
        "Other processes may have been using the CPU at the same time.",
        "ours: `.venv/bin/python manage.py runworker` (defaults: --concurrency 4 threads, poll interval "
        "0.05 s on SQLite / 1 s + LISTEN/NOTIFY on PostgreSQL); 2 processes = two such commands.",
        "django-tasks-db 0.13.0 (django-tasks 0.12.0, Django 5.2): "
        "`.venv/bin/python bench/tasksdb_project/manage.py db_worker --no-startup-delay -v 0` "
        "(default --interval 1 s; CONN_MAX_AGE=600, i.e. persistent connections; SQLite with the same WAL / "
        "synchronous=NORMAL / busy-timeout settings as ours).",
        "Logging: LOG_LEVEL=WARNING for ours and `-v 0` for db_worker in every run except the row marked "
        "INFO (ours' default: LOG_LEVEL=INFO, one line per job to stderr, redirected to a file, "
        "and to LOG_DIR/hcm.log, written in batches).",
        "Enqueue rate: jobs.services.job_enqueue(organization=…, job_type='noop') vs the no-op @task's "
        ".enqueue(), one job per call in its own transaction, no worker running. Bulk: "
        "jobs.services.job_enqueue_many(payloads=[None] * 4N) vs 4N .enqueue() calls inside one transaction. "
        "Tasks API: 4N .enqueue() calls of the same no-op @task (bench/tasksdb_project/tasks.py) inside one "
        "transaction, on our backend (jobs/tasks_backend.py) and on django-tasks-db's.",
        "Throughput: N jobs queued first (same public API, 1,000 per transaction), then the workers start; "
        "the figure is N / (last completed_at − first started_at), as each worker recorded them. "
        "Every run starts from emptied tables; on PostgreSQL the tables are ANALYZEd once the jobs are "
        "queued, as autovacuum keeps them in steady operation (SQLite gathers no statistics by itself).",
        f"Latency: a running idle worker; {plan.latency_samples} jobs enqueued one at a time, 50–100 ms apart; "
        "latency = the started_at the worker wrote − time.time() taken just before the enqueue call.",
        "Memory: VmHWM / VmRSS from /proc/<pid>/status of the worker process. django-tasks-db's figure "
        "is from its 1-process throughput run (N beside it). MiB = 2^20 bytes; 'flat' = RSS grew "
        "less than 5 MiB between the checkpoint and the end.",
        "Ratio = ours / theirs: above 1 is better for rates, below 1 is better for latency and memory.",
    ]
    if plan.repeat > 1:
        notes.append(f"Enqueue and throughput figures are the median of {plan.repeat} runs each.")
    if plan.quick:
        notes.append(f"--quick: small runs; memory measured over {plan.memory_jobs:,} jobs, not 100,000.")
    notes.extend(results.notes)
    for note in notes:
        print(f"- {note}")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _pg_version() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        assert row is not None
        version = row[0]
    return f"PostgreSQL {version.split()[0]}, SQLite {_sqlite_version()}"


def _sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


if __name__ == "__main__":
    shutil.rmtree(WORK_DIR / "log", ignore_errors=True)
    sys.exit(main())
