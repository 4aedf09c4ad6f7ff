from django.apps import AppConfig


class HcmConfig(AppConfig):
    name = "hcm"
    verbose_name = "Organizations and users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hcm import (
            login_limits,  # noqa: F401 -- connects the failed-login log line
            startup,  # noqa: F401  registers the SECRET_KEY system check
        )
