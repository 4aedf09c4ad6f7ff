"""What each index (and the PostgreSQL NOTIFY trigger) of background_jobs costs an enqueue.

    .venv/bin/python bench/enqueue_costs.py --db sqlite|postgres [--single N] [--bulk N]

Migrates a scratch database (SQLite: var/bench/enqueue_costs.sqlite3; PostgreSQL:
bench_enqueue_costs[_$BENCH_DB_SUFFIX], dropped at the end), then times the enqueue's own
INSERT (the statement jobs.services writes, rows as job_enqueue builds them) with every
index in place, then with each index dropped in turn, then with none: N single-row
transactions (what `job_enqueue` pays per call) and one transaction of N rows (the bulk
path). Each variant starts from an empty table. Prints a markdown table: rate and the
time each index costs per job (1/rate with it − 1/rate without it): each variant runs
beside its own baseline, alternately, best of --repeat each, so that a burst of load from
other processes does not read as an index's cost.
"""

import argparse
import sys
import time
from pathlib import Path

import scratch_db  # bench/, the script's own directory


def indexes(cursor, vendor: str) -> dict[str, str]:
    """name → CREATE statement of every index of background_jobs but the primary key's."""
    if vendor == "sqlite":
        cursor.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE tbl_name = 'background_jobs' AND type = 'index' AND sql IS NOT NULL"
        )
    else:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'background_jobs' "
            "AND indexname <> 'background_jobs_pkey'"
        )
    return dict(cursor.fetchall())


def has_trigger(cursor, vendor: str) -> bool:
    if vendor != "postgresql":
        return False
    cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = 'background_jobs_notify'")
    return cursor.fetchone() is not None


def rows_for(n: int) -> list[list]:
    """n rows as job_enqueue writes them (its own helpers), each with its own created_at."""
    from django.db import connection
    from django.utils import timezone

    from hcm.models import Organization
    from jobs.models import JobPriority, new_job_id
    from jobs.services import _row, _shared_values

    org, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Benchmark"})
    rows = []
    for _ in range(n):
        now = timezone.now()
        shared = _shared_values(
            now=now,
            db=connection,
            organization_id=org.pk,
            job_type="noop",
            priority=int(JobPriority.MEDIUM),
            max_retries=3,
            run_at=now,
            created_by="system",
        )
        rows.append(_row(shared, job_id=new_job_id(), payload={}, db=connection))
    return rows


def empty(cursor, vendor: str) -> None:
    if vendor == "sqlite":
        cursor.execute("DELETE FROM background_jobs")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        cursor.execute("TRUNCATE background_jobs CASCADE")


def timed(vendor: str, sql: str, single: list[list], bulk: list[list]) -> tuple[float, float]:
    """(single-row transactions per second, rows per second in one transaction)."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        empty(cursor, vendor)
        t0 = time.perf_counter()
        for row in single:
            with transaction.atomic():
                cursor.execute(sql, row)
        single_rate = len(single) / (time.perf_counter() - t0)
        empty(cursor, vendor)
        t0 = time.perf_counter()
        with transaction.atomic():
            cursor.executemany(sql, bulk)
        bulk_rate = len(bulk) / (time.perf_counter() - t0)
    return single_rate, bulk_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--single", type=int, default=1000, help="single-row transactions per variant")
    parser.add_argument("--bulk", type=int, default=10000, help="rows of the one-transaction variant")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant and of its baseline (best kept)")
    args = parser.parse_args()
    scratch_db.setup("enqueue_costs", args.db)
    from django.db import connection

    from jobs.services import _insert_sql

    vendor = connection.vendor
    sql = _insert_sql(vendor)  # the statement job_enqueue runs
    single, bulk = rows_for(args.single), rows_for(args.bulk)
    with connection.cursor() as cursor:
        all_indexes = indexes(cursor, vendor)
        trigger = has_trigger(cursor, vendor)
    timed(vendor, sql, single[:100], bulk[:1000])  # warm up
    results: list[tuple[str, tuple[float, float], tuple[float, float]]] = []
    variants: list[tuple[str, list[str], list[str]]] = [
        (f"without {name}", [f'DROP INDEX "{name}"'], [create]) for name, create in sorted(all_indexes.items())
    ]
    if trigger:
        variants.append(
            (
                "without the NOTIFY trigger",
                ["ALTER TABLE background_jobs DISABLE TRIGGER background_jobs_notify"],
                ["ALTER TABLE background_jobs ENABLE TRIGGER background_jobs_notify"],
            )
        )
    # The API's list indexes (jobs/models.py), together: what the list targets cost an enqueue.
    lists = {n: c for n, c in all_indexes.items() if n.startswith("bg_jobs_org_")}
    if lists:
        variants.append(
            ("without the list indexes (bg_jobs_org_*)", [f'DROP INDEX "{n}"' for n in lists], list(lists.values()))
        )
    variants.append(
        (
            "without any index but the primary key",
            [f'DROP INDEX "{n}"' for n in all_indexes],
            list(all_indexes.values()),
        )
    )
    for label, drop, restore in variants:
        # Baseline and variant alternate, best of `repeat` each: the machine is shared, and a
        # burst of someone else's load must not read as an index's cost.
        base_runs, runs = [], []
        for _ in range(args.repeat):
            base_runs.append(timed(vendor, sql, single, bulk))
            with connection.cursor() as cursor:
                for statement in drop:
                    cursor.execute(statement)
            runs.append(timed(vendor, sql, single, bulk))
            with connection.cursor() as cursor:
                empty(cursor, vendor)
                for statement in restore:
                    cursor.execute(statement)
        base = (max(r[0] for r in base_runs), max(r[1] for r in base_runs))
        best = (max(r[0] for r in runs), max(r[1] for r in runs))
        results.append((label, base, best))
        print(
            f"  {label}: {best[0]:,.0f}/s single (with it {base[0]:,.0f}), "
            f"{best[1]:,.0f}/s bulk (with it {base[1]:,.0f})",
            file=sys.stderr,
        )

    print(
        f"\n{vendor}: {args.single:,} single-row transactions, {args.bulk:,} rows in one transaction; load {_load()}\n"
    )
    print("| variant | single /s (with it) | µs per job | bulk rows/s (with it) | µs per row |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, base, best in results:
        saved_one = 1e6 / base[0] - 1e6 / best[0]
        saved_many = 1e6 / base[1] - 1e6 / best[1]
        print(
            f"| {label} | {best[0]:,.0f} ({base[0]:,.0f}) | {saved_one:+.1f} "
            f"| {best[1]:,.0f} ({base[1]:,.0f}) | {saved_many:+.1f} |"
        )
    scratch_db.teardown("enqueue_costs", args.db)
    return 0


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    sys.exit(main())
