from django.apps import AppConfig


class HcmConfig(AppConfig):
    name = "hcm"
    verbose_name = "Organizations and users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hcm import startup  # noqa: F401  registers the SECRET_KEY system check
