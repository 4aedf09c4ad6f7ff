from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from jobs.hooks import FailedJob


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every channel module registers its Channel class (notifications.channels.base).
        from jobs.hooks import register_job_failed_hook
        from notifications import checks  # noqa: F401  (registers the system checks)
        from notifications.channels.base import channels

        channels()
        # A job that fails for good alerts its organization (notifications/services/failure_alerts.py).
        register_job_failed_hook(_on_job_failed)


def _on_job_failed(failed: "FailedJob") -> None:
    # Imported at the first failure, not in every worker at start (issue 13: a leaner worker).
    from notifications.services.failure_alerts import on_job_failed

    on_job_failed(failed)
