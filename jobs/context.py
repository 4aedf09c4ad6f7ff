"""What a handler gets: its job, its validated payload, and progress checks."""

import time
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from django.utils import timezone

from jobs.errors import JobAborted


@dataclass
class ClaimedJob:
    """The columns of a claimed job that running it needs (returned by the claim)."""

    id: str
    organization_id: str | None
    job_type: str
    payload: dict[str, Any]
    attempt: int
    retry_count: int
    max_retries: int
    started_at: datetime
    worker_id: str
    request_id: str | None = None  # of the web request that queued it


@dataclass
class JobContext:
    job: ClaimedJob
    payload: dict[str, Any]
    deadline: float  # time.monotonic() after which the job has timed out
    # Set by the worker's main thread, read by the handler's: a plain flag (a threading.Event
    # per job cost the worker's hot path more than the rest of the context).
    aborted: bool = False
    abort_reason: str = ""
    # The job log's item counts (set_counts), written with the attempt's outcome.
    counts: tuple[int, int, int] | None = None

    def set_counts(self, *, processed: int, succeeded: int, failed: int) -> None:
        """What this run worked through (seed 004's job log): items processed, and how many
        of them succeeded and failed. Kept with the job whether it completes or fails."""
        self.counts = (int(processed), int(succeeded), int(failed))

    @cached_property
    def organization(self):
        """The job's organization (None for service-wide jobs), loaded once."""
        from hcm.models import Organization

        if self.job.organization_id is None:
            return None
        return Organization.objects.get(pk=self.job.organization_id)

    def abort(self, reason: str) -> None:
        """Called by the worker (timeout, shutdown); seen at the handler's next check."""
        self.abort_reason = reason  # before the flag: a reader that sees the flag sees the reason
        self.aborted = True

    def check(self) -> None:
        """Raise JobAborted if the job was cancelled, timed out or taken from us."""
        if self.aborted:
            raise JobAborted(self.abort_reason)
        if time.monotonic() > self.deadline:
            raise JobAborted("timed out")

    def set_progress(self, percent: int) -> None:
        """Record progress (0–100) and stop the handler if it should no longer run.

        The write is fenced by the lease: it applies only while this worker still holds
        this attempt of the job, so a cancelled job's handler stops here.
        """
        from jobs.models import BackgroundJob, JobStatus

        self.check()
        applied = BackgroundJob.objects.filter(
            pk=self.job.id,
            status=JobStatus.PROCESSING,
            locked_by=self.job.worker_id,
            attempt=self.job.attempt,
        ).update(progress=max(0, min(100, int(percent))), updated_at=timezone.now())
        if not applied:
            status = BackgroundJob.objects.filter(pk=self.job.id).values_list("status", flat=True).first()
            raise JobAborted("cancelled" if status == JobStatus.CANCELLED else "lease lost")
