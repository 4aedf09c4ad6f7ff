"""The cleanup job folds /stats' figures and drops duration hours no window reads
(jobs/stats_figures.py); a service-wide `expired_data` cleanup runs it."""

from jobs.cleanup import register_cleanup_step
from jobs.stats_figures import maintain_figures

register_cleanup_step("expired_data", "stats_figures", maintain_figures)
