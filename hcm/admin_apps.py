"""The admin's AppConfig for the web process (hcm.settings); the worker, which serves no
pages, keeps Django's SimpleAdminConfig for the admin's models alone (hcm.settings_worker)."""

from django.contrib.admin.apps import SimpleAdminConfig


class AdminConfig(SimpleAdminConfig):
    """SimpleAdminConfig: admin modules are imported by hcm/urls.py (admin.autodiscover()).
    Every admin page edits JSON through the API's limits (NUL, surrogates, depth, 64-bit
    integers), whichever app registers it."""

    def ready(self) -> None:
        super().ready()
        from django.contrib.admin import options
        from django.db import models

        from hcm.forms import SafeJSONFormField

        # ModelAdmin copies these defaults when it is registered, which is after every app
        # is ready.
        options.FORMFIELD_FOR_DBFIELD_DEFAULTS[models.JSONField] = {"form_class": SafeJSONFormField}
