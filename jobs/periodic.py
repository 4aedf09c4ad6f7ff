"""Work every worker does on its heartbeat besides leases (e.g. enqueueing due schedule
ticks). Each call must be safe to run from many workers at once."""

import logging
import time

from django.conf import settings

from jobs.schedules import job_schedules_enqueue_due
from jobs.stats_figures import compact_figures_unless_busy

logger = logging.getLogger("jobs.worker")

# When this process last folded the /stats figures' ledger (monotonic seconds).
_figures_compacted_at: float | None = None


def run_periodic(*, worker_id: str) -> None:
    """Called by the worker's main thread once per heartbeat interval."""
    # Every worker checks; the compare-and-set in jobs/schedules.py lets one win each tick.
    job_schedules_enqueue_due()
    _compact_figures_when_due()


def _compact_figures_when_due() -> None:
    # PostgreSQL's figures ledger grows by a row per key per batch of outcomes; without
    # this only /stats and the daily cleanup would fold it.
    global _figures_compacted_at
    now = time.monotonic()
    every = settings.JOBS_FIGURES_COMPACT_SECONDS
    if every <= 0 or (_figures_compacted_at is not None and now - _figures_compacted_at < every):
        return
    _figures_compacted_at = now
    removed = compact_figures_unless_busy()
    if removed:
        logger.debug("stats figures compacted", extra={"rows_removed": removed})
