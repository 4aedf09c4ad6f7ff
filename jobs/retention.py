"""How long finished jobs, worker rows, log archives and temp files are kept: the cleanup
job's rules, in one place.

- completed jobs: JOBS_RETENTION_COMPLETED_DAYS (30) after completed_at;
- failed jobs: JOBS_RETENTION_FAILED_DAYS (7) after completed_at (the time they failed);
- cancelled jobs: the longer of the two, because a cancellation is an operator's decision
  that is worth keeping at least as long as the runs around it;
- a job's attempt rows go with the job;
- worker heartbeat rows: 7 days after the worker stopped or was last seen;
- refresh tokens (and their blacklist entries): once expired;
- log archives (*.gz in LOG_DIR): JOBS_RETENTION_COMPLETED_DAYS after they were last
  modified (written), so the logs cover every job still kept;
- temp files (JOBS_TEMP_DIR, recursively): JOBS_TEMP_MAX_AGE_HOURS after they were last modified.
"""

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from jobs.models import BackgroundJob, JobStatus, WorkerHeartbeat

HEARTBEAT_RETENTION = timedelta(days=7)
DELETE_BATCH = 500

# Names under which deleted rows are reported (records_deleted); other models that point at
# a job and go with it are reported by their label.
_KIND_OF_MODEL = {"jobs.JobAttempt": "job_attempts"}


def job_retention(status: str) -> timedelta:
    completed = timedelta(days=settings.JOBS_RETENTION_COMPLETED_DAYS)
    failed = timedelta(days=settings.JOBS_RETENTION_FAILED_DAYS)
    by_status: dict[str, timedelta] = {
        JobStatus.COMPLETED: completed,
        JobStatus.FAILED: failed,
        JobStatus.CANCELLED: max(completed, failed),
    }
    return by_status[status]


def log_archive_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=settings.JOBS_RETENTION_COMPLETED_DAYS)


def temp_file_cutoff(now: datetime) -> datetime:
    return now - timedelta(hours=settings.JOBS_TEMP_MAX_AGE_HOURS)


def expired_jobs(*, status: str, now: datetime, organization_id: str | None = None):
    """Finished jobs of `status` past retention: one organization's, or every one's (None)."""
    cutoff = now - job_retention(status)
    jobs = BackgroundJob.objects.filter(
        Q(completed_at__lt=cutoff) | Q(completed_at__isnull=True, updated_at__lt=cutoff), status=status
    )
    return jobs.filter(organization_id=organization_id) if organization_id else jobs


def delete_expired_jobs(
    *, now: datetime, organization_id: str | None = None, after_batch: Callable[[], None] = lambda: None
) -> dict[str, int]:
    """Delete finished jobs past retention with their attempt rows, in batches (short
    write transactions, so workers sharing a SQLite file are not held up).

    Returns counts by kind: `completed_jobs`, `failed_jobs`, `cancelled_jobs`, `job_attempts`.
    """
    counts: Counter[str] = Counter()
    for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
        counts[f"{status}_jobs"] += 0
        counts["job_attempts"] += 0
        while True:
            expired = expired_jobs(status=status, now=now, organization_id=organization_id)
            ids = list(expired.order_by().values_list("pk", flat=True)[:DELETE_BATCH])
            if not ids:
                break
            # Re-check the status in the delete: a job retried meanwhile is queued again.
            _, per_model = BackgroundJob.objects.filter(pk__in=ids, status=status).delete()
            for label, n in per_model.items():
                kind = f"{status}_jobs" if label == BackgroundJob._meta.label else _KIND_OF_MODEL.get(label, label)
                counts[kind] += n
            after_batch()
    return dict(counts)


def delete_expired_refresh_tokens(*, now: datetime) -> int:
    """Refresh tokens past their expiry (and their blacklist rows): simplejwt's
    `flushexpiredtokens`, counted. Service-wide: the tokens are every organization's users'."""
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    deleted, _ = OutstandingToken.objects.filter(expires_at__lte=now).delete()
    return deleted


def delete_stale_heartbeats(*, now: datetime) -> int:
    cutoff = now - HEARTBEAT_RETENTION
    deleted, _ = WorkerHeartbeat.objects.filter(Q(stopped_at__lt=cutoff) | Q(last_seen_at__lt=cutoff)).delete()
    return deleted
