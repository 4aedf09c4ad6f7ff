import logging
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hcm.db import use_connection_per_thread
from hcm.startup import SECRET_KEY_MISSING, secret_key_missing
from jobs.registry import job_type_names
from jobs.worker import DEFAULT_PREFETCH_PER_THREAD, EXIT_ABANDONED_THREADS, Worker

# -v: 0 warnings and errors only, 1 one line per job transition (INFO), 2 DEBUG, 3 DEBUG
# for every logger (Django's own included). Without -v, LOG_LEVEL decides.
VERBOSITY_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Command(BaseCommand):
    # The checks cost start-up time and ~3 MiB for the worker's whole life; `manage.py
    # check` (CI, deploys) and the web process run them.
    requires_system_checks: list[str] = []
    help = (
        "Run background jobs. Run one or more under a process supervisor; SIGTERM finishes "
        "the jobs in hand (within --grace-period) and exits 0, a second signal exits at once. "
        f"--max-jobs / --max-memory exit 0 once the jobs in hand are done; too many handlers "
        f"that ignored their timeout exit {EXIT_ABANDONED_THREADS} (the supervisor restarts the worker)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # -v given or not: without it LOG_LEVEL decides the level.
        parser.set_defaults(verbosity=None)
        return parser

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
            default="",
            help="Comma-separated job types to take (default: every type this process has a handler for).",
        )
        parser.add_argument(
            "--queues",
            default="",
            help="Comma-separated Django Tasks queue names to take (a job's queue_name; jobs queued "
            "outside the Tasks API are in 'default'). Default: every queue.",
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
            help="At most this many jobs claimed ahead of free threads while recent jobs are short (average "
            "≤ 50 ms; about 50 ms of work per thread), so fewer, bigger claim/record transactions "
            f"(default {DEFAULT_PREFETCH_PER_THREAD} × concurrency; 0 turns it off).",
        )
        parser.add_argument(
            "--max-jobs",
            type=int,
            default=None,
            help="Claim at most N jobs, finish them and exit 0 (the supervisor starts a fresh process), "
            "like Celery's --max-tasks-per-child.",
        )
        parser.add_argument(
            "--max-memory",
            type=float,
            default=None,
            metavar="MB",
            help="Past this resident memory (MiB, checked with each heartbeat) stop claiming, finish the "
            "jobs in hand and exit 0, like Celery's --max-memory-per-child.",
        )
        parser.add_argument(
            "--max-abandoned-threads",
            type=int,
            default=None,
            help="Handlers that ignore their timeout keep their thread; past this many still running, "
            f"stop claiming, finish the rest and exit {EXIT_ABANDONED_THREADS} (default: --concurrency).",
        )
        parser.add_argument(
            "--worker-id",
            default=None,
            help="This worker's id in heartbeats, leases and logs (default host:pid:random); "
            "`worker_status --worker-id` checks it.",
        )

    @staticmethod
    def _set_log_level(verbosity: int | None) -> None:
        if verbosity is None:
            return
        if verbosity not in VERBOSITY_LEVELS:
            raise CommandError("-v must be 0, 1, 2 or 3")
        logging.getLogger().setLevel(VERBOSITY_LEVELS[verbosity])
        if verbosity == 3:
            for name in ("django", "django.db.backends"):
                logging.getLogger(name).setLevel(logging.DEBUG)

    def handle(self, *args, **options) -> None:
        if secret_key_missing():
            raise CommandError(SECRET_KEY_MISSING)
        use_connection_per_thread()
        self._set_log_level(options["verbosity"])
        job_types = _csv(options["job_types"])
        unknown = sorted(set(job_types) - set(job_type_names()))
        if unknown:
            raise CommandError(f"Unknown job type(s): {', '.join(unknown)}. Known: {', '.join(job_type_names())}")
        queues = _csv(options["queues"])
        known_queues = {q for backend in settings.TASKS.values() for q in backend.get("QUEUES", ["default"])}
        unknown = sorted(set(queues) - known_queues)
        if unknown:
            known = ", ".join(sorted(known_queues))
            raise CommandError(f"Unknown queue(s): {', '.join(unknown)}. Known (settings.TASKS QUEUES): {known}")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1")
        for name in ("poll_interval", "lease"):
            if options[name] <= 0:
                raise CommandError(f"--{name.replace('_', '-')} must be more than 0")
        for name in ("max_jobs", "max_memory"):
            if options[name] is not None and options[name] <= 0:
                raise CommandError(f"--{name.replace('_', '-')} must be more than 0")
        for name in ("prefetch", "max_abandoned_threads"):
            if options[name] is not None and options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} must be 0 or more")
        if options["grace_period"] < 0:
            raise CommandError("--grace-period must be 0 or more")
        worker_id = options["worker_id"]
        if worker_id is not None and not (0 < len(worker_id) <= 200):
            raise CommandError("--worker-id must be 1 to 200 characters")
        worker = Worker(
            concurrency=options["concurrency"],
            job_types=job_types or None,
            queues=queues or None,
            poll_interval=options["poll_interval"],
            lease_seconds=options["lease"],
            grace_period=options["grace_period"],
            burst=options["burst"],
            prefetch=options["prefetch"],
            max_jobs=options["max_jobs"],
            max_memory_mib=options["max_memory"],
            max_abandoned_threads=options["max_abandoned_threads"],
            worker_id=worker_id,
        )
        sys.exit(worker.run())
