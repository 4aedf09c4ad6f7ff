"""Which due jobs run next, and taking them: the one function that owns the claim query.

PostgreSQL: one UPDATE over a `SELECT … FOR UPDATE SKIP LOCKED` (a materialized CTE), so
concurrent workers on any number of machines skip each other's rows instead of waiting.
One statement is atomic by itself: no explicit transaction of its own.
SQLite: the same UPDATE … RETURNING in an IMMEDIATE transaction; SQLite has one writer at
a time, so the select-and-mark is atomic across processes.
"""

import json
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from jobs.context import ClaimedJob

# Due = queued, available_at (max of run_at and next_retry_at) passed, and its type not
# paused, neither service-wide nor for the job's organization ({pause_filter}, built by
# _pause_filter from the pauses read just before: written into the statement as values,
# not as a NOT EXISTS over the pauses table. That table is tiny and never analyzed by
# autovacuum, and PostgreSQL's guess for an unanalyzed table made the planner expect one
# queued job in 77,000 to pass, read and sort every queued row, and take 116 ms per claim
# at 41,000 queued.) A pause committed between that read and the claim applies from the
# next claim, as one committed just after the claim would.
_DUE = """
status = 'queued' AND available_at <= %s {type_filter}{queue_filter}{pause_filter}
"""

_SET = """
   SET status = 'processing', locked_by = %s, attempt = attempt + 1, progress = 0,
       lease_expires_at = %s, started_at = %s, updated_at = %s
"""
_RETURNING = """
RETURNING background_jobs.id, background_jobs.organization_id, background_jobs.job_type, background_jobs.payload,
          background_jobs.attempt, background_jobs.retry_count, background_jobs.max_retries,
          background_jobs.priority, background_jobs.created_at, background_jobs.request_id
"""

# The CTE is MATERIALIZED so the locking subquery runs exactly once. Its rows were queued
# when locked and stay locked until this statement updates them, so the UPDATE repeats no
# status check (one made the planner walk every queued row when statistics were stale). As `WHERE id IN
# (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` the planner may choose a nested-loop semi
# join that re-runs it per outer row, each run skipping the rows the previous ones
# locked: one "LIMIT 1" claim then takes several jobs.
_CLAIM_SQL_POSTGRES = f"""
WITH picked AS MATERIALIZED (
     SELECT id FROM background_jobs
      WHERE {{due}}
      ORDER BY priority DESC, created_at ASC
      LIMIT %s FOR UPDATE SKIP LOCKED)
UPDATE background_jobs {_SET}
  FROM picked
 WHERE background_jobs.id = picked.id
{_RETURNING}
"""

# SQLite runs `IN (subquery)` once, as a list. Without statistics its planner makes each
# claim cost O(queue depth) — it sorts every due job, and finds the rows to update by
# scanning every queued one — so: walk the claim index in order (INDEXED BY), and find the
# chosen rows by primary key (`+status` rules out the indexes on status).
_CLAIM_SQL_SQLITE = f"""
UPDATE background_jobs {_SET}
 WHERE +status = 'queued' AND id IN (
       SELECT id FROM background_jobs INDEXED BY bg_jobs_claim_idx
        WHERE {{due}}
        ORDER BY priority DESC, created_at ASC
        LIMIT %s)
{_RETURNING}
"""


def _pause_filter() -> tuple[str, list[str | int]]:
    """The claim's condition for the job-type pauses now in force ("" when none is)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT job_type, organization_id FROM background_job_pauses")
        pauses = cursor.fetchall()
    everywhere = sorted({job_type for job_type, org in pauses if org is None})
    per_organization: dict[str, set[int]] = {}
    for job_type, org in pauses:
        if org is not None and job_type not in everywhere:
            per_organization.setdefault(job_type, set()).add(org)
    clauses: list[str] = []
    params: list[str | int] = []
    if everywhere:
        clauses.append(f"job_type NOT IN ({', '.join(['%s'] * len(everywhere))})")
        params += everywhere
    for job_type, orgs in sorted(per_organization.items()):
        clauses.append(f"NOT (job_type = %s AND organization_id IN ({', '.join(['%s'] * len(orgs))}))")
        params += [job_type, *sorted(orgs)]
    return "".join(f" AND {clause}" for clause in clauses), params


def _payload(value: str | bytes | dict | None) -> dict:
    """A claimed row's payload: JSON text on SQLite (most often an empty object), a dict
    from psycopg."""
    if value == "{}":
        return {}
    return json.loads(value) if isinstance(value, str | bytes) else (value or {})


def claim_jobs(
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    job_types: list[str] | None = None,
    queues: list[str] | None = None,
    now: datetime | None = None,
) -> list[ClaimedJob]:
    """Mark up to `limit` due queued jobs as processing by `worker_id` and return them,
    high priority first, then oldest. `job_types`: only these (None: every type);
    `queues`: only jobs of these queue names (None: every queue)."""
    if limit <= 0:
        return []
    now = now or timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    type_filter = ""
    type_params: list[str] = []
    if job_types:
        type_filter = f"AND job_type IN ({', '.join(['%s'] * len(job_types))})"
        type_params = list(job_types)
    queue_filter = ""
    if queues:
        queue_filter = f" AND queue_name IN ({', '.join(['%s'] * len(queues))})"
        type_params += list(queues)
    pause_filter, pause_params = _pause_filter()
    due = _DUE.format(type_filter=type_filter, queue_filter=queue_filter, pause_filter=pause_filter)
    due_params = [adapt(now), *type_params, *pause_params]
    set_params = [worker_id, adapt(now + timedelta(seconds=lease_seconds)), adapt(now), adapt(now)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL_POSTGRES.format(due=due), [*due_params, limit, *set_params])
            rows = cursor.fetchall()
    else:
        # A plain read takes no write lock: an idle worker polling often must not queue
        # for SQLite's single writer slot (the web process needs it) when nothing is due.
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM background_jobs WHERE {due} LIMIT 1", due_params)
            if cursor.fetchone() is None:
                return []
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL_SQLITE.format(due=due), [*set_params, *due_params, limit])
            rows = cursor.fetchall()
    # RETURNING gives rows in storage order, not the subquery's ORDER BY: put the batch
    # back in claim order (high priority first, then oldest) so the worker runs it so.
    rows.sort(key=lambda row: (-row[7], row[8], row[0]))
    return [
        ClaimedJob(
            id=row[0],
            organization_id=row[1],
            job_type=row[2],
            payload=_payload(row[3]),
            attempt=row[4],
            retry_count=row[5],
            max_retries=row[6],
            started_at=now,
            worker_id=worker_id,
            request_id=row[9],
        )
        for row in rows
    ]
