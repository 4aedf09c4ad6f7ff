"""How long the admin's job list takes to search a big table.

    .venv/bin/python bench/admin_search.py --db postgres --jobs 1000000
    .venv/bin/python bench/admin_search.py --db sqlite --jobs 100000

Fills a scratch database (PostgreSQL: `bench_admin_search`, dropped and made again; SQLite:
var/bench/admin_search.sqlite3) with N jobs — payloads with a recipient address, 10 % failed
with an error message — then times the real admin view (GET /admin/jobs/backgroundjob/?q=…,
signed in, through Django's test client: the count and the first page) for an id, an
idempotency key, a word in one payload and a word in one error message; the median of
--repeat runs. On PostgreSQL it also times the same searches with the trigram indexes
dropped, and prints the plan of the payload search; then drops the database.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(db: str) -> None:
    if db == "postgres":
        for sql in ["DROP DATABASE IF EXISTS bench_admin_search", "CREATE DATABASE bench_admin_search"]:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/bench_admin_search"
    else:
        path = ROOT / "var" / "bench" / "admin_search.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ["", "-wal", "-shm"]:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_SETTINGS_MODULE"] = "hcm.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(n: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO organizations (id, name, slug, timezone, created_at) "
            "VALUES ('org_bench', 'Bench', 'bench', 'UTC', CURRENT_TIMESTAMP)"
        )
        if connection.vendor == "postgresql":
            cursor.execute(
                """
                INSERT INTO background_jobs (id, organization_id, job_type, status, priority, payload, error_message,
                    progress, retry_count, max_retries, run_at, available_at, idempotency_key, attempt, created_at,
                    created_by, updated_at, updated_by)
                SELECT 'job_' || lpad(to_hex(i), 16, '0'), 'org_bench', 'email_send',
                       CASE WHEN i %% 10 = 0 THEN 'failed' ELSE 'completed' END, 0,
                       jsonb_build_object('to', 'user' || i || '@example.com', 'subject', 'Payslip ' || i),
                       CASE WHEN i %% 10 = 0 THEN 'SMTPRecipientsRefused: user' || i || '@example.com' END,
                       100, 0, 3, now(), now(), 'key-' || i, 1, now() - (i || ' seconds')::interval,
                       'bench', now(), 'bench'
                FROM generate_series(1, %s) AS i
                """,
                [n],
            )
            cursor.execute("VACUUM ANALYZE background_jobs")
        else:
            rows = [
                (
                    f"job_{i:016x}",
                    "failed" if i % 10 == 0 else "completed",
                    f'{{"to": "user{i}@example.com", "subject": "Payslip {i}"}}',
                    f"SMTPRecipientsRefused: user{i}@example.com" if i % 10 == 0 else None,
                    f"key-{i}",
                    i,
                )
                for i in range(1, n + 1)
            ]
            cursor.executemany(
                "INSERT INTO background_jobs (id, organization_id, job_type, status, priority, payload, error_message,"
                " progress, retry_count, max_retries, run_at, available_at, idempotency_key, attempt, created_at,"
                " created_by, updated_at, updated_by) VALUES (%s, 'org_bench', 'email_send', %s, 0, %s, %s, 100, 0, 3,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, %s, 1, datetime('now', '-' || %s || ' seconds'), 'bench',"
                " CURRENT_TIMESTAMP, 'bench')",
                rows,
            )
            cursor.execute("ANALYZE")


def time_searches(n: int, repeat: int) -> dict[str, float]:
    from django.test import Client

    from hcm.models import User

    user = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench", "b@x.test", None)
    client = Client()
    client.force_login(user)
    target = n // 2 - (n // 2) % 10  # a failed job: its error names it too
    queries = {
        "(no search: the first page)": "",
        "id (lands on the job)": f"job_{target:016x}",
        "idempotency key": f"key-{target}",
        "word in one payload": f"user{target + 1}@example.com",
        "word in one error": f"Refused: user{target}@",
    }
    results = {}
    for label, q in queries.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get("/admin/jobs/backgroundjob/", {"q": q} if q else {})
            times.append(time.perf_counter() - start)
            assert response.status_code in (200, 302), response.status_code
        results[label] = statistics.median(times) * 1000
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    setup(args.db)
    start = time.perf_counter()
    fill(args.jobs)
    print(f"{args.db}: {args.jobs:,} jobs inserted in {time.perf_counter() - start:.1f} s")

    with_index = time_searches(args.jobs, args.repeat)
    print(f"| search | ms (median of {args.repeat}) |")
    print("| --- | --- |")
    for label, ms in with_index.items():
        print(f"| {label} | {ms:.0f} |")

    if args.db == "postgres":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN ANALYZE SELECT COUNT(*) FROM background_jobs "
                "WHERE UPPER(payload::text) LIKE UPPER(%s) OR UPPER(error_message::text) LIKE UPPER(%s)",
                [f"%user{args.jobs // 2 + 1}@example.com%"] * 2,
            )
            print("\nplan of the payload search:\n" + "\n".join(row[0] for row in cursor.fetchall()))
            cursor.execute("DROP INDEX bg_jobs_payload_trgm_idx; DROP INDEX bg_jobs_error_trgm_idx")
        without = time_searches(args.jobs, args.repeat)
        print("\nwithout the trigram indexes:\n| search | ms |\n| --- | --- |")
        for label, ms in without.items():
            print(f"| {label} | {ms:.0f} |")
        connection.close()
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", "DROP DATABASE bench_admin_search"])


if __name__ == "__main__":
    main()
