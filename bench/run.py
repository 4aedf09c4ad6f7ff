"""Benchmark the project's job system against django-tasks-db, Procrastinate and Celery,
on SQLite and PostgreSQL.

    .venv/bin/python bench/run.py [--jobs N] [--db sqlite|postgres|both] [--quick] [--only enqueue]

Prints a markdown table: enqueue rate, throughput with 1 and 2 worker processes (no-op
jobs), enqueue-to-start latency with an idle worker, and worker memory, each beside
django-tasks-db's figure with the ratio (Procrastinate's and Celery's too beside the
throughput and latency rows); on PostgreSQL, 1, 2, 4 and 8 worker processes over one
queue checked for each job running exactly once; the issue's targets marked met / NOT met.
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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from procs import PROJECT_DIR, PYTHON, BenchError, WorkerProcs, driver, load_average, proc_memory_kb, start_workers
from report import Figure, Row, Target, render

WORK_DIR = PROJECT_DIR / "var" / "bench"
BENCH_DIR = PROJECT_DIR / "bench"
PEERS_DIR = BENCH_DIR / "peers"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgres://postgres@127.0.0.1:5432/{name}"
# BENCH_DB_SUFFIX keeps two benchmark runs on one PostgreSQL server (e.g. two engineers'
# worktrees) from dropping each other's databases.
_SUFFIX = f"_{os.environ['BENCH_DB_SUFFIX']}" if os.environ.get("BENCH_DB_SUFFIX") else ""
DB_NAMES = {
    "ours": f"bench_hcm{_SUFFIX}",
    "tasksdb": f"bench_tasksdb{_SUFFIX}",
    "procrastinate": f"bench_procrastinate{_SUFFIX}",
}
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
    only: str | None = None
    peer_jobs: int = 5_000
    many_jobs: int = 100_000


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    peers: dict[str, str] = field(default_factory=dict)  # how each peer ran, for the notes


def main() -> int:
    plan = parse_args()
    ensure_peers_installed()
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
    parser.add_argument("--peer-jobs", type=int, help="Jobs per throughput run of Procrastinate, Celery (default N/4).")
    parser.add_argument(
        "--many-jobs", type=int, help="Jobs per run of the PostgreSQL 1/2/4/8-process scenario (default 100,000)."
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="Small runs (2,000 jobs; memory over 10,000 jobs).")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark databases afterwards.")
    parser.add_argument(
        "--repeat", type=int, default=1, help="Run each enqueue/throughput measurement K times; report the median."
    )
    parser.add_argument("--only", choices=["enqueue"], help="Only these rows (enqueue: the three enqueue-rate rows).")
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
        only=a.only,
        peer_jobs=a.peer_jobs or max(500, jobs // 4),
        many_jobs=a.many_jobs or (10_000 if a.quick else 100_000),
    )


def ensure_peers_installed() -> None:
    """django-tasks-db, Procrastinate and Celery are the benchmark's alone: install
    bench/requirements.txt when one is missing. A peer that still cannot be imported is
    reported in the table (could not run), not skipped."""
    if any(importlib.util.find_spec(m) is None for m in ("django_tasks_db", "procrastinate", "celery")):
        print("installing bench/requirements.txt (the peers) ...", file=sys.stderr)
        subprocess.run(
            [PYTHON, "-m", "pip", "install", "--quiet", "-r", str(PROJECT_DIR / "bench" / "requirements.txt")],
            check=False,
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
    # DJANGO_SETTINGS_MODULE: each manage.py picks its own (ours: hcm.settings_worker for runworker).
    for key in ("DEBUG", "CONN_MAX_AGE", "REDIS_URL", "TEST_DATABASE_NAME", "DJANGO_SETTINGS_MODULE"):
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
    return Figure(enqueue_run(db, system, n, action)["rate"], n)


def enqueue_run(db: str, system: str, n: int, action: str) -> dict:
    """One enqueue measurement from empty tables: the driver's figures (rate, CPU per job)."""
    env = environment(db, system)
    driver(system, env, "reset")
    return driver(system, env, action, str(n))


def enqueue_floor_note(db: str, n: int, runs: int = 3) -> str:
    """Single enqueue beside the database's own floor for it (driver.py's enqueue_floor: the
    same INSERT of rows built beforehand, no Python per call), alternately, median of each:
    how much of a call is ours and how much the database's (its commit's flush)."""
    pairs = [(enqueue_run(db, "ours", n, "enqueue"), enqueue_run(db, "ours", n, "enqueue_floor")) for _ in range(runs)]
    ours = sorted((p[0] for p in pairs), key=lambda out: out["rate"])[runs // 2]
    floor = sorted((p[1] for p in pairs), key=lambda out: out["rate"])[runs // 2]

    def cpu(out: dict) -> str:
        server = out.get("server_cpu_us_per_job")
        return f"{out['cpu_us_per_job']:.0f} µs" + (f" + its backend {server:.0f} µs" if server is not None else "")

    return (
        f"{DB_LABEL[db]} single enqueue beside the database's floor ({runs} alternating runs of {n:,}, medians): "
        f"job_enqueue {ours['rate']:,.0f}/s, its INSERT alone from rows built beforehand {floor['rate']:,.0f}/s "
        f"({ours['rate'] / floor['rate']:.0%} of it). CPU per call: job_enqueue {cpu(ours)}; the INSERT alone "
        f"{cpu(floor)}; the rest of a call's {1e6 / ours['rate']:.0f} µs is waiting (for the commit's flush, the "
        "round trip, a CPU)."
    )


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
        results.rows.extend(enqueue_rows(db, plan, results))
        if plan.only == "enqueue":
            return
        theirs1 = throughput_rows(db, plan, results)
        results.rows.extend(latency_rows(db, plan))
        peer_rows(db, plan, results)
        results.rows.extend(memory_rows(db, plan, theirs1, results))
        if db == "postgres":
            many_workers_rows(plan, results)
    finally:
        if not plan.keep:
            for system in ("ours", "tasksdb"):
                drop_database(db, system)


ENQUEUE_TARGETS = {"sqlite": (8_000, 50_000), "postgres": (2_000, 20_000)}  # issue 13: one per call, bulk


def enqueue_rows(db: str, plan: Plan, results: Results) -> list[Row]:
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
    progress(f"{DB_LABEL[db]}: single enqueue beside the database's floor")
    results.notes.append(enqueue_floor_note(db, plan.enqueue_jobs))
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


# --- Procrastinate and Celery beside ours (bench/peers/) ----------------------------------

PEER_METRICS = {
    "Throughput, 1 worker process": "throughput1",
    "Throughput, 2 worker processes": "throughput2",
    "Enqueue-to-start latency p50, idle worker": "p50",
    "Enqueue-to-start latency p95, idle worker": "p95",
}


def peer_rows(db: str, plan: Plan, results: Results) -> None:
    """Procrastinate (PostgreSQL only) and Celery (Redis; no database) measured like ours,
    each row put under ours' row of the same metric. A peer that fails to run gets rows
    that say so, with the reason."""
    label = DB_LABEL[db]
    peers = ["procrastinate", "celery"] if db == "postgres" else ["celery"]
    for key in peers:
        progress(f"{label}: {key}, throughput and latency")
        title, figures, error, description = measure_peer(key, db, plan)
        if description:
            results.peers.setdefault(key, description)
        for metric, what in PEER_METRICS.items():
            ours_row = next((r for r in results.rows if r.db == label and r.metric == metric), None)
            if ours_row is None:
                continue
            theirs = figures.get(what)
            target = None
            if what == "p50" and db == "postgres" and theirs is not None:
                # Issue 13: pickup p50 on PostgreSQL ahead of Procrastinate and Celery.
                target = Target(theirs.value, False, f"ahead of {title.split()[0]}")
            row = Row(label, metric, ours_row.unit, ours_row.ours, theirs, target, vs=title, theirs_error=error)
            at = results.rows.index(ours_row) + 1
            while at < len(results.rows) and results.rows[at].metric == metric and results.rows[at].vs != ours_row.vs:
                at += 1  # after the peers already placed under this row
            results.rows.insert(at, row)


def measure_peer(key: str, db: str, plan: Plan) -> tuple[str, dict[str, Figure], str | None, str]:
    """(title, figures by PEER_METRICS value, error, how it ran); error says why it could
    not run."""
    title = {"procrastinate": "Procrastinate", "celery": "Celery"}[key]
    figures: dict[str, Figure] = {}
    log_dir = WORK_DIR / "log"
    try:
        if str(PEERS_DIR) not in sys.path:
            sys.path.insert(0, str(PEERS_DIR))
        import measure  # bench/peers/measure.py

        record = WORK_DIR / f"{key}-{db}{_SUFFIX}.records"
        peer: measure.Peer
        if key == "procrastinate":
            create_database(db, "procrastinate")
            peer = measure.ProcrastinatePeer(record, PG_URL.format(name=DB_NAMES["procrastinate"]))
            peer.setup()
        else:
            peer = measure.CeleryPeer(record)
        title = peer.title
        for processes in (1, 2):
            runs = [measure.measure_throughput(peer, plan.peer_jobs, processes, log_dir) for _ in range(plan.repeat)]
            run = sorted(runs, key=lambda r: r.rate)[len(runs) // 2]
            if run.duplicates:
                raise BenchError(f"{run.duplicates} jobs ran twice")
            figures[f"throughput{processes}"] = Figure(run.rate, run.n)
        latency = measure.measure_latency(peer, plan.latency_samples, log_dir)
        figures["p50"] = Figure(latency["p50"], latency["samples"])
        figures["p95"] = Figure(latency["p95"], latency["samples"])
        return title, figures, None, peer.describe()
    except Exception as exc:  # noqa: BLE001 - any failure is reported in the table, loudly
        reason = " ".join(f"{type(exc).__name__}: {exc}".split()).replace("|", "/")[:300]
        print(f"{title} could not run: {reason}", file=sys.stderr)
        return title, figures, reason, ""
    finally:
        if key == "procrastinate" and not plan.keep:
            try:
                drop_database(db, "procrastinate")
            except Exception as exc:  # noqa: BLE001 - the database is gone or unreachable
                print(f"could not drop {DB_NAMES['procrastinate']}: {exc}", file=sys.stderr)


# --- many worker processes over one queue (PostgreSQL) ------------------------------------

MANY_PROCESSES = (1, 2, 4, 8)


def many_workers_rows(plan: Plan, results: Results) -> None:
    """1, 2, 4 and 8 `runworker` processes (standing in for several hosts) over
    plan.many_jobs jobs each: every job must run exactly once, and throughput must not fall
    once processes outnumber the cores."""
    label = DB_LABEL["postgres"]
    cores = os.cpu_count() or 1
    runs: dict[int, tuple[Run, list[str]]] = {}
    for processes in MANY_PROCESSES:
        progress(f"{label}: {processes} worker process(es) over {plan.many_jobs:,} jobs, exactly once")
        runs[processes] = measure_many_workers(plan.many_jobs, processes)
    baseline_p = max(p for p in MANY_PROCESSES if p <= cores)
    baseline = runs[baseline_p][0].rate
    for processes, (run, problems) in runs.items():
        once = not problems
        target_text = "each job ran exactly once"
        if processes > cores:
            ok = once and run.rate >= NO_FALL * baseline
            extra = f"and ≥ {NO_FALL:.0%} of the {baseline_p}-process rate ({run.rate / baseline:.0%})"
        else:
            ok, extra = once, ""
        if problems:
            extra += f" — {'; '.join(problems)}"
        results.rows.append(
            Row(
                label,
                f"Throughput, {processes} worker process{'es' if processes > 1 else ''} over one queue "
                "(bench_record jobs, exactly-once checked)",
                "/s",
                _fig(run),
                None,
                Target(0, True, target_text, extra_ok=ok, extra_text=extra),
            )
        )


NO_FALL = 0.90  # "does not fall": within 10 %, the run-to-run noise of one machine


MANY_WORKERS_JOB_TYPE = "bench_record"  # bench/bench_jobs.py


def measure_many_workers(n: int, processes: int) -> tuple[Run, list[str]]:
    """n bench_record jobs queued, then `processes` runworker processes: the rate, and what
    the handler's own record and the database say against "each job ran exactly once"."""
    record = WORK_DIR / f"many-workers{_SUFFIX}.records"
    record.unlink(missing_ok=True)
    env = environment("postgres", "ours")
    env.update(
        BENCH_JOB_TYPE=MANY_WORKERS_JOB_TYPE,
        JOBS_HANDLER_MODULES="bench_jobs",
        BENCH_RECORD_PATH=str(record),
        PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")])),
    )
    driver("ours", env, "reset")
    # Paused until every process is up: the figure is K workers sharing one queue, not
    # the first one's head start while the others import Django (8 starts on 2 cores).
    driver("ours", env, "pause")
    driver("ours", env, "seed", str(n))
    log_path = WORK_DIR / "log" / f"ours-postgres-{processes}p-many.log"
    workers = start_workers(list(OURS_WORKER), env, processes, log_path)
    try:
        wait_workers_up(processes, workers)
        driver("ours", env, "resume")
        out = driver(
            "ours", env, "wait", str(n), "--timeout", str(max(300, n / 50)), on_line=lambda _: workers.check_alive()
        )
    finally:
        workers.stop()
    problems = exactly_once_problems(n, record)
    if out.get("timed_out"):
        problems.append(f"{n - out['done']} of {n:,} not finished in time; see {log_path}")
    return Run(rate=out["rate"] or 0.0, n=n), problems


def wait_workers_up(processes: int, workers: WorkerProcs, timeout: float = 120.0) -> None:
    """Until `processes` running workers have written their heartbeat row."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(PG_URL.format(name=DB_NAMES["ours"]), autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM background_job_workers WHERE stopped_at IS NULL").fetchone()
            if row and row[0] >= processes:
                return
            workers.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"{processes} workers not up after {timeout:.0f} s; see {workers.log_path}")
            time.sleep(0.1)


def exactly_once_problems(n: int, record: Path) -> list[str]:
    """Each of the n jobs: one line in the handler's record with attempt 1, status
    completed, one attempt row. Returns what is wrong (empty: exactly once)."""
    import psycopg

    lines = [line.split() for line in record.read_text().splitlines()] if record.exists() else []
    runs = Counter(line[0] for line in lines)
    problems = []
    if twice := sum(1 for c in runs.values() if c > 1):
        problems.append(f"**{twice:,} jobs ran more than once**")
    if retried := sum(1 for line in lines if line[1] != "1"):
        problems.append(f"{retried:,} runs were retries")
    # Only the bench's own jobs: the workers' maintenance schedules may queue a service job
    # (e.g. cleanup) during a run, which is not one of the n.
    with psycopg.connect(PG_URL.format(name=DB_NAMES["ours"])) as conn:
        jobs, completed, not_first = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE attempt <> 1) "
            "FROM background_jobs WHERE job_type = %s",
            [MANY_WORKERS_JOB_TYPE],
        ).fetchone() or (0, 0, 0)
        attempts, attempted = conn.execute(
            "SELECT count(*), count(DISTINCT a.job_id) FROM background_job_attempts a "
            "JOIN background_jobs j ON j.id = a.job_id WHERE j.job_type = %s",
            [MANY_WORKERS_JOB_TYPE],
        ).fetchone() or (0, 0)
        unknown = (
            conn.execute("SELECT count(*) FROM background_jobs WHERE id::text = ANY(%s)", [list(runs)]).fetchone()
            or (0,)
        )[0]
    if jobs != n or unknown != len(runs) or len(runs) != n:
        problems.append(f"**{n - len(runs):,} jobs never ran** ({len(runs):,} ran of {jobs:,} queued)")
    if completed != n or not_first:
        problems.append(f"{completed:,} of {n:,} completed, {not_first:,} past attempt 1")
    if attempts != n or attempted != n:
        problems.append(f"{attempts:,} attempt rows for {attempted:,} jobs")
    return problems


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
        f"Machine speed (this run): {machine_speed()}. Runs on this machine kind have differed 2–3× "
        "from one session to another, the peers' figures with ours, so compare runs by the ratios, not "
        "by the rates alone.",
        "ours: `.venv/bin/python manage.py runworker` (defaults: --concurrency 4 threads, poll interval "
        "0.02 s on SQLite / 1 s + LISTEN/NOTIFY on PostgreSQL); 2 processes = two such commands.",
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
    if plan.only is None:
        notes.extend(peer_notes(plan, results))
    notes.extend(results.notes)
    for note in notes:
        print(f"- {note}")


def peer_notes(plan: Plan, results: Results) -> list[str]:
    notes = [f"{title}" for title in results.peers.values()]
    notes.append(
        f"Procrastinate and Celery (bench/peers/): {plan.peer_jobs:,} jobs per throughput run, measured like "
        "ours: the jobs queued first, then the workers start; the figure is N / (last end − first start) "
        "of the times each no-op task itself recorded (time.time(), appended to a file); latency = the "
        "task's recorded start − time.time() just before the enqueue call (.delay() / .defer()), the same "
        "spacing as ours. Their rows repeat ours' figure from the row above them."
    )
    if "sqlite" in plan.dbs:
        notes.append("Procrastinate runs on PostgreSQL only, so the SQLite rows have Celery beside them, not it.")
    if "postgres" in plan.dbs:
        notes.append(
            f"Many workers (PostgreSQL): for each of {', '.join(map(str, MANY_PROCESSES))} `runworker` processes "
            f"(defaults, LOG_LEVEL=WARNING), {plan.many_jobs:,} `bench_record` jobs queued first, their type "
            "paused (jobs.services.job_type_pause) until every process is up, then resumed "
            "(bench/bench_jobs.py: it appends `<job id> <attempt> <pid>` to a file, one O_APPEND write). "
            "Exactly once = every job has exactly one line, with attempt 1, and in the database status "
            "completed, attempt 1 and one attempt row; any job lost or run twice is counted in the target "
            f"cell. 'Does not fall' = with more processes than the {os.cpu_count()} cores, the rate stays "
            f"≥ {NO_FALL:.0%} of the rate with as many processes as cores (run-to-run noise on one machine)."
        )
    return notes


def machine_speed() -> str:
    """How fast this machine is right now, for comparing runs: a pure-Python loop (the CPU)
    and a round trip between two processes over a pipe (what every database round trip and
    worker wake-up pays; best of 3 each)."""
    import multiprocessing

    loops = []
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(10**7):
            total += i
        loops.append(time.perf_counter() - start)
    here, there = multiprocessing.Pipe()
    echo = multiprocessing.Process(target=_echo, args=(there,), daemon=True)
    echo.start()
    trips = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(2000):
            here.send_bytes(b"x")
            here.recv_bytes()
        trips.append((time.perf_counter() - start) / 2000 * 1e6)
    here.send_bytes(b"")
    echo.join(timeout=5)
    return (
        f"a pure-Python loop of 10,000,000 additions took {min(loops):.2f} s; a round trip to another "
        f"process over a pipe took {min(trips):.0f} µs (best of 3 each)"
    )


def _echo(conn: Any) -> None:
    while message := conn.recv_bytes():
        conn.send_bytes(message)


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
