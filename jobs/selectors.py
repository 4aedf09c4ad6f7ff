"""Read-only queries about jobs and workers (stats, health)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from jobs.models import WorkerHeartbeat


def workers_alive_cutoff():
    # A worker renews its heartbeat every min(lease/4, 10) s; two lease periods of silence = gone.
    return timezone.now() - timedelta(seconds=2 * settings.JOBS_LEASE_SECONDS)


def worker_health_summary() -> dict:
    alive = WorkerHeartbeat.objects.filter(stopped_at__isnull=True, last_seen_at__gte=workers_alive_cutoff())
    last = WorkerHeartbeat.objects.order_by("-last_seen_at").values_list("last_seen_at", flat=True).first()
    return {"alive": alive.count(), "last_seen_at": last.isoformat() if last else None}
