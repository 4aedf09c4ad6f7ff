"""The benchmark's in-Django half: one action per call, for one system, printing JSON lines
that bench/run.py reads. Each system is set up with its own settings module, so this runs
as a subprocess:

    python bench/driver.py ours|tasksdb setup|reset|enqueue|enqueue_bulk|enqueue_tasks|seed|wait|latency [N]
    python bench/driver.py ours enqueue_floor N

`ours` enqueues through jobs.services.job_enqueue; `tasksdb` through django-tasks-db's
public API, a @task's .enqueue(). Times are this machine's wall clock throughout: the
enqueue timestamp here and the started_at each worker writes.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
SEED_BATCH = 1000  # enqueues per transaction when seeding a throughput run


def emit(**fields) -> None:
    print(json.dumps(fields, default=str), flush=True)


class Ours:
    """The project's job system: jobs.services.job_enqueue and the background_jobs table."""

    # BENCH_JOB_TYPE: run.py's many-workers scenario queues bench/bench_jobs.py's
    # bench_record jobs (which record each run) instead of no-ops.
    job_type = os.environ.get("BENCH_JOB_TYPE", "noop")

    tables = ("background_job_attempts", "background_jobs", "background_job_workers")

    def __init__(self) -> None:
        from hcm.models import Organization
        from jobs.models import BackgroundJob
        from jobs.services import job_enqueue

        self.job_enqueue = job_enqueue
        self.Job = BackgroundJob
        self.org, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Benchmark"})

    def enqueue_one(self) -> str:
        job, _ = self.job_enqueue(organization=self.org, job_type=self.job_type)
        return job.id

    def enqueue_bulk(self, n: int) -> None:
        from jobs.services import job_enqueue_many

        job_enqueue_many(organization=self.org, job_type=self.job_type, payloads=[None] * n)

    def enqueue_tasks(self, n: int) -> None:
        """Django's Tasks API on our backend (jobs/tasks_backend.py): n .enqueue() calls in
        one transaction, the same no-op task as django-tasks-db's."""
        from django.db import transaction
        from tasksdb_project.tasks import noop  # bench/ is sys.path[0]; a plain @task module

        with transaction.atomic():
            for _ in range(n):
                noop.enqueue()

    def counts(self) -> tuple[int, int]:
        """(completed, failed)."""
        # The bench's own job type only: a maintenance schedule may queue a service job mid-run.
        mine = self.Job.objects.filter(job_type=self.job_type)
        by_status = dict(mine.values_list("status").annotate(n=_count()).order_by())
        return by_status.get("completed", 0), by_status.get("failed", 0)

    def span(self) -> tuple[datetime | None, datetime | None]:
        from django.db.models import Max, Min

        agg = self.Job.objects.filter(job_type=self.job_type).aggregate(
            first=Min("started_at"), last=Max("completed_at")
        )
        return agg["first"], agg["last"]

    def started(self, ids: list[str]) -> dict[str, datetime]:
        rows = self.Job.objects.filter(pk__in=ids, started_at__isnull=False).values_list("id", "started_at")
        return {pk: started for pk, started in rows if started is not None}


class TasksDb:
    """django-tasks-db: a @task's .enqueue() and the DBTaskResult table."""

    tables = ("django_tasks_database_dbtaskresult",)  # its model's db_table

    def __init__(self) -> None:
        from django_tasks_db.models import DBTaskResult
        from tasksdb_project.tasks import noop

        self.task = noop
        self.Result = DBTaskResult

    def enqueue_one(self) -> str:
        return str(self.task.enqueue().id)

    def enqueue_bulk(self, n: int) -> None:
        # It has no bulk path: its enqueues inside one transaction.
        self.enqueue_tasks(n)

    def enqueue_tasks(self, n: int) -> None:
        from django.db import transaction

        with transaction.atomic():
            for _ in range(n):
                self.task.enqueue()

    def counts(self) -> tuple[int, int]:
        by_status = dict(self.Result.objects.values_list("status").annotate(n=_count()).order_by())
        return by_status.get("SUCCESSFUL", 0), by_status.get("FAILED", 0)

    def span(self) -> tuple[datetime | None, datetime | None]:
        from django.db.models import Max, Min

        agg = self.Result.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
        return agg["first"], agg["last"]

    def started(self, ids: list[str]) -> dict[str, datetime]:
        rows = self.Result.objects.filter(pk__in=ids, started_at__isnull=False).values_list("id", "started_at")
        return {str(pk): at for pk, at in rows}


def _count():
    from django.db.models import Count

    return Count("*")


def setup_django(system: str) -> None:
    if system == "ours":
        sys.path.insert(0, str(PROJECT_DIR))
        os.environ["DJANGO_SETTINGS_MODULE"] = "hcm.settings"
    else:
        os.environ["DJANGO_SETTINGS_MODULE"] = "tasksdb_project.settings"  # bench/ is sys.path[0]
    import django

    django.setup()


def action_setup(system: str) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    make_system(system)  # ours creates its organization here
    emit(ok=True)


def action_reset(system: str) -> None:
    """Empty the system's tables so every run starts from the same state."""
    from django.db import connection

    tables = (Ours if system == "ours" else TasksDb).tables
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            cursor.execute(f"VACUUM ANALYZE {', '.join(tables)}")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    emit(ok=True)


def action_enqueue(system: str, n: int) -> None:
    """Enqueue rate: n enqueues, one job per call, each its own transaction (no worker)."""
    s = make_system(system)
    s.enqueue_one()  # warm up: first query, imports, prepared state
    t0, cpu0, server0 = time.perf_counter(), time.process_time(), _server_cpu_seconds()
    for _ in range(n):
        s.enqueue_one()
    seconds = time.perf_counter() - t0
    emit(n=n, seconds=seconds, rate=n / seconds, **_cpu_per_job(n, cpu0, server0))


def action_enqueue_floor(n: int) -> None:
    """The database's own floor for a single enqueue: job_enqueue's INSERT (its statement,
    rows made by its own helpers beforehand), one row per transaction, straight through
    the DB-API connection in autocommit — what a job_enqueue call would reach if its
    Python cost nothing. The gap between the two is the part of a call this code owns."""
    from django.db import connection
    from enqueue_costs import rows_for  # bench/: rows as job_enqueue builds them, each its own time

    from jobs.services import _insert_sql, _server_binding_cursor

    rows = rows_for(n + 10)
    sql = _insert_sql(connection.vendor)
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        cursor = _server_binding_cursor(connection.connection)  # prepared, as job_enqueue's
    else:
        cursor, sql = connection.connection.cursor(), sql.replace("%s", "?")
    for row in rows[:10]:  # warm up: the statement prepared
        cursor.execute(sql, row)
    t0, cpu0, server0 = time.perf_counter(), time.process_time(), _server_cpu_seconds()
    for row in rows[10:]:
        cursor.execute(sql, row)
    seconds = time.perf_counter() - t0
    emit(n=n, seconds=seconds, rate=n / seconds, **_cpu_per_job(n, cpu0, server0))


def action_enqueue_bulk(system: str, n: int, *, tasks_api: bool = False) -> None:
    """Bulk enqueue rate: n jobs in one transaction (ours: job_enqueue_many, or with
    tasks_api n Tasks API .enqueue() calls)."""
    s = make_system(system)
    enqueue = s.enqueue_tasks if tasks_api else s.enqueue_bulk
    enqueue(10)  # warm up
    t0, cpu0, server0 = time.perf_counter(), time.process_time(), _server_cpu_seconds()
    enqueue(n)
    seconds = time.perf_counter() - t0
    emit(n=n, seconds=seconds, rate=n / seconds, **_cpu_per_job(n, cpu0, server0))


def _server_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend so far (it runs on this machine)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _cpu_per_job(n: int, cpu0: float, server0: float | None) -> dict[str, float]:
    """CPU µs per job, of this process and (PostgreSQL) of its backend: on a loaded machine
    wall time is mostly waiting for a CPU, CPU time much less so."""
    out = {"cpu_us_per_job": (time.process_time() - cpu0) / n * 1e6}
    server = _server_cpu_seconds()
    if server0 is not None and server is not None:
        out["server_cpu_us_per_job"] = (server - server0) / n * 1e6
    return out


def action_seed(system: str, n: int) -> None:
    """Queue n jobs for a throughput run, SEED_BATCH enqueues per transaction (fast)."""
    from django.db import connection, transaction

    s = make_system(system)
    t0 = time.perf_counter()
    left = n
    while left:
        batch = min(SEED_BATCH, left)
        with transaction.atomic():
            for _ in range(batch):
                s.enqueue_one()
        left -= batch
    seconds = time.perf_counter() - t0
    if connection.vendor == "postgresql":
        # Statistics as autovacuum keeps them in steady operation (it analyzes a table once
        # ~10% of it changed). SQLite gathers none unless asked, so none are gathered there.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(s.tables)}")
    emit(n=n, seconds=seconds)


def action_wait(system: str, n: int, timeout: float) -> None:
    """Wait until n jobs are finished, printing progress; then the first start → last end."""
    s = make_system(system)
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        done, failed = s.counts()
        if done + failed != last:
            emit(progress=done + failed, done=done, failed=failed)
            last = done + failed
        if done + failed >= n or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    first, end = s.span()
    seconds = (end - first).total_seconds() if first and end else None
    emit(
        final=True,
        done=done,
        failed=failed,
        timed_out=done + failed < n,
        seconds=seconds,
        rate=(done / seconds) if seconds else None,
    )


def action_latency(system: str, samples: int, timeout: float) -> None:
    """Enqueue-to-start with an idle, running worker: one job at a time, 50–100 ms apart."""
    s = make_system(system)
    warm = s.enqueue_one()  # the worker has taken a job: it is up and idle
    _wait_started(s, [warm], timeout)
    time.sleep(0.5)
    rng = random.Random(3)  # fixed spacing sequence, uncorrelated with any poll interval
    enqueued: dict[str, float] = {}
    for _ in range(samples):
        t0 = time.time()
        job_id = s.enqueue_one()
        enqueued[job_id] = t0
        time.sleep(rng.uniform(0.05, 0.1))
    started = _wait_started(s, list(enqueued), timeout)
    lat_ms = sorted((started[i].timestamp() - t0) * 1000 for i, t0 in enqueued.items() if i in started)
    if len(lat_ms) < 2:
        emit(samples=len(lat_ms), error="jobs did not start")
        return
    q = statistics.quantiles(lat_ms, n=100, method="inclusive")
    emit(
        samples=len(lat_ms),
        missing=samples - len(lat_ms),
        p50=statistics.median(lat_ms),
        p95=q[94],
        mean=statistics.fmean(lat_ms),
        max=lat_ms[-1],
        min=lat_ms[0],
    )


def action_pause(resume: bool) -> None:
    """Pause (or resume) ours' BENCH_JOB_TYPE service-wide: run.py's many-workers scenario
    holds the queued jobs until every worker process is up, so none gets a head start."""
    from jobs.services import job_type_pause, job_type_resume

    if resume:
        job_type_resume(job_type=Ours.job_type, organization=None, by="bench")
    else:
        job_type_pause(job_type=Ours.job_type, organization=None, by="bench")
    emit(ok=True)


def _wait_started(s, ids: list[str], timeout: float) -> dict[str, datetime]:
    deadline = time.monotonic() + timeout
    while True:
        started = s.started(ids)
        if len(started) == len(ids) or time.monotonic() > deadline:
            return started
        time.sleep(0.1)


def make_system(system: str):
    return Ours() if system == "ours" else TasksDb()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=["ours", "tasksdb"])
    parser.add_argument(
        "action",
        choices=[
            "setup",
            "reset",
            "enqueue",
            "enqueue_floor",
            "enqueue_bulk",
            "enqueue_tasks",
            "seed",
            "wait",
            "latency",
            "pause",
            "resume",
        ],
    )
    parser.add_argument("n", type=int, nargs="?", default=0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    setup_django(args.system)
    if args.action == "setup":
        action_setup(args.system)
    elif args.action == "reset":
        action_reset(args.system)
    elif args.action == "enqueue":
        action_enqueue(args.system, args.n)
    elif args.action == "enqueue_floor":
        action_enqueue_floor(args.n)
    elif args.action == "enqueue_bulk":
        action_enqueue_bulk(args.system, args.n)
    elif args.action == "enqueue_tasks":
        action_enqueue_bulk(args.system, args.n, tasks_api=True)
    elif args.action == "seed":
        action_seed(args.system, args.n)
    elif args.action == "wait":
        action_wait(args.system, args.n, args.timeout)
    elif args.action in ("pause", "resume"):
        action_pause(resume=args.action == "resume")
    else:
        action_latency(args.system, args.n, args.timeout)


if __name__ == "__main__":
    main()
