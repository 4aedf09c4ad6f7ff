"""Where an event's fan-out spends its time: the API call and the notification_fanout job,
run in this process (no worker processes), with cProfile and per-statement timings.

    .venv/bin/python bench/profile_fanout.py [--db sqlite|postgres] [--people N] [--runs R]

Sets up the organization as bench/fanout.py does (its own database:
`bench_pfanout_<BENCH_DB_SUFFIX>` on PostgreSQL, var/bench/pfanout.sqlite3), then per run:
POSTs the event, claims its job and runs the handler as a worker thread would, and prints
the wall time of each part, the slowest statements and the top of the profile. For finding
bottlenecks, not for the headline figures (bench/fanout.py measures those with real workers).
The PostgreSQL database is dropped at the end unless --keep.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fanout import database_url, drop_database, make_people  # noqa: E402  (bench/, this script's directory)


class Statements:
    """An execute_wrapper: each statement's wall time."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.rows.append((time.perf_counter() - t0, sql))


def _phase_timers(connection) -> dict[str, float]:
    """Wall time per named step of the fan-out (wrappers around the functions it calls)."""
    import functools

    from notifications.services import deliveries, notify

    phases: dict[str, float] = {}

    def wrap(owner, name: str, label: str) -> None:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[label] = phases.get(label, 0.0) + time.perf_counter() - t0

        setattr(owner, name, timed)

    for name in ["resolve_recipients", "effective_channels_bulk", "personal_quiet_until_bulk", "_fan_out"]:
        wrap(notify, name, name)
    wrap(notify, "bulk_insert", "insert notifications")
    wrap(notify, "deliveries_enqueue", "deliveries_enqueue")
    wrap(deliveries, "job_enqueue_many", "job_enqueue_many")
    wrap(deliveries, "bulk_insert", "insert deliveries")
    wrap(connection, "commit", "commit")
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="Leave the last run's rows (for EXPLAIN ANALYZE).")
    parser.add_argument("--no-profile", action="store_true", help="Wall times only (cProfile slows Python ~2x).")
    args = parser.parse_args()
    os.environ.update(
        DATABASE_URL=database_url(args.db, "pfanout"),
        SECRET_KEY="bench-only-secret-key",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="testserver",
        SITE_URL="https://hcm.example",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DJANGO_SETTINGS_MODULE="hcm.settings",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from jobs.claim import claim_jobs
    from jobs.context import JobContext
    from jobs.models import BackgroundJob
    from jobs.registry import get_job_type
    from notifications.job_types import FANOUT_JOB_TYPE
    from notifications.models import Delivery, Notification

    org, admin, ids = make_people(args.people)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(admin).access_token}")
    body = json.dumps({"event": "critical_alert", "data": {"summary": "Disk full on db-1"}, "recipients": ids})
    spec = get_job_type(FANOUT_JOB_TYPE)
    assert spec is not None
    phases = _phase_timers(connection)

    def backend_cpu() -> float:
        """CPU seconds of this connection's PostgreSQL backend so far (0 on SQLite): the
        server's share, apart from whatever else the machine is running."""
        if args.db != "postgres":
            return 0.0
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # another machine's server
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def timed(label: str, fn, profile: bool):
        statements = Statements()
        profiler = cProfile.Profile() if profile else None
        s0 = backend_cpu()
        t0, c0 = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(statements):
            if profiler:
                profiler.enable()
            try:
                out = fn()
            finally:
                if profiler:
                    profiler.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        server = backend_cpu() - s0
        in_sql = sum(t for t, _ in statements.rows)
        print(
            f"\n== {label}: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU here, "
            f"{server * 1000:.0f} ms server CPU, {len(statements.rows)} statements, {in_sql * 1000:.0f} ms in them"
        )
        for t, sql in sorted(statements.rows, reverse=True)[:8]:
            print(f"   {t * 1000:8.1f} ms  {sql[:150]}")
        if profiler:
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(args.top)
            print("\n".join(stream.getvalue().splitlines()[: args.top + 12]))
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(args.top)
            print("\n".join(stream.getvalue().splitlines()[: args.top + 12]))
        return out

    for run in range(args.runs):
        profile = not args.no_profile and run == args.runs - 1
        response = timed(
            f"run {run}: API call",
            lambda: client.generic("POST", "/api/system/notification-events", body, "application/json"),
            profile,
        )
        assert response.status_code == 202, response.content

        def fan_out():
            [claimed] = claim_jobs(worker_id="profile", limit=1, lease_seconds=600, job_types=[FANOUT_JOB_TYPE])
            ctx = JobContext(job=claimed, payload={}, deadline=time.monotonic() + 600)
            ctx.payload = spec.payload_for_run(claimed.payload, organization_id=claimed.organization_id)
            return spec.func(ctx)

        phases.clear()
        result = timed(f"run {run}: fan-out job (claim + handler)", fan_out, profile)
        print("phases:", ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in phases.items()))
        print("result:", result)
        assert Notification.objects.filter(type="critical_alert").count() == args.people
        if args.keep and run == args.runs - 1:
            break
        with transaction.atomic():
            Delivery.objects.all().delete()
            Notification.objects.all().delete()
            BackgroundJob.objects.all().delete()
        if args.db == "postgres":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE notifications, notification_deliveries, background_jobs")


if __name__ == "__main__":
    try:
        main()
    finally:
        if "--keep" not in sys.argv and "sqlite" not in sys.argv:
            from django.db import connections

            connections.close_all()
            drop_database("postgres", "pfanout")
