import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hcm.db import use_connection_per_thread
from hcm.startup import SECRET_KEY_MISSING, secret_key_missing
from jobs.registry import job_type_names
from jobs.worker import Worker


class Command(BaseCommand):
    # The checks cost start-up time and ~3 MiB for the worker's whole life; `manage.py
    # check` (CI, deploys) and the web process run them.
    requires_system_checks: list[str] = []
    help = (
        "Run background jobs. Run one or more under a process supervisor; SIGTERM finishes "
        "the jobs in hand (within --grace-period) and exits 0, a second signal exits at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", "-c", type=int, default=4, help="Jobs run at once (threads). Default 4.")
        parser.add_argument("--burst", action="store_true", help="Exit once nothing is due.")
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=settings.JOBS_POLL_INTERVAL,
            help=f"Seconds between checks for due jobs when idle (default {settings.JOBS_POLL_INTERVAL:g}). "
            "On PostgreSQL an enqueue wakes the worker at once through LISTEN/NOTIFY; the poll still finds "
            "retries and run_at jobs coming due.",
        )
        parser.add_argument(
            "--job-types",
            "--queues",
            default="",
            help="Comma-separated job types to take (default: every type this process has a handler for).",
        )
        parser.add_argument(
            "--lease",
            type=float,
            default=settings.JOBS_LEASE_SECONDS,
            help=f"Seconds a claimed job stays ours without renewal (default {settings.JOBS_LEASE_SECONDS:g}); "
            "renewed every lease/4 (at most 10 s) while it runs. A dead worker's jobs run again after it.",
        )
        parser.add_argument(
            "--grace-period",
            type=float,
            default=settings.JOBS_GRACE_PERIOD,
            help=f"Seconds to finish running jobs after SIGTERM/SIGINT before handing them back (default "
            f"{settings.JOBS_GRACE_PERIOD:g}); keep it below the supervisor's stop timeout.",
        )

        parser.add_argument(
            "--prefetch",
            type=int,
            default=None,
            help="Jobs claimed ahead of free threads while recent jobs are short (average ≤ 50 ms), "
            "so fewer, bigger claim/record transactions (default 4 × concurrency; 0 turns it off).",
        )

    def handle(self, *args, **options) -> None:
        if secret_key_missing():
            raise CommandError(SECRET_KEY_MISSING)
        use_connection_per_thread()
        job_types = [t.strip() for t in options["job_types"].split(",") if t.strip()]
        unknown = sorted(set(job_types) - set(job_type_names()))
        if unknown:
            raise CommandError(f"Unknown job type(s): {', '.join(unknown)}. Known: {', '.join(job_type_names())}")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1")
        for name in ("poll_interval", "lease"):
            if options[name] <= 0:
                raise CommandError(f"--{name.replace('_', '-')} must be more than 0")
        if options["prefetch"] is not None and options["prefetch"] < 0:
            raise CommandError("--prefetch must be 0 or more")
        if options["grace_period"] < 0:
            raise CommandError("--grace-period must be 0 or more")
        worker = Worker(
            concurrency=options["concurrency"],
            job_types=job_types or None,
            poll_interval=options["poll_interval"],
            lease_seconds=options["lease"],
            grace_period=options["grace_period"],
            burst=options["burst"],
            prefetch=options["prefetch"],
        )
        sys.exit(worker.run())
