"""Which due jobs run next, and taking them: the one function that owns the claim query.

PostgreSQL: one UPDATE over a `SELECT … FOR UPDATE SKIP LOCKED` subquery, so concurrent
workers on any number of machines skip each other's rows instead of waiting.
SQLite: the same UPDATE … RETURNING in an IMMEDIATE transaction; SQLite has one writer at
a time, so the select-and-mark is atomic across processes.
"""

import json
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from jobs.context import ClaimedJob

_CLAIM_SQL = """
UPDATE background_jobs
   SET status = 'processing', locked_by = %s, attempt = attempt + 1, progress = 0,
       lease_expires_at = %s, started_at = %s, updated_at = %s
 WHERE status = 'queued' AND id IN (
       SELECT id FROM background_jobs
        WHERE status = 'queued' AND available_at <= %s {type_filter}
          AND job_type NOT IN (SELECT job_type FROM background_job_paused_types)
        ORDER BY priority DESC, created_at ASC
        LIMIT %s {lock})
RETURNING id, organization_id, job_type, payload, attempt, retry_count, max_retries
"""


def claim_jobs(
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    job_types: list[str] | None = None,
    now: datetime | None = None,
) -> list[ClaimedJob]:
    """Mark up to `limit` due queued jobs as processing by `worker_id` and return them."""
    if limit <= 0:
        return []
    now = now or timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    params: list = [worker_id, adapt(now + timedelta(seconds=lease_seconds)), adapt(now), adapt(now), adapt(now)]
    type_filter = ""
    if job_types:
        type_filter = f"AND job_type IN ({', '.join(['%s'] * len(job_types))})"
        params.extend(job_types)
    params.append(limit)
    postgres = connection.vendor == "postgresql"
    if not postgres and not _any_due(params[4], type_filter, params[5:-1]):
        return []  # SQLite: a plain read needs no write lock; don't take it for nothing
    lock = "FOR UPDATE SKIP LOCKED" if postgres else ""
    sql = _CLAIM_SQL.format(type_filter=type_filter, lock=lock)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        ClaimedJob(
            id=row[0],
            organization_id=row[1],
            job_type=row[2],
            payload=json.loads(row[3]) if isinstance(row[3], str | bytes) else (row[3] or {}),
            attempt=row[4],
            retry_count=row[5],
            max_retries=row[6],
            started_at=now,
            worker_id=worker_id,
        )
        for row in rows
    ]


def _any_due(now_param, type_filter: str, type_params: list) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM background_jobs WHERE status = 'queued' AND available_at <= %s {type_filter} LIMIT 1",
            [now_param, *type_params],
        )
        return cursor.fetchone() is not None
