"""What the operator dashboard shows, read from the job tables (service-wide, every organization).

Throughput and failure rate count attempts (JobAttempt, the event log), bucketed by when
they finished: an attempt that completed is throughput; one that failed, timed out or lost
its worker is a failure, even if a later retry succeeded. Cancelled and handed-back attempts
are neither. Buckets are in UTC (settings.TIME_ZONE) and every bucket is present, zeros too.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt, JobStatus, JobTypePause
from jobs.selectors import (
    attempt_durations_by_type,
    held_by_pause,
    worker_is_alive,
    workers_alive_cutoff,
    workers_recent,
)

COMPLETED_OUTCOMES = (AttemptOutcome.COMPLETED,)
FAILED_OUTCOMES = (AttemptOutcome.FAILED, AttemptOutcome.TIMEOUT, AttemptOutcome.LEASE_EXPIRED)
DAYS = 7
HOURS = 24
SLOWEST_LIMIT = 10


@dataclass(frozen=True)
class QueueDepth:
    queued: int  # every queued job
    due: int  # queued, runnable now, type not paused
    scheduled: int  # queued for later (run_at or retry back-off), type not paused
    paused: int  # queued, of a paused type
    processing: int
    oldest_due_age_seconds: float | None


@dataclass(frozen=True)
class Bucket:
    start: datetime
    completed: int
    failed: int

    @property
    def finished(self) -> int:
        return self.completed + self.failed

    @property
    def failure_rate(self) -> float | None:
        """Failed share of finished attempts, 0..1; None when nothing finished."""
        return self.failed / self.finished if self.finished else None


@dataclass(frozen=True)
class JobTypeDuration:
    job_type: str
    runs: int
    mean_ms: float
    p95_ms: float


@dataclass(frozen=True)
class WorkerRow:
    worker_id: str
    hostname: str
    pid: int
    concurrency: int
    started_at: datetime
    last_seen_at: datetime
    stopped_at: datetime | None
    alive: bool
    jobs_done: int
    jobs_failed: int


@dataclass(frozen=True)
class PausedRow:
    job_type: str
    organization: str  # "Service-wide", or the organization's name
    paused_at: datetime
    paused_by: str
    queued: int


@dataclass(frozen=True)
class Dashboard:
    generated_at: datetime
    queue: QueueDepth
    by_status: dict[str, int]
    daily: list[Bucket]
    hourly: list[Bucket]
    slowest: list[JobTypeDuration]
    workers: list[WorkerRow]
    paused: list[PausedRow]


def queue_depth(*, now: datetime) -> QueueDepth:
    any_paused = JobTypePause.objects.exists()
    # Without pauses (the common case) the counts need no subquery per row.
    runnable = ~Q(held_by_pause()) if any_paused else Q()
    due = Q(status=JobStatus.QUEUED, available_at__lte=now) & runnable
    counts = BackgroundJob.objects.aggregate(
        queued=Count("id", filter=Q(status=JobStatus.QUEUED)),
        due=Count("id", filter=due),
        scheduled=Count("id", filter=Q(status=JobStatus.QUEUED, available_at__gt=now) & runnable),
        processing=Count("id", filter=Q(status=JobStatus.PROCESSING)),
        oldest_due_at=Min("available_at", filter=due),
    )
    oldest = counts.pop("oldest_due_at")
    paused = BackgroundJob.objects.filter(held_by_pause(), status=JobStatus.QUEUED).count() if any_paused else 0
    return QueueDepth(
        **counts,
        paused=paused,
        oldest_due_age_seconds=(now - oldest).total_seconds() if oldest else None,
    )


def jobs_by_status() -> dict[str, int]:
    """Every status, in lifecycle order, with its count (0 included)."""
    counts = dict(BackgroundJob.objects.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in JobStatus.values}


def _attempt_buckets(*, start: datetime, step: timedelta, count: int, trunc: type) -> list[Bucket]:
    rows = (
        JobAttempt.objects.filter(finished_at__gte=start, finished_at__lt=start + step * count)
        .annotate(bucket=trunc("finished_at"))
        .order_by()
        .values("bucket")
        .annotate(
            completed=Count("id", filter=Q(outcome__in=COMPLETED_OUTCOMES)),
            failed=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES)),
        )
    )
    found = {row["bucket"]: row for row in rows}
    buckets = []
    for i in range(count):
        bucket_start = start + step * i
        row = found.get(bucket_start, {"completed": 0, "failed": 0})
        buckets.append(Bucket(start=bucket_start, completed=row["completed"], failed=row["failed"]))
    return buckets


def throughput_daily(*, now: datetime, days: int = DAYS) -> list[Bucket]:
    """One bucket per calendar day, the last `days` days including today."""
    today = now.astimezone(timezone.get_current_timezone()).replace(hour=0, minute=0, second=0, microsecond=0)
    return _attempt_buckets(start=today - timedelta(days=days - 1), step=timedelta(days=1), count=days, trunc=TruncDay)


def throughput_hourly(*, now: datetime, hours: int = HOURS) -> list[Bucket]:
    """One bucket per clock hour, the last `hours` hours including the current one."""
    this_hour = now.astimezone(timezone.get_current_timezone()).replace(minute=0, second=0, microsecond=0)
    return _attempt_buckets(
        start=this_hour - timedelta(hours=hours - 1), step=timedelta(hours=1), count=hours, trunc=TruncHour
    )


def slowest_job_types(*, since: datetime, limit: int = SLOWEST_LIMIT) -> list[JobTypeDuration]:
    """Job types by mean attempt duration since `since`, slowest first, with the p95."""
    per_type = attempt_durations_by_type(JobAttempt.objects.filter(finished_at__gte=since))
    rows = sorted(per_type.values(), key=lambda r: r["mean_ms"], reverse=True)[:limit]
    return [JobTypeDuration(r["job_type"], r["runs"], r["mean_ms"], r["p95_ms"]) for r in rows]


def workers_overview(*, since: datetime) -> list[WorkerRow]:
    """Workers heard from since `since`, most recent heartbeat first, alive or not."""
    cutoff = workers_alive_cutoff()
    return [
        WorkerRow(
            worker_id=w.worker_id,
            hostname=w.hostname,
            pid=w.pid,
            concurrency=w.concurrency,
            started_at=w.started_at,
            last_seen_at=w.last_seen_at,
            stopped_at=w.stopped_at,
            alive=worker_is_alive(w, cutoff=cutoff),
            jobs_done=w.jobs_done,
            jobs_failed=w.jobs_failed,
        )
        for w in workers_recent(since=since)
    ]


def paused_types() -> list[PausedRow]:
    """Pauses (service-wide and per organization) with how many jobs each holds queued."""
    queued = {
        (row["job_type"], row["organization_id"]): row["n"]
        for row in BackgroundJob.objects.filter(status=JobStatus.QUEUED)
        .order_by()
        .values("job_type", "organization_id")
        .annotate(n=Count("id"))
    }
    rows = []
    for p in JobTypePause.objects.select_related("organization").order_by("job_type", "organization__name"):
        held = sum(
            n for (job_type, org), n in queued.items() if job_type == p.job_type and p.organization_id in (None, org)
        )
        rows.append(
            PausedRow(
                job_type=p.job_type,
                organization=p.organization.name if p.organization else "Service-wide",
                paused_at=p.paused_at,
                paused_by=p.paused_by,
                queued=held,
            )
        )
    return rows


def dashboard_get(*, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    since = now - timedelta(days=DAYS)
    return Dashboard(
        generated_at=now,
        queue=queue_depth(now=now),
        by_status=jobs_by_status(),
        daily=throughput_daily(now=now),
        hourly=throughput_hourly(now=now),
        slowest=slowest_job_types(since=since),
        workers=workers_overview(since=since),
        paused=paused_types(),
    )
