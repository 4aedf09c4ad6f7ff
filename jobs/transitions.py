"""What the worker writes after a claim. Every write is fenced on (locked_by, attempt):
it applies only while that worker still holds that attempt of the job."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.context import ClaimedJob
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


def _held(job: ClaimedJob):
    return BackgroundJob.objects.filter(
        pk=job.id, status=JobStatus.PROCESSING, locked_by=job.worker_id, attempt=job.attempt
    )


def _log(
    job: ClaimedJob,
    message: str,
    *,
    outcome: str,
    duration_ms: float | None = None,
    level: int = logging.INFO,
    **extra: Any,
) -> None:
    fields = {
        "job_id": job.id,
        "job_type": job.job_type,
        "attempt": job.attempt,
        "outcome": outcome,
        "worker": job.worker_id,
    }
    if duration_ms is not None:
        fields["duration_ms"] = round(duration_ms, 2)
    fields.update(extra)
    logger.log(level, message, extra=fields)


def record_attempts(results: list[AttemptResult], *, policy: RetryPolicy) -> int:
    """Write the outcome of finished attempts in one transaction; returns how many applied.

    A result whose fence no longer holds (cancelled meanwhile, or taken over after a
    lease expiry) is discarded; a cancelled job still gets its attempt row.
    """
    applied = 0
    attempts: list[JobAttempt] = []
    now = timezone.now()
    with transaction.atomic():
        for r in results:
            job = r.job
            if r.outcome == AttemptOutcome.COMPLETED:
                updated = _held(job).update(
                    status=JobStatus.COMPLETED,
                    result=r.result,
                    completed_at=r.finished_at,
                    progress=100,
                    error_message=None,
                    next_retry_at=None,
                    locked_by=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
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
                else:
                    updated = _held(job).update(
                        status=JobStatus.QUEUED,
                        error_message=r.error,
                        retry_count=decision.retry_count,
                        next_retry_at=decision.retry_at,
                        available_at=decision.retry_at,
                        locked_by=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                    message, level, extra = (
                        "job will retry",
                        logging.WARNING,
                        {"error": r.error, "retry_at": decision.retry_at.isoformat()},
                    )
            if updated:
                applied += 1
                _log(job, message, outcome=r.outcome, duration_ms=r.duration_ms, level=level, **extra)
                attempts.append(_attempt_row(r, r.outcome))
            elif BackgroundJob.objects.filter(pk=job.id, status=JobStatus.CANCELLED, attempt=job.attempt).exists():
                _log(
                    job,
                    "job cancelled while running; result discarded",
                    outcome=AttemptOutcome.CANCELLED,
                    duration_ms=r.duration_ms,
                )
                attempts.append(_attempt_row(r, AttemptOutcome.CANCELLED))
            else:
                _log(
                    job,
                    "result discarded: job no longer held by this worker",
                    outcome="discarded",
                    level=logging.WARNING,
                )
        JobAttempt.objects.bulk_create(attempts)
    return applied


def _attempt_row(r: AttemptResult, outcome: str) -> JobAttempt:
    return JobAttempt(
        job_id=r.job.id,
        attempt=r.job.attempt,
        worker_id=r.job.worker_id,
        job_type=r.job.job_type,
        started_at=r.job.started_at,
        finished_at=r.finished_at,
        duration_ms=r.duration_ms,
        outcome=outcome,
        error_message=r.error,
        traceback=r.traceback,
    )


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


def renew_leases(*, worker_id: str, job_ids: list[str], lease_seconds: float) -> int:
    """Extend the leases of the jobs this worker is running."""
    if not job_ids:
        return 0
    now = timezone.now()
    return BackgroundJob.objects.filter(pk__in=job_ids, status=JobStatus.PROCESSING, locked_by=worker_id).update(
        lease_expires_at=now + timedelta(seconds=lease_seconds)
    )


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
            changes.update(status=JobStatus.QUEUED, next_retry_at=decision.retry_at, available_at=decision.retry_at)
        with transaction.atomic():
            if not fence.update(**changes):
                continue
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
