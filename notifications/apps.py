from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every channel module registers its Channel class (notifications.channels.base).
        from jobs.hooks import register_job_failed_hook
        from notifications import checks  # noqa: F401  (registers the system checks)
        from notifications.channels.base import channels
        from notifications.services.failure_alerts import on_job_failed

        channels()
        # A job that fails for good alerts its organization (notifications/services/failure_alerts.py).
        register_job_failed_hook(on_job_failed)
