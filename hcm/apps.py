from django.apps import AppConfig


class HcmConfig(AppConfig):
    name = "hcm"
    verbose_name = "Organizations and users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.admin import options
        from django.db import models

        from hcm import (
            login_limits,  # noqa: F401 -- connects the failed-login log line
            startup,  # noqa: F401  registers the SECRET_KEY system check
        )
        from hcm.forms import SafeJSONFormField

        # Every admin page edits JSON through the API's limits (NUL, surrogates, depth,
        # 64-bit integers), whichever app registers it. ModelAdmin copies these defaults
        # when it is registered, which is after every app is ready.
        options.FORMFIELD_FOR_DBFIELD_DEFAULTS[models.JSONField] = {"form_class": SafeJSONFormField}
