"""The figures GET /stats reads instead of counting a million rows.

- `background_job_counts`: finished jobs (completed, failed, cancelled) per
  (organization, job type, status). Queued and processing jobs — the pending queue, short
  in steady operation — are counted live from the (organization, status, …, job_type)
  list index.
- `background_job_durations`: attempts per (organization, job type, hour finished,
  duration bucket), with their completed count and summed duration.

Database triggers keep both (migration 0013_lists_stats_figures), in the transaction that
writes a job or an attempt. A trigger is the one place that sees every path that moves a
job into or out of a finished status — the worker's batched outcomes, lease recovery,
cancel, retry, the admin's bulk actions, retention's deletes, a raw UPDATE — so the counts
cannot drift from the rows, whatever code is added later. An enqueue (a job is born
queued) and a claim fire no trigger work: on SQLite there is no INSERT trigger at all (any
row trigger there halves a bulk insert's rate), so a job INSERTed already finished by
hand-written SQL is missed until `rebuild_figures()`; on PostgreSQL a row trigger counts it.

SQLite has one writer at a time: its row triggers upsert the one row of each key.
PostgreSQL runs writers concurrently, and an upsert there would make every outcome of one
(organization, job type) wait on the same row lock until commit; its triggers append
deltas instead (a ledger: the sum of a key's rows is its figure; UPDATE and DELETE add one
row per key a statement changed) and `compact_figures` folds them back into one row per key.

Durations are kept in buckets 2^(1/4) apart (each at most 19 % wider than its lower
edge): /stats reports the p95 as the upper edge of the bucket that holds the
nearest-rank 95th percentile, so it is at most 19 % above the true value, never below.
"""

import math
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from jobs.models import FINISHED_STATUSES, JobStatus

PENDING_STATUSES = (JobStatus.QUEUED.value, JobStatus.PROCESSING.value)

# Must match the edges frozen in jobs/migrations/0013_lists_stats_figures.py.
BUCKET_EDGES_MS: tuple[float, ...] = tuple(2 ** (k / 4) for k in range(-16, 100))
# /stats folds an organization's ledger (PostgreSQL) once its job counts have this many
# rows past one per key; the durations' ledger grows with it (the same worker batches).
COMPACT_AFTER_ROWS = 200
# Duration rows older than this are never read again (/stats' window is 7 days).
DURATIONS_KEEP_DAYS = 8


def service_key(organization_id: str | None) -> str:
    """The figures' key for an organization; '' for service-wide jobs (a unique key cannot hold NULL)."""
    return organization_id or ""


def job_counts(*, organization_id: str | None) -> tuple[list[tuple[str, str, int]], int]:
    """(job_type, status, jobs) for every non-zero count: finished ones from the kept
    figures, queued and processing ones counted live; and how many ledger rows past one per
    key it read (0 on SQLite; on PostgreSQL, what compact_figures would fold)."""
    key = service_key(organization_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT job_type, status, SUM(n), COUNT(*) FROM background_job_counts WHERE organization_id = %s "
            "GROUP BY job_type, status",
            [key],
        )
        kept = cursor.fetchall()
        # A range per status of the (organization, status, priority, …, job_type) list
        # index, which covers it: no row read. SQLite would rather walk every job of the
        # organization along an index in GROUP BY order; the unary + rules that out.
        where = "organization_id IS NULL" if organization_id is None else "organization_id = %s"
        plus = "+" if connection.vendor == "sqlite" else ""
        cursor.execute(
            f"SELECT job_type, status, COUNT(*) FROM background_jobs WHERE {where} AND status IN (%s, %s) "
            f"GROUP BY {plus}status, {plus}job_type",
            [*([organization_id] if organization_id is not None else []), *PENDING_STATUSES],
        )
        live = cursor.fetchall()
    counts = sorted([(t, s, int(n)) for t, s, n, _ in kept if n] + [(t, s, int(n)) for t, s, n in live if n])
    return counts, sum(r[3] - 1 for r in kept)


def rebuild_figures() -> None:
    """Recount the finished jobs' figures from the rows (after jobs were INSERTed already
    finished by hand-written SQL on SQLite, e.g. bench/lists.py's million rows)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM background_job_counts")
        cursor.execute(
            "INSERT INTO background_job_counts (organization_id, job_type, status, n) "
            "SELECT COALESCE(organization_id, ''), job_type, status, COUNT(*) FROM background_jobs "
            "WHERE status IN (%s, %s, %s) GROUP BY 1, 2, 3",
            [status.value for status in FINISHED_STATUSES],
        )


def attempt_durations(*, organization_id: str | None, since: datetime) -> dict[str, dict[str, Any]]:
    """Per job type, over the attempts that finished in the hours from `since` (an hour
    boundary): runs, succeeded, summed duration and (bucket, runs) pairs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT job_type, bucket, SUM(runs), SUM(succeeded), SUM(total_ms) "
            "FROM background_job_durations WHERE organization_id = %s AND hour >= %s "
            "GROUP BY job_type, bucket ORDER BY job_type, bucket",
            [service_key(organization_id), connection.ops.adapt_datetimefield_value(since)],
        )
        rows = cursor.fetchall()
    per_type: dict[str, dict[str, Any]] = {}
    for job_type, bucket, runs, succeeded, total_ms in rows:
        if not runs:
            continue
        row = per_type.setdefault(job_type, {"runs": 0, "succeeded": 0, "total_ms": 0.0, "buckets": []})
        row["runs"] += int(runs)
        row["succeeded"] += int(succeeded)
        row["total_ms"] += float(total_ms)
        row["buckets"].append((int(bucket), int(runs)))
    return per_type


def p95_upper_edge(buckets: list[tuple[int, int]], runs: int) -> float:
    """The upper edge of the bucket holding the nearest-rank 95th percentile."""
    rank = max(1, math.ceil(0.95 * runs))
    seen = 0
    for bucket, n in sorted(buckets):
        seen += n
        if seen >= rank:
            return BUCKET_EDGES_MS[min(bucket, len(BUCKET_EDGES_MS) - 1)]
    return BUCKET_EDGES_MS[-1]


_FIGURES = {
    "background_job_counts": (("job_type", "status"), ("n",)),
    "background_job_durations": (("job_type", "hour", "bucket"), ("runs", "succeeded", "total_ms")),
}


def compact_figures(*, organization_id: str | None = None, all_organizations: bool = False) -> int:
    """PostgreSQL: fold the ledger rows of every key that has more than one into one row
    (one organization's keys, or every one's); returns the rows removed. Safe beside
    writers and other compactions: each statement re-inserts the sum of exactly the rows
    its own DELETE removed. SQLite keeps one row per key: nothing to do."""
    if connection.vendor != "postgresql":
        return 0
    removed = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for table, (key, values) in _FIGURES.items():
            key = ("organization_id", *key)
            where, params = (
                ("", []) if all_organizations else ("WHERE organization_id = %s", [service_key(organization_id)])
            )
            cols = ", ".join(key)
            match = " AND ".join(f"f.{c} = dup.{c}" for c in key)
            sums = ", ".join(f"SUM({v})" for v in values)
            cursor.execute(
                f"""WITH dup AS (SELECT {cols} FROM {table} {where} GROUP BY {cols} HAVING COUNT(*) > 1),
                    gone AS (DELETE FROM {table} f USING dup WHERE {match}
                        RETURNING {", ".join(f"f.{c}" for c in (*key, *values))}),
                    kept AS (INSERT INTO {table} ({cols}, {", ".join(values)})
                        SELECT {cols}, {sums} FROM gone GROUP BY {cols} HAVING SUM({values[0]}) <> 0 RETURNING 1)
                    SELECT (SELECT COUNT(*) FROM gone) - (SELECT COUNT(*) FROM kept)""",
                params,
            )
            removed += cursor.fetchone()[0]
    return removed


def prune_durations(*, before: datetime) -> int:
    """Drop duration rows of hours before `before` (never read again)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM background_job_durations WHERE hour < %s", [connection.ops.adapt_datetimefield_value(before)]
        )
        return cursor.rowcount


# Any constant both sides agree on: the advisory lock one worker holds while it compacts.
_COMPACT_LOCK_KEY = 0x6A6F6273  # "jobs"


def compact_figures_unless_busy() -> int | None:
    """PostgreSQL: fold every organization's ledger, unless another process is doing it
    right now (None then). Workers call this from their heartbeat (jobs/periodic.py), so
    the ledger stays short whether or not anyone reads /stats."""
    if connection.vendor != "postgresql":
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_COMPACT_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return None
        return compact_figures(all_organizations=True)


def maintain_figures(organization_id: str | None) -> int:
    """The cleanup job's step: fold the ledger and drop duration hours no window reads.
    Service-wide (organization None) only: the figures are one table for everyone."""
    if organization_id is not None:
        return 0
    pruned = prune_durations(before=timezone.now() - timedelta(days=DURATIONS_KEEP_DAYS))
    return pruned + compact_figures(all_organizations=True)
