"""Callbacks other apps register for job events, so the engine (jobs/) knows nothing of
them (notifications/ turns a failed job into an alert this way).

    register_job_failed_hook(my_callback)   # called with a FailedJob, after commit

A hook runs on the worker's main thread once the failure is in the database: keep it
short (enqueue a job for real work). An exception in a hook is logged, never raised.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("jobs.hooks")


@dataclass(frozen=True)
class FailedJob:
    """A job that failed for good: retries spent, or a permanent error."""

    id: str
    organization_id: str | None
    job_type: str
    error: str | None
    attempts: int


JobFailedHook = Callable[[FailedJob], None]

_FAILED_HOOKS: list[JobFailedHook] = []


def register_job_failed_hook(hook: JobFailedHook) -> None:
    if hook not in _FAILED_HOOKS:
        _FAILED_HOOKS.append(hook)


def job_failed(failed: FailedJob) -> None:
    """Call every hook for `failed` (the worker calls this after the failure committed)."""
    for hook in list(_FAILED_HOOKS):
        try:
            hook(failed)
        except Exception:
            logger.exception("job-failed hook raised", extra={"job_id": failed.id, "job_type": failed.job_type})
