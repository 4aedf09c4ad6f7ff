import sys
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from jobs.models import WorkerHeartbeat
from jobs.selectors import workers_alive_cutoff

EXIT_ALIVE, EXIT_NOT_ALIVE, EXIT_NO_DATABASE = 0, 1, 2


class Command(BaseCommand):
    """A liveness probe: `worker_status --worker-id ID || restart`."""

    requires_system_checks: list[str] = []
    help = (
        "Exit 0 if the worker (--worker-id) or any worker is running and heartbeating, 1 if not, "
        "2 if the database cannot be reached. Prints one line saying which."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--worker-id", default=None, help="The worker to check (runworker --worker-id).")
        parser.add_argument(
            "--max-age",
            type=float,
            default=None,
            help="Seconds since its last heartbeat for a worker to count as alive "
            "(default two lease periods, as /health counts).",
        )

    def handle(self, *args, **options) -> None:
        max_age = options["max_age"]
        cutoff = workers_alive_cutoff() if max_age is None else timezone.now() - timedelta(seconds=max_age)
        workers = WorkerHeartbeat.objects.filter(stopped_at__isnull=True, last_seen_at__gte=cutoff)
        if options["worker_id"]:
            workers = workers.filter(worker_id=options["worker_id"])
        try:
            alive = list(workers.order_by("-last_seen_at").values_list("worker_id", "last_seen_at")[:100])
        except DatabaseError as exc:
            self.stderr.write(f"database unavailable: {type(exc).__name__}")
            sys.exit(EXIT_NO_DATABASE)
        which = f"worker {options['worker_id']}" if options["worker_id"] else "any worker"
        if not alive:
            self.stderr.write(f"not alive: no heartbeat from {which} since {cutoff.isoformat(timespec='seconds')}")
            sys.exit(EXIT_NOT_ALIVE)
        now = timezone.now()
        for worker_id, last_seen_at in alive:
            self.stdout.write(f"alive: {worker_id} (last heartbeat {(now - last_seen_at).total_seconds():.1f} s ago)")
        sys.exit(EXIT_ALIVE)
