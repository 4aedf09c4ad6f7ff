"""What the worker writes after a claim. Every write is fenced on (locked_by, attempt):
it applies only while that worker still holds that attempt of the job."""

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from hcm.logging import LogEntry, log_entries
from jobs.context import ClaimedJob
from jobs.hooks import FailedJob, job_failed
from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt, JobStatus
from jobs.retry import RetryPolicy

logger = logging.getLogger("jobs.worker")


@dataclass
class AttemptResult:
    """How one run of a handler ended, as the worker thread saw it."""

    job: ClaimedJob
    outcome: str  # AttemptOutcome
    finished_at: datetime
    duration_ms: float
    result: dict[str, Any] | None = None
    error: str | None = None
    traceback: str | None = None
    permanent: bool = False
    retry_after: float | None = None
    counts: tuple[int, int, int] | None = None  # processed, succeeded, failed
    result_json: str | None = None  # `result` as JSON text (stored_result), when the handler's thread made it


def _counts(r: AttemptResult) -> dict[str, int | None]:
    processed, succeeded, failed = r.counts or (None, None, None)
    return {"processed": processed, "succeeded": succeeded, "failed": failed}


def stored_result(result: Any) -> tuple[dict[str, Any], str]:
    """A handler's return value as stored in `result`: a JSON object (None → {}), and its
    JSON text, which the worker writes (made once, in the handler's thread: the main
    thread writes a whole batch of them).

    Raises TypeError/ValueError for what the database would refuse, so it counts as the
    handler's failure rather than blocking the worker's write of the whole batch.
    """
    if result is None or (type(result) is dict and not result):
        return {}, "{}"
    if not isinstance(result, dict):
        raise TypeError(f"handler returned {type(result).__name__}, not a dict")
    text = json.dumps(result)
    if "\\u0000" in text:
        raise ValueError("handler result contains a NUL character, which PostgreSQL cannot store")
    return result, text


def unstorable_result(r: "AttemptResult", exc: Exception) -> "AttemptResult":
    """The failed attempt to record instead of a result the database refused."""
    return replace(
        r,
        outcome=AttemptOutcome.FAILED,
        result=None,
        result_json=None,
        error=f"result could not be stored: {type(exc).__name__}: {exc}".replace("\x00", "\\x00")[:2000],
        traceback=None,
        permanent=False,
        retry_after=None,
    )


def _text(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; an exception message may.
    return value.replace("\x00", "\\x00") if value else value


def _held(job: ClaimedJob):
    return BackgroundJob.objects.filter(
        pk=job.id, status=JobStatus.PROCESSING, locked_by=job.worker_id, attempt=job.attempt
    )


def _entry(
    job: ClaimedJob,
    message: str,
    outcome: str,
    level: int = logging.INFO,
    duration_ms: float | None = None,
    extra: dict[str, Any] | None = None,
) -> LogEntry:
    """A job's line: its message and fields (extra after the job's own)."""
    fields = {
        "job_id": job.id,
        "job_type": job.job_type,
        "attempt": job.attempt,
        "outcome": outcome,
        "worker": job.worker_id,
    }
    if job.request_id:
        fields["request_id"] = job.request_id
    if duration_ms is not None:
        fields["duration_ms"] = round(duration_ms, 2)
    if extra:
        fields.update(extra)
    return level, message, fields


def _log_entries(entries: Iterable[LogEntry], *, created: float | None = None) -> None:
    # As logger.log() per entry, without its walk up the stack to find the calling line
    # (findCaller: the caller is always this function), and for our own handlers without
    # a record per line (hcm.logging.log_entries); stamped with one clock reading.
    log_entries(
        logger,
        entries,
        created=time.time() if created is None else created,
        pathname=__file__,
        lineno=_LOG_LINE,
        func="_log_entries",
    )


def _log(job: ClaimedJob, message: str, *, outcome: str, level: int = logging.INFO) -> None:
    if logger.isEnabledFor(level):  # nothing gathered for a line nobody prints
        _log_entries([_entry(job, message, outcome, level)])


_LOG_LINE = _log_entries.__code__.co_firstlineno


def record_attempts(results: list[AttemptResult], *, policy: RetryPolicy) -> int:
    """Write the outcome of finished attempts in one transaction; returns how many applied.

    A result whose fence no longer holds (cancelled meanwhile, or taken over after a
    lease expiry) is discarded; a cancelled job still gets its attempt row. Completions,
    the hot path, are one statement for the whole batch.
    """
    now = timezone.now()
    results = [
        replace(r, error=_text(r.error), traceback=_text(r.traceback)) if r.error or r.traceback else r for r in results
    ]
    # One adapter for the batch: a finished_at is adapted once for the job's row and its attempt's.
    adapt = _adapter()
    applied = 0
    attempts: list[tuple] = []
    logs: list[tuple[AttemptResult, str, str, int, dict[str, Any]]] = []
    failed_for_good: list[FailedJob] = []
    with transaction.atomic(savepoint=False):
        completed = [r for r in results if r.outcome == AttemptOutcome.COMPLETED]
        completed_keys = _complete(completed, now=now, adapt=adapt) if completed else set()
        extra: dict[str, Any]
        for r in results:
            job = r.job
            if r.outcome == AttemptOutcome.COMPLETED:
                updated = (job.id, job.attempt) in completed_keys
                message, level, extra = "job completed", logging.INFO, {}
            else:
                decision = policy.after_failure(
                    retry_count=job.retry_count,
                    max_retries=job.max_retries,
                    now=now,
                    permanent=r.permanent,
                    delay_seconds=r.retry_after,
                )
                if decision.gives_up:
                    updated = _held(job).update(
                        **_counts(r),
                        status=JobStatus.FAILED,
                        error_message=r.error,
                        retry_count=decision.retry_count,
                        completed_at=r.finished_at,
                        next_retry_at=None,
                        locked_by=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                    message, level, extra = "job failed", logging.WARNING, {"error": r.error}
                    if updated:
                        failed_for_good.append(
                            FailedJob(
                                id=job.id,
                                organization_id=job.organization_id,
                                job_type=job.job_type,
                                error=r.error,
                                attempts=job.attempt,
                            )
                        )
                else:
                    updated = _held(job).update(
                        **_counts(r),
                        status=JobStatus.QUEUED,
                        error_message=r.error,
                        retry_count=decision.retry_count,
                        next_retry_at=decision.retry_at,
                        locked_by=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                    message, level, extra = (
                        "job will retry",
                        logging.WARNING,
                        {
                            "error": r.error,
                            "retry_count": decision.retry_count,
                            "retry_at": decision.retry_at.isoformat() if decision.retry_at else None,
                        },
                    )
            if updated:
                applied += 1
                logs.append((r, message, r.outcome, level, extra))
                attempts.append(_attempt_row(r, r.outcome))
            elif BackgroundJob.objects.filter(pk=job.id, status=JobStatus.CANCELLED, attempt=job.attempt).exists():
                logs.append(
                    (r, "job cancelled while running; result discarded", AttemptOutcome.CANCELLED, logging.INFO, {})
                )
                attempts.append(_attempt_row(r, AttemptOutcome.CANCELLED))
            else:
                logs.append(
                    (r, "result discarded: job no longer held by this worker", "discarded", logging.WARNING, {})
                )
        _insert_attempts(attempts, adapt=adapt)

        def log_committed() -> None:
            _log_entries(
                _entry(r.job, message, outcome, level, r.duration_ms, extra)
                for r, message, outcome, level, extra in logs
                if logger.isEnabledFor(level)  # nothing gathered for a line nobody prints
            )
            for failed in failed_for_good:
                job_failed(failed)

        # Logged once committed (also when the caller's transaction holds this one): a
        # line says what the database holds.
        transaction.on_commit(log_committed)
    return applied


_COMPLETE_SQL = """
UPDATE background_jobs
   SET status = 'completed', result = v.column4, completed_at = v.column5, progress = 100,
       processed = v.column6, succeeded = v.column7, failed = v.column8,
       error_message = NULL, next_retry_at = NULL, locked_by = NULL, lease_expires_at = NULL,
       updated_at = %s
  FROM ({rows}) AS v
 WHERE background_jobs.id = v.column1 AND background_jobs.status = 'processing'
   AND background_jobs.locked_by = v.column2 AND background_jobs.attempt = v.column3
RETURNING background_jobs.id, background_jobs.attempt
"""


# PostgreSQL: the batch as one array per column, so the statement's text is the same for
# every batch. psycopg converts a query's placeholders in Python and caches that only for
# short statements: a VALUES list of a hundred rows cost more to convert than to run.
_COMPLETE_SQL_POSTGRES = _COMPLETE_SQL.format(
    rows="SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::integer[], %s::jsonb[], %s::timestamptz[], "
    "%s::integer[], %s::integer[], %s::integer[]) AS u(column1, column2, column3, column4, column5, column6, column7, "
    "column8)"
)


def _complete(results: list[AttemptResult], *, now: datetime, adapt: Any) -> set[tuple[str, int]]:
    """Mark the jobs of these successful attempts completed, each fenced on (locked_by,
    attempt), in one statement; returns the (id, attempt) pairs that applied."""
    rows = [
        (
            r.job.id,
            r.job.worker_id,
            r.job.attempt,
            json.dumps(r.result) if r.result_json is None else r.result_json,
            adapt(r.finished_at),
            *(r.counts or (None,) * 3),
        )
        for r in results
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_COMPLETE_SQL_POSTGRES, [adapt(now), *(list(column) for column in zip(*rows, strict=True))])
        else:
            row = "(%s, %s, %s, %s, %s, %s, %s, %s)"
            params = [adapt(now), *(value for values in rows for value in values)]
            cursor.execute(_COMPLETE_SQL.format(rows="VALUES " + ", ".join([row] * len(rows))), params)
        return {(job_id, attempt) for job_id, attempt in cursor.fetchall()}


_ATTEMPT_COLUMNS = (
    "job_id", "attempt", "worker_id", "job_type", "started_at", "finished_at", "duration_ms", "outcome",
    "error_message", "traceback",
)  # fmt: skip
_INSERT_CHUNK = 500


def _adapter() -> Any:
    """connection.ops.adapt_datetimefield_value, remembering its answers: a batch's jobs
    share their claim time, and each call costs a timezone conversion on SQLite."""
    adapt = connection.ops.adapt_datetimefield_value
    seen: dict[datetime, Any] = {}

    def adapt_once(value: datetime | None) -> Any:
        if value is None:
            return None
        out = seen.get(value)
        if out is None:
            out = seen[value] = adapt(value)
        return out

    return adapt_once


_INSERT_ATTEMPTS_POSTGRES = (
    f"INSERT INTO background_job_attempts ({', '.join(_ATTEMPT_COLUMNS)}) SELECT * FROM unnest("
    "%s::varchar[], %s::integer[], %s::varchar[], %s::varchar[], %s::timestamptz[], %s::timestamptz[], "
    "%s::double precision[], %s::varchar[], %s::text[], %s::text[])"
)


def _insert_attempts(attempts: list[tuple], *, adapt: Any) -> None:
    """Insert the attempt rows (_attempt_row) in one statement (PostgreSQL: one array per
    column, as _complete) or one multi-row INSERT per chunk: on the hot path, where
    bulk_create's per-object work cost more than the database did. `adapt`: _adapter()'s."""
    if connection.vendor == "postgresql":
        if attempts:
            columns = [list(column) for column in zip(*attempts, strict=True)]
            columns[4] = [adapt(v) for v in columns[4]]
            columns[5] = [adapt(v) for v in columns[5]]
            with connection.cursor() as cursor:
                cursor.execute(_INSERT_ATTEMPTS_POSTGRES, columns)
        return
    columns_sql = ", ".join(_ATTEMPT_COLUMNS)
    row = "(" + ", ".join(["%s"] * len(_ATTEMPT_COLUMNS)) + ")"
    for start in range(0, len(attempts), _INSERT_CHUNK):
        chunk = attempts[start : start + _INSERT_CHUNK]
        params: list[Any] = []
        for job_id, attempt, worker_id, job_type, started_at, finished_at, *rest in chunk:
            params += [job_id, attempt, worker_id, job_type, adapt(started_at), adapt(finished_at), *rest]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO background_job_attempts ({columns_sql}) VALUES {', '.join([row] * len(chunk))}", params
            )


def _attempt_row(r: AttemptResult, outcome: str) -> tuple:
    """An attempt row's values in _ATTEMPT_COLUMNS order (a model instance per job cost
    the hot path more than the INSERT)."""
    job = r.job
    return (
        job.id, job.attempt, job.worker_id, job.job_type, job.started_at, r.finished_at, r.duration_ms, outcome,
        r.error, r.traceback,
    )  # fmt: skip


def hand_back(jobs: list[ClaimedJob]) -> int:
    """Return jobs this worker holds to the queue without spending an attempt (shutdown)."""
    handed = 0
    now = timezone.now()
    with transaction.atomic():
        for job in jobs:
            if _held(job).update(
                status=JobStatus.QUEUED,
                attempt=job.attempt - 1,
                locked_by=None,
                lease_expires_at=None,
                started_at=None,
                progress=0,
                updated_at=now,
            ):
                handed += 1
                _log(job, "job handed back", outcome=AttemptOutcome.HANDED_BACK)
    return handed


def renew_leases(*, worker_id: str, job_ids: list[str], lease_seconds: float) -> set[str]:
    """Extend the leases of the jobs this worker is running; returns the ids it still
    holds (a job missing was cancelled, or taken over after its lease expired)."""
    if not job_ids:
        return set()
    held = BackgroundJob.objects.filter(pk__in=job_ids, status=JobStatus.PROCESSING, locked_by=worker_id)
    held.update(lease_expires_at=timezone.now() + timedelta(seconds=lease_seconds))
    return set(held.values_list("pk", flat=True))


def release_expired_leases(*, policy: RetryPolicy, limit: int = 100) -> int:
    """Jobs whose worker stopped renewing its lease (killed, machine lost): count the
    attempt as failed and queue them again at once, or fail them when out of retries."""
    now = timezone.now()
    expired = list(
        BackgroundJob.objects.filter(status=JobStatus.PROCESSING, lease_expires_at__lt=now).values(
            "id", "organization_id", "job_type", "attempt", "retry_count", "max_retries", "locked_by", "started_at"
        )[:limit]
    )
    released = 0
    for row in expired:
        error = f"worker {row['locked_by']} stopped renewing its lease (killed or lost)"
        decision = policy.after_failure(
            retry_count=row["retry_count"], max_retries=row["max_retries"], now=now, immediate=True
        )
        fence = BackgroundJob.objects.filter(
            Q(lease_expires_at__lt=now),
            pk=row["id"],
            status=JobStatus.PROCESSING,
            locked_by=row["locked_by"],
            attempt=row["attempt"],
        )
        changes: dict[str, Any] = {
            "retry_count": decision.retry_count,
            "error_message": error,
            "locked_by": None,
            "lease_expires_at": None,
            "updated_at": now,
        }
        if decision.gives_up:
            changes.update(status=JobStatus.FAILED, completed_at=now, next_retry_at=None)
        else:
            changes.update(status=JobStatus.QUEUED, next_retry_at=decision.retry_at)
        with transaction.atomic():
            if not fence.update(**changes):
                continue
            if decision.gives_up:
                failed = FailedJob(
                    id=row["id"],
                    organization_id=row["organization_id"],
                    job_type=row["job_type"],
                    error=error,
                    attempts=row["attempt"],
                )
                transaction.on_commit(partial(job_failed, failed))
            started = row["started_at"] or now
            JobAttempt.objects.create(
                job_id=row["id"],
                attempt=row["attempt"],
                worker_id=row["locked_by"] or "",
                job_type=row["job_type"],
                started_at=started,
                finished_at=now,
                duration_ms=(now - started).total_seconds() * 1000,
                outcome=AttemptOutcome.LEASE_EXPIRED,
                error_message=error,
            )
        released += 1
        logger.warning(
            "job lease expired",
            extra={
                "job_id": row["id"],
                "job_type": row["job_type"],
                "attempt": row["attempt"],
                "outcome": AttemptOutcome.LEASE_EXPIRED,
                "worker": row["locked_by"],
                "next": "failed" if decision.gives_up else "queued",
            },
        )
    return released
