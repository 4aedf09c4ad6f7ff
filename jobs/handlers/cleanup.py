"""cleanup: delete what is past retention (see jobs/retention.py for the rules)."""

import logging
import time
from functools import partial
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from jobs import logfiles, retention
from jobs.cleanup import cleanup_steps
from jobs.context import JobContext
from jobs.errors import PermanentJobError
from jobs.oldfiles import FilesDeleted, delete_files_older_than
from jobs.registry import ORGANIZATION, job_handler

logger = logging.getLogger("jobs.cleanup")

KINDS = ("expired_data", "old_logs", "temp_files")


SERVICE_ONLY_KINDS = ("old_logs",)  # the log files are every organization's


class CleanupPayload(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["all", *KINDS],
        help_text="For one organization: its expired rows and temp files (old_logs is service-wide only).",
    )

    def validate_type(self, value: str) -> str:
        if value in SERVICE_ONLY_KINDS and self.context.get("scope") == ORGANIZATION:
            raise serializers.ValidationError(
                f"{value} deletes log archives every organization shares: a service-wide cleanup "
                "(scope service, platform operators only)."
            )
        return value


class CleanupStepsFailed(Exception):
    """Some registered steps raised; the others ran. The job is retried (deletes are idempotent)."""


@job_handler("cleanup", scope=("organization", "service"), payload=CleanupPayload, timeout=600, priority="low")
def cleanup(ctx: JobContext) -> dict:
    """Delete expired job rows, old log archives and temp files: one organization's, or
    (a job without an organization) every organization's.

    - `expired_data`: finished jobs past retention and their attempt rows, attempt rows
      older than JOBS_RETENTION_ATTEMPT_DAYS (reported as `old_job_attempts`), and every step
      registered for "expired_data" — the job's organization's rows only; service-wide also
      worker rows unseen for 7 days and expired refresh tokens.
    - `old_logs` (service-wide only): this service's log archives in LOG_DIR past
      JOBS_RETENTION_COMPLETED_DAYS, and every step registered for "old_logs".
    - `temp_files`: files in JOBS_TEMP_DIR/<organization id>/ (service-wide: all of
      JOBS_TEMP_DIR) older than JOBS_TEMP_MAX_AGE_HOURS.
    - `all`: every kind the job's scope allows.

    Result: `records_deleted` {kind: rows, …} from the deletes' own counts (every kind that
    ran, zeros included), `files_deleted`, `bytes_freed` (sizes of the deleted files),
    `duration_ms`. Job log counts: one item per rule run (processed / succeeded / failed).
    """
    started = time.perf_counter()
    kind = ctx.payload["type"]
    org_id = ctx.job.organization_id
    if kind == "all":
        kinds = tuple(k for k in KINDS if org_id is None or k not in SERVICE_ONLY_KINDS)
    else:
        kinds = (kind,)
    if org_id is not None and set(kinds) & set(SERVICE_ONLY_KINDS):
        # A payload that skipped the API's check (inserted another way): refuse, don't widen.
        raise PermanentJobError(f"{kind} is a service-wide cleanup; this job belongs to organization {org_id}.")
    now = timezone.now()
    records: dict[str, int] = {}
    files = FilesDeleted()
    failed_steps: list[str] = []
    rules = 0
    for i, current in enumerate(kinds):
        if current == "expired_data":
            # Between batches: stop here if the job was cancelled.
            at = partial(ctx.set_progress, int(100 * i / len(kinds)))
            records.update(retention.delete_expired_jobs(now=now, organization_id=org_id, after_batch=at))
            records["old_job_attempts"] = retention.delete_old_attempts(now=now, organization_id=org_id, after_batch=at)
            rules += 2
            if org_id is None:
                records["worker_heartbeats"] = retention.delete_stale_heartbeats(now=now)
                rules += 1
                records["expired_refresh_tokens"] = retention.delete_expired_refresh_tokens(now=now)
                rules += 1
        elif current == "old_logs" and settings.LOG_DIR is not None:  # logs to the console: no archives
            files += delete_files_older_than(
                Path(settings.LOG_DIR), cutoff=retention.log_archive_cutoff(now), pattern=logfiles.ARCHIVE_GLOB
            )
            rules += 1
        elif current == "temp_files":
            temp_dir = Path(settings.JOBS_TEMP_DIR) / (org_id or "")
            files += delete_files_older_than(temp_dir, cutoff=retention.temp_file_cutoff(now), recursive=True)
            rules += 1
        rules += len(cleanup_steps(current))
        failed_steps += _run_registered_steps(current, records, organization_id=org_id)
        ctx.set_progress(int(100 * (i + 1) / len(kinds)))
    # The job log: each rule (built-in or registered step) is one item.
    ctx.set_counts(processed=rules, succeeded=rules - len(failed_steps), failed=len(failed_steps))
    if failed_steps:
        raise CleanupStepsFailed(f"Cleanup steps failed: {', '.join(failed_steps)} (see the worker log).")
    return {
        "type": kind,
        "scope": "organization" if org_id else "service",
        "records_deleted": records,
        "files_deleted": files.count,
        "bytes_freed": files.bytes,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _run_registered_steps(kind: str, records: dict[str, int], *, organization_id: str | None) -> list[str]:
    """Run the steps other apps registered for `kind`; one failing does not stop the rest."""
    failed = []
    for name, step in cleanup_steps(kind).items():
        try:
            records[name] = records.get(name, 0) + int(step(organization_id))
        except Exception:
            logger.exception("cleanup step failed", extra={"kind": kind, "step": name})
            failed.append(name)
    return failed
