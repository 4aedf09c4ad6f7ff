"""List and /stats latency at scale: 1,000,000 jobs (and 1,000,000 attempt rows) in one
organization, on SQLite or PostgreSQL.

    .venv/bin/python bench/lists.py --db sqlite|postgres [--rows N] [--samples K] [--rebuild]

The tables are built by one INSERT … SELECT each (a recursive CTE on SQLite,
generate_series on PostgreSQL), not through the API, into a database of the benchmark's
own (var/bench/lists.sqlite3 / `bench_lists`; with BENCH_DB_SUFFIX=x,
var/bench/lists_x.sqlite3 / `bench_lists_x`), kept between runs unless --rebuild. Then
every list query the API offers — plain, each filter, their combinations, a deep page by
`skip` and by cursor — and /stats are requested K times in-process through Django's test
client with a real JWT (the full middleware, DRF, serializer and database path; no HTTP
socket), and their p50 / p95 printed as JSON lines and a markdown table with the targets.

Data: created_at spread evenly over the last 30 days; status by row number mod 100:
90 % completed, 5 % failed, 3 % queued, 1 % cancelled, 1 % processing; six job types in
turn; priority low / medium / high in turn; one attempt per job finishing a second after
it was created (so about 7/30 of them fall in /stats' 7-day window).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
PYTHON = sys.executable
WORK_DIR = PROJECT_DIR / "var" / "bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
JOB_TYPES = ["email_send", "notification_send", "cache_flush", "cleanup", "django_task", "noop"]
LIST_TARGET_MS = 50.0
STATS_TARGET_MS = 250.0
SPAN_US = 30 * 86400 * 1_000_000  # created_at spread over 30 days
# BENCH_DB_SUFFIX=x: database bench_lists_x / file var/bench/lists_x.sqlite3, so that runs
# side by side (one per worktree) do not share, or drop, one another's tables.
SUFFIX = os.environ.get("BENCH_DB_SUFFIX", "")
PG_DB_NAME = f"bench_lists_{SUFFIX}" if SUFFIX else "bench_lists"
SQLITE_PATH = WORK_DIR / (f"lists_{SUFFIX}.sqlite3" if SUFFIX else "lists.sqlite3")


def database_url(db: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{SQLITE_PATH}"
    return f"postgres://postgres@127.0.0.1:5432/{PG_DB_NAME}"


def prepare_database(db: str, rebuild: bool) -> None:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if db == "sqlite":
        if rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
    else:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DB_NAME]).fetchone()
            if exists and rebuild:
                conn.execute(f'DROP DATABASE "{PG_DB_NAME}" WITH (FORCE)')
                exists = None
            if not exists:
                conn.execute(f'CREATE DATABASE "{PG_DB_NAME}"')
    env = {**os.environ, "DATABASE_URL": database_url(db), "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"}
    subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=PROJECT_DIR, env=env, check=True)


def build_tables(vendor: str, org_id: str, rows: int) -> float:
    """One INSERT … SELECT per table; returns seconds taken."""
    from django.db import connection

    now_us = int(time.time() * 1_000_000)
    start_us = now_us - SPAN_US
    step_us = SPAN_US // rows
    types = ", ".join(f"'{t}'" for t in JOB_TYPES)
    status = (
        "CASE WHEN x % 100 < 90 THEN 'completed' WHEN x % 100 < 95 THEN 'failed' "
        "WHEN x % 100 < 98 THEN 'queued' WHEN x % 100 < 99 THEN 'cancelled' ELSE 'processing' END"
    )
    outcome = "CASE WHEN x % 100 < 90 THEN 'completed' ELSE 'failed' END"
    if vendor == "sqlite":
        series = f"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {rows})"
        job_id = "'job_' || printf('%016x', x)"
        job_type = f"json_extract('[{types.replace(chr(39), chr(34))}]', '$[' || (x % {len(JOB_TYPES)}) || ']')"

        def ts(offset_us: str) -> str:
            t = f"({start_us} + x * {step_us} + {offset_us})"
            return f"datetime({t} / 1000000, 'unixepoch') || '.' || printf('%06d', {t} % 1000000)"

        source = "s"
    else:
        series = ""
        job_id = "'job_' || lpad(to_hex(x), 16, '0')"
        job_type = f"(ARRAY[{types}])[x % {len(JOB_TYPES)} + 1]"

        def ts(offset_us: str) -> str:
            return f"to_timestamp(({start_us} + x * {step_us} + {offset_us}) / 1000000.0)"

        source = f"generate_series(1::bigint, {rows}) AS s(x)"
    t0 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute(
            f"""{series}
            INSERT INTO background_jobs (id, organization_id, job_type, status, priority, payload, progress,
                retry_count, max_retries, run_at, attempt, created_at, created_by, updated_at,
                updated_by, started_at, completed_at, trigger)
            SELECT {job_id}, '{org_id}', {job_type}, {status}, (x % 3) - 1, '{{}}', 0,
                0, 3, {ts("0")}, 1, {ts("0")}, 'bench', {ts("1000000")},
                'bench', {ts("500000")}, {ts("1000000")}, 'system'
            FROM {source}"""
        )
        cur.execute(
            f"""{series}
            INSERT INTO background_job_attempts (job_id, attempt, worker_id, job_type, started_at, finished_at,
                duration_ms, outcome)
            SELECT {job_id}, 1, 'bench:1', {job_type}, {ts("500000")}, {ts("1000000")},
                (x % 997) * 1.5, {outcome}
            FROM {source}"""
        )
    return time.monotonic() - t0


def settle(vendor: str) -> None:
    """Statistics (and on PostgreSQL the visibility map, for index-only scans), as
    autovacuum keeps them in steady operation (jobs/migrations/0004)."""
    from django.db import connection

    with connection.cursor() as cur:
        if vendor == "postgresql":
            # The figure tables too: rebuild_figures() just replaced a million ledger rows
            # (the build's row trigger counted each finished job) with a few dozen.
            for table in (
                "background_jobs",
                "background_job_attempts",
                "background_job_counts",
                "background_job_durations",
            ):
                cur.execute(f"VACUUM ANALYZE {table}")
        else:
            cur.execute("ANALYZE")


def measure(client, url: str, samples: int) -> tuple[float, float, dict]:
    client.get(url)  # warm: plans, caches
    times = []
    body = {}
    for _ in range(samples):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.content[:300]!r}")
        body = response.json()
    times.sort()
    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
    return statistics.median(times), p95, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--rebuild", action="store_true", help="Drop and build the tables again.")
    args = parser.parse_args()

    prepare_database(args.db, args.rebuild)
    os.environ.update(
        DATABASE_URL=database_url(args.db), SECRET_KEY="bench", LOG_LEVEL="WARNING", ALLOWED_HOSTS="testserver"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcm.settings")
    sys.path.insert(0, str(PROJECT_DIR))
    import django

    django.setup()
    from django.db import connection
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from hcm.models import Organization, Role
    from hcm.services import org_user_upsert
    from jobs.models import BackgroundJob

    org, _ = Organization.objects.get_or_create(slug="bench-lists", defaults={"name": "Bench lists"})
    user, _ = org_user_upsert(
        org_slug=org.slug, username="bench-lists-admin", password="bench-password-1234", role=Role.SYSTEM_ADMIN
    )
    have = BackgroundJob.objects.filter(organization=org).count()
    if have != args.rows:
        BackgroundJob.objects.filter(organization=org).delete()
        seconds = build_tables(connection.vendor, str(org.pk), args.rows)
        # SQLite has no INSERT trigger (jobs are born queued; these are born finished).
        from jobs.stats_figures import rebuild_figures

        rebuild_figures()
        print(json.dumps({"built": args.rows, "seconds": round(seconds, 1)}), flush=True)
    settle(connection.vendor)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    base = "/api/system/background-jobs"
    # Plain, every value of each filter, each pair and the triple: both ones that match and
    # ones that match nothing (job type `noop` is always priority high in this data, so
    # `noop` + medium must rule out every row).
    queries = [
        "",
        *(f"?status={s}" for s in ("queued", "processing", "completed", "failed", "cancelled")),
        "?job_type=email_send",
        *(f"?priority={p}" for p in ("low", "medium", "high")),
        "?status=failed&job_type=email_send",
        "?status=completed&priority=low",
        "?job_type=cleanup&priority=high",
        "?job_type=noop&priority=medium",
        "?status=failed&job_type=noop&priority=high",
        "?status=queued&job_type=noop&priority=medium",
        "?limit=200",
    ]
    rows: list[tuple[str, float, float, Any, Any, float | None]] = []
    cursor_from = None
    for query in queries:
        p50, p95, body = measure(client, base + query, args.samples)
        rows.append((f"GET {base}{query}", p50, p95, body.get("total"), body.get("total_exact"), LIST_TARGET_MS))
        if query == "":
            cursor_from = body
    # A deep page by skip still works (OFFSET reads and drops the rows before it): no
    # target; deep pages are the cursor's job, measured next.
    p50, p95, body = measure(client, f"{base}?skip={args.rows // 2}", args.samples)
    rows.append((f"GET {base}?skip={args.rows // 2}", p50, p95, body.get("total"), body.get("total_exact"), None))
    # A deep page by cursor: walk to about the middle with the cursor of a page there.
    middle = BackgroundJob.objects.filter(organization=org).order_by("-created_at", "-id")[args.rows // 2]
    from hcm.pagination import encode_cursor, list_ordering

    cursor = encode_cursor(middle, list_ordering(BackgroundJob.objects.order_by("-created_at", "-id")))
    for query in (f"?after={cursor}", f"?after={cursor}&status=failed&job_type=email_send"):
        p50, p95, body = measure(client, base + query, args.samples)
        rows.append(
            (
                f"GET {base}?after=<cursor at row {args.rows // 2:,}>{query[len(cursor) + 7 :]}",
                p50,
                p95,
                body.get("total"),
                body.get("total_exact"),
                LIST_TARGET_MS,
            )
        )
    assert cursor_from and cursor_from.get("next")
    p50, p95, body = measure(client, f"{base}/stats", max(5, args.samples // 4))
    rows.append((f"GET {base}/stats", p50, p95, body.get("total"), True, STATS_TARGET_MS))

    label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[args.db]
    print(
        f"\n{label}, {args.rows:,} jobs + {args.rows:,} attempts in one organization, {args.samples} requests each"
        f" (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})\n"
    )
    print("| request | p50 ms | p95 ms | total (exact?) | target p95 |")
    print("| --- | ---: | ---: | --- | --- |")
    for name, p50, p95, total, exact, target in rows:
        if target is None:
            total_s = "" if total is None else f"{total:,} ({'exact' if exact else 'at least'})"
            print(f"| `{name}` | {p50:.1f} | {p95:.1f} | {total_s} | none (works; use the cursor) |")
            continue
        met = "met" if p95 <= target else "NOT met"
        total_s = "" if total is None else f"{total:,} ({'exact' if exact else 'at least'})"
        print(f"| `{name}` | {p50:.1f} | {p95:.1f} | {total_s} | ≤ {target:.0f} ms: {met} |")
        print(
            json.dumps({"db": args.db, "request": name, "p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
