"""What /stats' figure triggers (migration jobs/0013_lists_stats_figures) cost the writes
that carry them: enqueue one job per call, a bulk enqueue, status changes in batches (as
claims and outcomes are) and an in-process worker over no-op jobs, each timed with the
triggers on and off, back to back.

    .venv/bin/python bench/figures_cost.py --db sqlite|postgres [--jobs N] [--repeat K]

Its own database: var/bench/figures[_<BENCH_DB_SUFFIX>].sqlite3 or
bench_figures[_<BENCH_DB_SUFFIX>], made afresh each run.
"""

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
WORK_DIR = PROJECT_DIR / "var" / "bench"
SUFFIX = os.environ.get("BENCH_DB_SUFFIX", "")
PG_DB_NAME = f"bench_figures_{SUFFIX}" if SUFFIX else "bench_figures"
SQLITE_PATH = WORK_DIR / (f"figures_{SUFFIX}.sqlite3" if SUFFIX else "figures.sqlite3")
PG_TRIGGERS = {
    "background_jobs": ["bg_job_counts_insert", "bg_job_counts_update", "bg_job_counts_delete"],
    "background_job_attempts": ["bg_job_durations_insert", "bg_job_durations_delete"],
}


def prepare(db: str) -> str:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if db == "sqlite":
        for tail in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{tail}").unlink(missing_ok=True)
        url = f"sqlite:///{SQLITE_PATH}"
    else:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_DB_NAME}"')
        url = f"postgres://postgres@127.0.0.1:5432/{PG_DB_NAME}"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True)
    return url


def set_triggers(on: bool) -> None:
    from django.db import connection

    migration = importlib.import_module("jobs.migrations.0013_lists_stats_figures")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table, names in PG_TRIGGERS.items():
                for name in names:
                    cursor.execute(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {name}")
            return
        for statement in migration.SQLITE_DROP:
            cursor.execute(statement)
        if on:
            for statement in migration.SQLITE_CREATE:
                if statement.lstrip().startswith("CREATE TRIGGER"):
                    cursor.execute(statement)


def run_once(org, jobs: int) -> dict[str, float]:
    from django.db import connection, transaction

    from jobs.models import BackgroundJob
    from jobs.services import job_enqueue, job_enqueue_many

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM background_job_attempts")
        cursor.execute("DELETE FROM background_jobs")
        cursor.execute("DELETE FROM background_job_counts")
    rates = {}
    singles = max(1, jobs // 10)
    t0 = time.perf_counter()
    for _ in range(singles):
        job_enqueue(organization=org, job_type="noop")
    rates["enqueue, one job per call"] = singles / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(0, jobs, 1000):
        job_enqueue_many(organization=org, job_type="noop", payloads=[None] * 1000)
    rates["job_enqueue_many, 1,000 per call"] = jobs / (time.perf_counter() - t0)
    ids = list(BackgroundJob.objects.values_list("pk", flat=True))
    t0 = time.perf_counter()
    for status in ("processing", "completed"):
        for i in range(0, len(ids), 100):
            with transaction.atomic():
                BackgroundJob.objects.filter(pk__in=ids[i : i + 100]).update(status=status)
    rates["status changes, batches of 100"] = 2 * len(ids) / (time.perf_counter() - t0)
    # The worker's whole path (claim, run, record outcome + attempt rows), in this process.
    import jobs.worker as worker_module

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM background_jobs")
    job_enqueue_many(organization=org, job_type="noop", payloads=[None] * (jobs // 2))
    t0 = time.perf_counter()
    worker_module.Worker(concurrency=4, burst=True, poll_interval=0.05).run()
    rates["worker, no-op jobs (in process, 4 threads)"] = (jobs // 2) / (time.perf_counter() - t0)
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=prepare(args.db), SECRET_KEY="bench", LOG_LEVEL="WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcm.settings")
    sys.path.insert(0, str(PROJECT_DIR))
    import django

    django.setup()
    from hcm.models import Organization

    org = Organization.objects.create(slug="bench-figures", name="Bench figures")
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for _ in range(args.repeat):
        for enabled in (True, False):  # alternate, so drift in the machine's load hits both
            set_triggers(enabled)
            results[enabled].append(run_once(org, args.jobs))
    set_triggers(True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{args.db}, {args.jobs:,} jobs, median of {args.repeat} (load average {load})\n")
    print("| write | triggers on /s | triggers off /s | cost |")
    print("| --- | ---: | ---: | ---: |")
    for name in results[True][0]:
        on = statistics.median(r[name] for r in results[True])
        off = statistics.median(r[name] for r in results[False])
        print(f"| {name} | {on:,.0f} | {off:,.0f} | {100 * (off - on) / off:+.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
