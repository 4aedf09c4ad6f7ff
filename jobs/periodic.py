"""Work every worker does on its heartbeat besides leases (e.g. enqueueing due schedule
ticks). Each call must be safe to run from many workers at once."""

import logging

from jobs.schedules import job_schedules_enqueue_due

logger = logging.getLogger("jobs.worker")


def run_periodic(*, worker_id: str) -> None:
    """Called by the worker's main thread once per heartbeat interval."""
    # Every worker checks; the compare-and-set in jobs/schedules.py lets one win each tick.
    job_schedules_enqueue_due()
