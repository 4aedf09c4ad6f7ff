"""Where the time of the Tasks API's bulk path goes: N `.enqueue()` calls in one transaction.

    .venv/bin/python bench/tasks_api_costs.py --db sqlite|postgres [--n N] [--repeat R]

Migrates a scratch database (SQLite: var/bench/tasks_api_costs.sqlite3; PostgreSQL:
bench_tasks_api_costs[_$BENCH_DB_SUFFIX], dropped at the end) and prints CPU µs per call
(this process's CPU time, and on PostgreSQL its server process's: on a loaded machine wall
time is mostly waiting for a CPU), best of R:

- the floor django-tasks sets: the no-op @task's `.enqueue()` on a backend whose enqueue
  returns None (Task.enqueue, get_backend), then on one that does only what every backend
  must (a job id, the time, the TaskResult, `task_enqueued`);
- ours with the rows held on the connection, not yet written (the calls alone);
- the write and the commit of the held rows (jobs/task_buffer.py), per row;
- the whole transaction, and the rate that makes.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import scratch_db  # bench/, the script's own directory


def server_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend (0 on SQLite: none)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def empty() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE background_jobs CASCADE")
        else:
            cursor.execute("DELETE FROM background_jobs")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def line(label: str, micros: float) -> None:
    print(f"- {label:<66} {micros:6.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scratch_db.setup("tasks_api_costs", args.db)
    try:
        run(args.n, args.repeat)
    finally:
        scratch_db.teardown("tasks_api_costs", args.db)
    return 0


def run(n: int, repeat: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tasks.signals import task_enqueued
    from tasksdb_project.tasks import noop

    from jobs import task_buffer
    from jobs.models import new_job_id
    from jobs.tasks_backend import _ready_result

    backend = noop.get_backend()
    noop.enqueue()  # warm up: connection, per-task template

    def nothing(task, args, kwargs):
        return None

    def result_and_signal(task, args, kwargs):
        result = _ready_result(task, new_job_id(), timezone.now(), [], {}, backend.alias)
        task_enqueued.send(type(backend), task_result=result)
        return result

    def calls() -> None:
        for _ in range(n):
            noop.enqueue()

    def floor(enqueue) -> float:
        backend.enqueue = enqueue  # type: ignore[method-assign]  # this instance only, put back below
        try:
            best = float("inf")
            for _ in range(repeat):
                t0 = time.process_time()
                calls()
                best = min(best, time.process_time() - t0)
        finally:
            del backend.enqueue
        return best / n * 1e6

    print(f"{n:,} calls of the no-op @task's .enqueue() in one transaction, {connection.vendor}; CPU µs per call")
    line("Task.enqueue on a backend that does nothing", floor(nothing))
    line("… that makes an id, the time, a TaskResult, sends task_enqueued", floor(result_and_signal))
    held_max = task_buffer.PENDING_MAX_ROWS
    task_buffer.PENDING_MAX_ROWS = n + 1  # all held until the commit: the calls alone, then the write
    try:
        best: tuple[float, float, float, float] | None = None
        for _ in range(repeat):
            empty()
            cpu0, server0, wall0 = time.process_time(), server_cpu(), time.perf_counter()
            with transaction.atomic():
                calls()
                cpu1 = time.process_time()
            cpu2, server2, wall2 = time.process_time(), server_cpu(), time.perf_counter()
            figures = (cpu1 - cpu0, cpu2 - cpu1, server2 - server0, wall2 - wall0)
            if best is None or sum(figures[:3]) < sum(best[:3]):
                best = figures
    finally:
        task_buffer.PENDING_MAX_ROWS = held_max
    assert best is not None
    calls_s, write_s, server_s, wall_s = best
    line("ours, rows held (the calls alone)", calls_s / n * 1e6)
    line("ours, their write and the commit, per row", write_s / n * 1e6)
    if connection.vendor == "postgresql":
        line("… the PostgreSQL server process's, per row", server_s / n * 1e6)
    print(f"- whole transaction: {n / wall_s:,.0f}/s wall; {n / (calls_s + write_s):,.0f}/s by this process's CPU")


if __name__ == "__main__":
    sys.exit(main())
