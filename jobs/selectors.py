"""Read-only queries about jobs and workers: the API's lists, /stats, /health, the admin."""

import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from hcm.models import Organization
from jobs.models import (
    AttemptOutcome,
    BackgroundJob,
    JobAttempt,
    JobPriority,
    JobStatus,
    JobTypePause,
    WorkerHeartbeat,
)
from jobs.stats_figures import COMPACT_AFTER_ROWS, attempt_durations, compact_figures, job_counts, p95_upper_edge

STATS_WINDOW_DAYS = 7
# Heartbeat rows accumulate (one per worker process ever started); /stats lists the
# recently seen ones only.
STATS_MAX_WORKERS = 100


def workers_alive_cutoff() -> datetime:
    # A worker renews its heartbeat every min(lease/4, 10) s; two lease periods of silence = gone.
    return timezone.now() - timedelta(seconds=2 * settings.JOBS_LEASE_SECONDS)


def worker_health_summary() -> dict:
    alive = WorkerHeartbeat.objects.filter(stopped_at__isnull=True, last_seen_at__gte=workers_alive_cutoff())
    last = WorkerHeartbeat.objects.order_by("-last_seen_at").values_list("last_seen_at", flat=True).first()
    return {"alive": alive.count(), "last_seen_at": last.isoformat() if last else None}


def worker_is_alive(worker: WorkerHeartbeat, *, cutoff: datetime | None = None) -> bool:
    """Running (not stopped) and heard from within two lease periods."""
    return worker.stopped_at is None and worker.last_seen_at >= (cutoff or workers_alive_cutoff())


# The list indexes' equality columns after organization (jobs.models.BackgroundJob.Meta).
LIST_INDEX_COLUMNS: list[tuple[str, ...]] = [(), ("status", "priority"), ("job_type", "status", "priority")]


def _column_values(column: str) -> list[Any]:
    # Every value a row can hold: a check constraint holds the status to these; the
    # priority is only ever written from JobPriority (job_enqueue, the admin's choices).
    values: dict[str, list[Any]] = {"status": JobStatus.values, "priority": JobPriority.values}
    return values[column]


def list_index_columns(filtered: set[str]) -> tuple[str, ...]:
    """The equality columns after organization of the list index that serves a list
    filtered on `filtered`: the first whose columns hold every filtered one."""
    return next(columns for columns in LIST_INDEX_COLUMNS if filtered <= set(columns))


def job_list_ranges(jobs: QuerySet[BackgroundJob], *, filtered: set[str]) -> list[QuerySet[BackgroundJob]]:
    """`jobs` (filtered by equality on the columns in `filtered`) as index ranges whose
    union it is: each one list index's range in the list's order, so a page is the merge of
    the ranges' first rows, never a sort of every match.

    The first list index whose columns hold every filtered one serves; the columns it has
    that the filter leaves open are split by value (five statuses, three priorities), e.g.
    ?status=failed reads three ranges, one per priority, of bg_jobs_org_status_idx."""
    open_columns = [column for column in list_index_columns(filtered) if column not in filtered]
    ranges = [jobs]
    for column in open_columns:
        ranges = [part.filter(**{column: value}) for part in ranges for value in _column_values(column)]
    return ranges


def job_get(*, organization: Organization, job_id: str) -> BackgroundJob | None:
    """One of the organization's jobs; None when missing or another organization's."""
    return BackgroundJob.objects.filter(organization=organization, pk=job_id).first()


def job_attempts(*, job: BackgroundJob) -> QuerySet[JobAttempt]:
    return JobAttempt.objects.filter(job=job).order_by("attempt", "id")


def held_by_pause() -> Exists:
    """True for a job whose type is paused service-wide or for the job's organization:
    the ORM twin of the claim query's pause test (jobs/claim.py)."""
    return Exists(
        JobTypePause.objects.filter(job_type=OuterRef("job_type")).filter(
            Q(organization__isnull=True) | Q(organization=OuterRef("organization"))
        )
    )


def job_type_pauses(*, organization: Organization | None) -> list[JobTypePause]:
    """The pauses that hold an organization's jobs: the service-wide ones and its own
    (organization None: every pause, of every organization)."""
    pauses = JobTypePause.objects.select_related("organization")
    if organization is not None:
        pauses = pauses.filter(Q(organization__isnull=True) | Q(organization=organization))
    return list(pauses.order_by("job_type", "organization_id"))


def workers_recent(*, since: datetime) -> list[WorkerHeartbeat]:
    return list(WorkerHeartbeat.objects.filter(last_seen_at__gte=since).order_by("-last_seen_at")[:STATS_MAX_WORKERS])


def attempt_durations_by_type(attempts: QuerySet[JobAttempt]) -> dict[str, dict[str, Any]]:
    """Per job type over `attempts`: runs, completed runs, mean and nearest-rank p95
    duration (ms). Counted and averaged in the database; the p95 is one indexed row read
    per type, so no attempt rows are loaded however many there are."""
    attempts = attempts.order_by()
    per_type = attempts.values("job_type").annotate(
        runs=Count("id"),
        succeeded=Count("id", filter=Q(outcome=AttemptOutcome.COMPLETED)),
        mean_ms=Avg("duration_ms"),
    )
    summary = {}
    for row in per_type:
        rank = max(1, math.ceil(0.95 * row["runs"]))  # nearest rank
        p95 = (
            attempts.filter(job_type=row["job_type"])
            .order_by("duration_ms")
            .values_list("duration_ms", flat=True)[rank - 1]
        )
        summary[row["job_type"]] = {**row, "p95_ms": p95}
    return summary


def job_type_run_summary(*, organization: Organization, since: datetime) -> dict[str, dict[str, Any]]:
    """Per job type, over the attempts that finished in the hours from `since`: runs,
    outcomes, success rate, mean duration and p95 duration (the upper edge of its
    histogram bucket: at most 19 % above the true value) in milliseconds."""
    per_type = attempt_durations(organization_id=organization.pk, since=since)
    summary = {
        job_type: {
            "runs": row["runs"],
            "succeeded": row["succeeded"],
            "failed": row["runs"] - row["succeeded"],
            "success_rate": round(row["succeeded"] / row["runs"], 4),
            "mean_duration_ms": round(row["total_ms"] / row["runs"], 2),
            "p95_duration_ms": round(p95_upper_edge(row["buckets"], row["runs"]), 2),
        }
        for job_type, row in sorted(per_type.items())
    }
    return summary


def job_stats(*, organization: Organization, now: datetime | None = None) -> dict[str, Any]:
    """What GET /api/system/background-jobs/stats returns.

    Job figures are the organization's; workers are service-wide. Paused job types are
    the ones that hold this organization's jobs: its own pauses and the service-wide ones.
    A due job is queued, past its run_at / next_retry_at, and of a type that is not paused.
    """
    now = now or timezone.now()
    jobs = BackgroundJob.objects.filter(organization=organization)
    paused = job_type_pauses(organization=organization)

    # Kept figures (jobs/stats_figures.py), not a count of every job.
    counted, ledger_excess = job_counts(organization_id=organization.pk)
    by_status = dict.fromkeys(JobStatus.values, 0)
    by_job_type: dict[str, dict[str, int]] = {}
    for job_type, job_status, n in counted:
        counts = by_job_type.setdefault(job_type, {"total": 0, **dict.fromkeys(JobStatus.values, 0)})
        counts[job_status] += n
        counts["total"] += n
        by_status[job_status] += n

    queued = jobs.filter(status=JobStatus.QUEUED)
    queue: dict[str, Any] = {"due": 0, "scheduled": 0, "oldest_due_at": None, "paused": 0}
    if paused:
        held = Q(held_by_pause())
        queue = queued.aggregate(
            due=Count("id", filter=Q(available_at__lte=now) & ~held),
            scheduled=Count("id", filter=Q(available_at__gt=now) & ~held),
            oldest_due_at=Min("available_at", filter=Q(available_at__lte=now) & ~held),
            paused=Count("id", filter=Q(held)),
        )
    else:  # the common case: no subquery at all
        queue = queued.aggregate(
            due=Count("id", filter=Q(available_at__lte=now)),
            scheduled=Count("id", filter=Q(available_at__gt=now)),
            oldest_due_at=Min("available_at", filter=Q(available_at__lte=now)),
        )
        queue["paused"] = 0
    oldest_due_at = queue.pop("oldest_due_at")

    # The window starts on an hour boundary: durations are kept per hour.
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=STATS_WINDOW_DAYS)
    summary = job_type_run_summary(organization=organization, since=since)
    if ledger_excess > COMPACT_AFTER_ROWS:
        compact_figures(organization_id=organization.pk)  # PostgreSQL's ledger: keep the next read short
    cutoff = workers_alive_cutoff()
    return {
        "generated_at": now,
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_job_type": by_job_type,
        "queue": {
            "depth": by_status[JobStatus.QUEUED],
            **queue,
            "processing": by_status[JobStatus.PROCESSING],
            "oldest_due_age_seconds": round((now - oldest_due_at).total_seconds(), 3) if oldest_due_at else None,
        },
        "last_7_days": {
            "since": since,
            "by_job_type": summary,
        },
        "workers": [{**w.as_dict(), "alive": worker_is_alive(w, cutoff=cutoff)} for w in workers_recent(since=since)],
        "paused_job_types": [
            {"job_type": p.job_type, "scope": p.scope, "paused_at": p.paused_at, "paused_by": p.paused_by}
            for p in paused
        ],
    }
