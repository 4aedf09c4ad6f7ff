"""The job system's Prometheus figures (collected by hcm/metrics.py at each scrape).

Gauges count the live queue only (queued and processing jobs, through the status
indexes), so their cost follows the backlog, not the history of finished jobs. Attempts
are counters advanced from the attempt log since the last scrape (bg_attempts_time_idx).
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from hcm.metrics import DatabaseCollector, Increment, Labels, Tally, counters, cumulative_buckets
from jobs.models import BackgroundJob, JobAttempt, JobStatus, JobTypePause, WorkerHeartbeat
from jobs.selectors import workers_alive_cutoff

# Attempt duration histogram bounds, seconds (from no-op jobs to the 600 s timeouts).
DURATION_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf"))
ATTEMPTS = "jobs.attempts"


def attempts_finished(since: datetime, until: datetime) -> dict[Labels, Increment]:
    """Attempts that finished in (since, until], by job type and outcome, with their
    durations bucketed: one indexed range scan of the attempt log."""
    buckets = {
        f"le_{i}": Count("id", filter=Q(duration_ms__lte=bound * 1000)) for i, bound in enumerate(DURATION_BOUNDS[:-1])
    }
    # Any: django-stubs types values() rows as a TypedDict without the le_* annotations.
    rows: Any = (
        JobAttempt.objects.filter(finished_at__gt=since, finished_at__lte=until)
        .order_by()
        .values("job_type", "outcome")
        .annotate(n=Count("id"), seconds=Sum("duration_ms"), **buckets)
    )
    return {
        (("job_type", row["job_type"]), ("outcome", row["outcome"])): Increment(
            value=row["n"],
            total=(row["seconds"] or 0.0) / 1000,
            buckets=[row[f"le_{i}"] for i in range(len(DURATION_BOUNDS) - 1)] + [row["n"]],
        )
        for row in rows
    }


def _attempts_lag() -> float:
    return settings.METRICS_ATTEMPTS_LAG_SECONDS


def _job_is_paused() -> Exists:
    """The claim's rule (jobs/claim.py): its type is paused service-wide or for its organization."""
    return Exists(
        JobTypePause.objects.filter(job_type=OuterRef("job_type")).filter(
            Q(organization__isnull=True) | Q(organization=OuterRef("organization"))
        )
    )


class JobsCollector(DatabaseCollector):
    tallies = (Tally(ATTEMPTS, attempts_finished, _attempts_lag),)

    def metrics(self) -> Iterator[object]:
        now = timezone.now()
        yield from self._queue(now)
        yield from self._attempts()
        alive = GaugeMetricFamily("hcm_workers_alive", "Workers running and heartbeating (as /health counts them).")
        cutoff = workers_alive_cutoff()
        alive.add_metric([], WorkerHeartbeat.objects.filter(stopped_at__isnull=True, last_seen_at__gte=cutoff).count())
        yield alive

    def _queue(self, now: datetime) -> Iterator[object]:
        due_now = Q(status=JobStatus.QUEUED, available_at__lte=now)
        paused = Q(_job_is_paused())
        rows = (
            BackgroundJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.PROCESSING])
            .order_by()
            .values("job_type", "status")
            .annotate(
                n=Count("id"),
                due=Count("id", filter=due_now & ~paused),
                paused=Count("id", filter=due_now & paused),
                oldest_due=Min("available_at", filter=due_now & ~paused),
            )
        )
        queued = GaugeMetricFamily(
            "hcm_jobs_queued",
            "Queued jobs by type and state: due (waiting for a worker), scheduled (run_at or retry "
            "in the future), paused (due, of a paused type).",
            labels=["job_type", "state"],
        )
        processing = GaugeMetricFamily("hcm_jobs_processing", "Jobs held by a worker now.", labels=["job_type"])
        oldest = GaugeMetricFamily(
            "hcm_jobs_oldest_due_age_seconds",
            "Age of the oldest due job (not paused) waiting for a worker, by type; 0 when none waits.",
            labels=["job_type"],
        )
        for row in rows:
            job_type = row["job_type"]
            if row["status"] == JobStatus.PROCESSING:
                processing.add_metric([job_type], row["n"])
                continue
            queued.add_metric([job_type, "due"], row["due"])
            queued.add_metric([job_type, "scheduled"], row["n"] - row["due"] - row["paused"])
            queued.add_metric([job_type, "paused"], row["paused"])
            age = (now - row["oldest_due"]).total_seconds() if row["oldest_due"] else 0.0
            oldest.add_metric([job_type], max(0.0, age))
        pauses = GaugeMetricFamily(
            "hcm_job_types_paused",
            "Pauses in force by job type: scope service (every organization) or organization (how many).",
            labels=["job_type", "scope"],
        )
        pause_rows = (
            JobTypePause.objects.order_by("job_type")
            .values("job_type")
            .annotate(service=Count("id", filter=Q(organization__isnull=True)), orgs=Count("organization"))
        )
        for pause in pause_rows:
            if pause["service"]:
                pauses.add_metric([pause["job_type"], "service"], pause["service"])
            if pause["orgs"]:
                pauses.add_metric([pause["job_type"], "organization"], pause["orgs"])
        yield from (queued, processing, oldest, pauses)

    def _attempts(self) -> Iterator[object]:
        total = CounterMetricFamily(
            "hcm_job_attempts",
            "Job attempts finished, by type and outcome (counted from the attempt log once "
            "METRICS_ATTEMPTS_LAG_SECONDS old, since the first scrape).",
            labels=["job_type", "outcome"],
        )
        per_type: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(DURATION_BOUNDS))
        sums: dict[str, float] = defaultdict(float)
        for labels, counter in counters(ATTEMPTS):
            total.add_metric([labels["job_type"], labels["outcome"]], counter.value)
            job_type = labels["job_type"]
            if counter.buckets and len(counter.buckets) == len(DURATION_BOUNDS):
                per_type[job_type] = [a + b for a, b in zip(per_type[job_type], counter.buckets, strict=True)]
                sums[job_type] += counter.total
        duration = HistogramMetricFamily(
            "hcm_job_attempt_duration_seconds", "Duration of finished job attempts, by type.", labels=["job_type"]
        )
        for job_type in sorted(per_type):
            duration.add_metric(
                [job_type], buckets=cumulative_buckets(DURATION_BOUNDS, per_type[job_type]), sum_value=sums[job_type]
            )
        yield total
        yield duration
