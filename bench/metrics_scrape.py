"""What one GET /metrics costs with 1,000,000 jobs, on SQLite and PostgreSQL.

    .venv/bin/python bench/metrics_scrape.py [--jobs N] [--db sqlite|postgres|both] [--keep]

Builds a database of its own (SQLite var/bench/metrics.sqlite3; PostgreSQL bench_metrics,
created and dropped here) with `manage.py migrate`, then fills it with one INSERT … SELECT
per table (generate_series on PostgreSQL, a recursive CTE on SQLite): N jobs (96 %
completed, 2.5 % failed, 0.5 % cancelled, 0.5 % queued and due, 0.3 % queued for later,
0.2 % processing) over the last 30 days, one attempt per finished job, N notifications and
N deliveries. Then it scrapes /metrics in-process (Django's test client: the view, the
queries and the text format, no HTTP) and prints, per database:

- the first scrape (it creates the counters' cursors), the median of 5 scrapes with
  nothing new, and one scrape after 10,000 attempts and 10,000 deliveries finished since
  the previous one (what a 15 s scrape interval sees at ~700 jobs/s);
- the queries one scrape runs, and each SELECT's plan (EXPLAIN ANALYZE on PostgreSQL,
  EXPLAIN QUERY PLAN on SQLite), flagging any full scan of a table.

PostgreSQL tables are VACUUM ANALYZEd after the load, as autovacuum keeps them in steady
operation; SQLite gets no ANALYZE (the service runs none unless the db_optimize job does).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_DIR = PROJECT_DIR / "var" / "bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "bench_metrics"
TOKEN = "bench-metrics-token"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--keep", action="store_true", help="Keep the databases afterwards.")
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.jobs)
    results = []
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        url = prepare(db)
        try:
            env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "METRICS_TOKEN": TOKEN}
            env.update(METRICS_ATTEMPTS_LAG_SECONDS="0", LOG_LEVEL="WARNING", LOG_DIR="-", ALLOWED_HOSTS="testserver")
            env["PYTHONPATH"] = str(PROJECT_DIR)
            done = subprocess.run(
                [sys.executable, __file__, "--child", db, "--jobs", str(args.jobs)],
                cwd=PROJECT_DIR,
                env=env,
                capture_output=True,
                text=True,
            )
            sys.stderr.write(done.stderr)
            if done.returncode != 0:
                print(f"{db}: failed", file=sys.stderr)
                return 1
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        finally:
            if not args.keep:
                drop(db)
    report(results, args.jobs)
    return 0


def prepare(db: str) -> str:
    if db == "sqlite":
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        path = WORK_DIR / "metrics.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME}")
        conn.execute(f"CREATE DATABASE {PG_NAME}")
    return f"postgres://postgres@127.0.0.1:5432/{PG_NAME}"


def drop(db: str) -> None:
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{WORK_DIR / 'metrics.sqlite3'}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME}")


# --- in the child process: one database ----------------------------------------------------


def child(db: str, n: int) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcm.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    build(db, n)
    build_s = time.perf_counter() - t0
    print(f"{db}: built {n:,} jobs in {build_s:.1f} s", file=sys.stderr)
    first, steady, busy, queries, plans = measure(db, n)
    print(json.dumps({"db": db, "n": n, "build_s": build_s, "first_ms": first, "steady_ms": steady,
                      "busy_ms": busy, "queries": queries, "plans": plans}))  # fmt: skip
    return 0


def series(db: str, n: int) -> str:
    """A row source of i = 0 … n-1 (the FROM/WITH part of an INSERT … SELECT)."""
    if db == "postgres":
        return f"generate_series(0::bigint, {n - 1}) AS s(i)"
    return "s"


def with_series(db: str, n: int) -> str:
    if db == "postgres":
        return ""
    return f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1}) "


def ago(db: str, seconds_sql: str) -> str:
    """The time `seconds_sql` seconds ago, as each database stores Django's datetimes."""
    if db == "postgres":
        return f"(now() - ({seconds_sql}) * interval '1 second')"
    return f"strftime('%Y-%m-%d %H:%M:%f', 'now', (-({seconds_sql})) || ' seconds')"


def build(db: str, n: int) -> None:
    from django.db import connection

    from hcm.models import Organization, User

    org = Organization.objects.create(name="Bench", slug="bench")
    user = User.objects.create(username="bench", organization=org)
    types = ["noop", "email_send", "cache_flush", "cleanup", "notification_send"]
    pick_type = (
        f"(ARRAY{types})[1 + i % 5]"
        if db == "postgres"
        else "CASE i % 5 " + " ".join(f"WHEN {k} THEN '{t}'" for k, t in enumerate(types)) + " END"
    )
    status = (
        "CASE WHEN i % 1000 < 960 THEN 'completed' WHEN i % 1000 < 985 THEN 'failed' "
        "WHEN i % 1000 < 990 THEN 'cancelled' WHEN i % 1000 < 995 THEN 'queued' "
        "WHEN i % 1000 < 998 THEN 'queued' ELSE 'processing' END"
    )
    created = ago(db, f"2592000 - i * 2592000 / {n}")  # oldest first, over 30 days
    available = (
        f"CASE WHEN i % 1000 >= 995 AND i % 1000 < 998 THEN {ago(db, '-3600')} ELSE {created} END"  # later: +1 h
    )
    finished = f"CASE WHEN i % 1000 < 990 THEN {created} END"
    hex_id = "lpad(to_hex(i), 12, '0')" if db == "postgres" else "printf('%012x', i)"
    json_empty = "'{}'::jsonb" if db == "postgres" else "'{}'"
    jobs = f"""
        INSERT INTO background_jobs (id, organization_id, job_type, status, priority, payload, progress,
            retry_count, max_retries, run_at, available_at, queue_name, attempt, locked_by, lease_expires_at,
            created_at, created_by, started_at, completed_at, updated_at, updated_by)
        {with_series(db, n)}
        SELECT 'job_b' || {hex_id}, '{org.pk}', {pick_type}, {status}, i % 3 - 1, {json_empty}, 0,
            0, 3, {created}, {available}, 'default', CASE WHEN i % 1000 < 995 AND i % 1000 >= 990 THEN 0 ELSE 1 END,
            CASE WHEN i % 1000 >= 998 THEN 'bench-worker' END,
            CASE WHEN i % 1000 >= 998 THEN {ago(db, "-60")} END,
            {created}, 'bench', {finished}, {finished}, {created}, 'bench'
        FROM {series(db, n)}
    """
    attempts = """
        INSERT INTO background_job_attempts (job_id, attempt, worker_id, job_type, started_at, finished_at,
            duration_ms, outcome)
        SELECT id, 1, 'bench-worker', job_type, completed_at, completed_at, (length(id) * 7 + priority) % 900 + 0.5,
            status
        FROM background_jobs WHERE status IN ('completed', 'failed', 'cancelled')
    """
    notifications = f"""
        INSERT INTO notifications (id, organization_id, user_id, type, title, message, priority, channels, status,
            metadata, action_url, created_at)
        {with_series(db, n)}
        SELECT 'ntf_b' || {hex_id}, '{org.pk}', {user.pk}, 'bench', 'Bench', '', 'normal', {json_empty.replace("{}", "[]")},
            'sent', {json_empty}, '', {created}
        FROM {series(db, n)}
    """  # noqa: E501
    deliveries = f"""
        INSERT INTO notification_deliveries (id, organization_id, user_id, event, channel, recipient, content, status,
            attempts, created_at, updated_at, sent_at)
        {with_series(db, n)}
        SELECT 'dlv_b' || {hex_id}, '{org.pk}', {user.pk}, 'bench',
            CASE i % 3 WHEN 0 THEN 'email' WHEN 1 THEN 'sms' ELSE 'slack' END, 'x', {json_empty},
            CASE WHEN i % 100 < 97 THEN 'sent' WHEN i % 100 < 99 THEN 'failed' ELSE 'queued' END,
            1, {created}, {created}, {created}
        FROM {series(db, n)}
    """
    with connection.cursor() as cursor:
        for name, sql in (("jobs", jobs), ("attempts", attempts), ("notifications", notifications),
                          ("deliveries", deliveries)):  # fmt: skip
            t0 = time.perf_counter()
            cursor.execute(sql)
            print(f"{db}: {name}: {cursor.rowcount:,} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if db == "postgres":
        connection.ensure_connection()
        old = connection.connection.autocommit
        connection.connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        connection.connection.autocommit = old


def scrape_ms() -> tuple[float, list[str]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    with CaptureQueriesContext(connection) as queries:
        t0 = time.perf_counter()
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        ms = (time.perf_counter() - t0) * 1000
    assert response.status_code == 200, response.content[:200]
    return ms, [q["sql"] for q in queries.captured_queries]


def activity(db: str, count: int) -> None:
    """`count` attempts and deliveries finished since the last scrape."""
    from django.db import connection

    # Finished after the previous scrape (its cursor); the bench runs with no lag.
    now = ago(db, "0")
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO background_job_attempts (job_id, attempt, worker_id, job_type, started_at, finished_at,
                duration_ms, outcome)
            {with_series(db, count)}
            SELECT 'job_b' || {"lpad(to_hex(i), 12, '0')" if db == "postgres" else "printf('%012x', i)"}, 2,
                'bench-worker', 'noop', {now}, {now}, 3.5, 'completed'
            FROM {series(db, count)}
        """)  # fmt: skip
        cursor.execute(f"""
            UPDATE notification_deliveries SET status = 'sent', updated_at = {ago(db, "1")}
             WHERE id IN (SELECT id FROM notification_deliveries WHERE status = 'queued' LIMIT {count})
        """)  # fmt: skip


def measure(db: str, n: int) -> tuple[float, float, float, int, list[str]]:
    first, _ = scrape_ms()
    steady = statistics.median(scrape_ms()[0] for _ in range(5))
    activity(db, 10_000)
    busy, sql = scrape_ms()
    return first, steady, busy, len(sql), explain(db, sql)


def explain(db: str, statements: list[str]) -> list[str]:
    """Each SELECT's plan, one line per node; a full table scan is marked FULL SCAN."""
    from django.db import connection

    plans = []
    with connection.cursor() as cursor:
        for sql in statements:
            if not sql.lstrip().upper().startswith("SELECT") or "FOR UPDATE" in sql.upper():
                continue
            if db == "postgres":
                cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) {sql}")
                lines = [row[0] for row in cursor.fetchall()]
            else:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                lines = [row[-1] for row in cursor.fetchall()]
            full = [
                line for line in lines
                if ("Seq Scan" in line or (line.startswith("SCAN ") and " USING " not in line))
                and not any(small in line for small in ("metric_", "background_job_pauses", "background_job_workers"))
            ]  # fmt: skip
            head = ("FULL SCAN: " if full else "") + sql[:160].replace("\n", " ")
            plans.append(head + "\n      " + "\n      ".join(lines))
    return plans


def report(results: list[dict], n: int) -> None:
    print(f"\nOne GET /metrics with {n:,} jobs, {n:,} notifications and {n:,} deliveries (in-process, ms);")
    live = f"{n * 8 // 1000:,} queued + {n * 2 // 1000:,} processing jobs, {n // 100:,} deliveries waiting"
    print(f"live queue: {live}.\n")
    print("| DB | build (one INSERT … SELECT per table) | first scrape | scrape, nothing new (median of 5) "
          "| scrape after 10,000 attempts + 10,000 deliveries | queries per scrape |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    for r in results:
        print(f"| {label[r['db']]} | {r['build_s']:.0f} s | {r['first_ms']:.1f} | {r['steady_ms']:.1f} "
              f"| {r['busy_ms']:.1f} | {r['queries']} |")  # fmt: skip
    print(f"\nLoad average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs).")
    for r in results:
        print(f"\n{label[r['db']]} plans:")
        for plan in r["plans"]:
            print("  - " + plan)


if __name__ == "__main__":
    sys.exit(main())
