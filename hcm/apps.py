from django.apps import AppConfig


class HcmConfig(AppConfig):
    name = "hcm"
    verbose_name = "Organizations and users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The admin's JSON form field is set by hcm.admin_apps (the web process's admin app).
        from hcm import (
            login_limits,  # noqa: F401 -- connects the failed-login log line
            startup,  # noqa: F401  registers the SECRET_KEY system check
        )
