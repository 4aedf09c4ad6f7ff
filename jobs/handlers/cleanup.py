"""cleanup: delete what is past retention (see jobs/retention.py for the rules)."""

import logging
import time
from functools import partial
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from jobs import retention
from jobs.cleanup import cleanup_steps
from jobs.context import JobContext
from jobs.oldfiles import FilesDeleted, delete_files_older_than
from jobs.registry import job_handler

logger = logging.getLogger("jobs.cleanup")

KINDS = ("expired_data", "old_logs", "temp_files")


class CleanupPayload(serializers.Serializer):
    type = serializers.ChoiceField(choices=["all", *KINDS])


class CleanupStepsFailed(Exception):
    """Some registered steps raised; the others ran. The job is retried (deletes are idempotent)."""


@job_handler("cleanup", payload=CleanupPayload, timeout=600, priority="low")
def cleanup(ctx: JobContext) -> dict:
    """Delete expired job rows, old log archives and temp files (service-wide).

    - `expired_data`: finished jobs past retention and their attempt rows, worker rows
      unseen for 7 days, and every step registered for "expired_data".
    - `old_logs`: *.gz log archives in LOG_DIR past JOBS_RETENTION_COMPLETED_DAYS, and every
      step registered for "old_logs".
    - `temp_files`: files in JOBS_TEMP_DIR older than JOBS_TEMP_MAX_AGE_HOURS.

    Result: `records_deleted` {kind: rows, …} from the deletes' own counts (every kind that
    ran, zeros included), `files_deleted`, `bytes_freed` (sizes of the deleted files),
    `duration_ms`.
    """
    started = time.perf_counter()
    kind = ctx.payload["type"]
    kinds = KINDS if kind == "all" else (kind,)
    now = timezone.now()
    records: dict[str, int] = {}
    files = FilesDeleted()
    failed_steps: list[str] = []
    for i, current in enumerate(kinds):
        if current == "expired_data":
            # Between batches: stop here if the job was cancelled.
            at = partial(ctx.set_progress, int(100 * i / len(kinds)))
            records.update(retention.delete_expired_jobs(now=now, after_batch=at))
            records["worker_heartbeats"] = retention.delete_stale_heartbeats(now=now)
        elif current == "old_logs" and settings.LOG_DIR is not None:
            files += delete_files_older_than(
                Path(settings.LOG_DIR), cutoff=retention.log_archive_cutoff(now), pattern="*.gz"
            )
        elif current == "temp_files":
            files += delete_files_older_than(
                Path(settings.JOBS_TEMP_DIR), cutoff=retention.temp_file_cutoff(now), recursive=True
            )
        failed_steps += _run_registered_steps(current, records)
        ctx.set_progress(int(100 * (i + 1) / len(kinds)))
    if failed_steps:
        raise CleanupStepsFailed(f"Cleanup steps failed: {', '.join(failed_steps)} (see the worker log).")
    return {
        "type": kind,
        "records_deleted": records,
        "files_deleted": files.count,
        "bytes_freed": files.bytes,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _run_registered_steps(kind: str, records: dict[str, int]) -> list[str]:
    """Run the steps other apps registered for `kind`; one failing does not stop the rest."""
    failed = []
    for name, step in cleanup_steps(kind).items():
        try:
            records[name] = records.get(name, 0) + int(step())
        except Exception:
            logger.exception("cleanup step failed", extra={"kind": kind, "step": name})
            failed.append(name)
    return failed
