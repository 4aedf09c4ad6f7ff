"""The worker's settings (hcm.settings_worker): what `manage.py runworker` loads, and
the links its jobs build."""

import re
import subprocess
import sys

import pytest
from django.db import connection
from django.urls import URLPattern, get_resolver, reverse

from tests.workers import ROOT, worker_env

# Loaded by the web process only: none of them may be imported by a worker.
WEB_ONLY_MODULES = [
    "daphne",  # and Twisted with it
    "twisted",
    "drf_spectacular",  # the API's schema (a payload's field declares none of its own)
    "hcm.urls",  # the web URLconf: the admin, every API view
    "hcm.openapi",
    "jobs.admin",
    # The admin's pages: its models (LogEntry) are the worker's only part of it (hcm/worker_imports.py).
    "django.contrib.admin.options",
    "django.contrib.admin.sites",
    "notifications.api.views",
    "cryptography",  # loaded at the first encrypted credential, not at start
    "django.views.debug",  # Django's DEFAULT_LOGGING's mail_admins handler (hcm/settings_worker.py)
    # DRF's optional web integrations (hcm/worker_imports.py). Their own names are listed
    # (-X importtime lists the attempt that found them hidden); a module of theirs is not.
    "django.contrib.postgres.fields",
    "requests.models",
    "yaml.loader",
    "pygments.lexer",
]
# Imported at the first job that needs them, not at start (issue 13: a leaner worker);
# `--burst` on an empty queue runs none of them.
FIRST_USE_MODULES = [
    "django_tasks",  # the django_task job type (and django-stubs-ext, xml.sax with it)
    "jobs.tasks_backend",
    "notifications.api",  # the API's serializers and their schema
    "notifications.services.event_fanout",
    "notifications.services.digests",
    "_ssl",  # OpenSSL: the first TLS connection (hcm/worker_imports.py; tests/hcm/test_worker_imports.py)
    "smtplib",  # the first email sent (notifications/email/sending.py, Django's SMTP backend)
    # imports it at its first use (hcm/worker_imports.py)
]


@pytest.mark.django_db(transaction=True)
def test_runworker__imports_no_web_only_module():
    """A real `manage.py runworker --burst` (the settings manage.py picks for it), with
    `-X importtime` listing the modules the process imported."""
    env = worker_env(LOG_LEVEL="INFO")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "manage.py"), "runworker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    imported = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", done.stderr, flags=re.M))
    # It loaded the job handlers (importlib.import_module'd modules are not listed, what they import is).
    assert {"jobs.worker", "notifications.email", "notifications.rendering"} <= imported
    assert "worker stopped" in done.stderr
    other_database = ["psycopg"] if connection.vendor == "sqlite" else ["sqlite3"]
    web_only = WEB_ONLY_MODULES + FIRST_USE_MODULES + other_database
    loaded = sorted(m for m in imported if any(m == w or m.startswith(w + ".") for w in web_only))
    assert loaded == []


def _sample_kwargs(pattern: URLPattern) -> dict[str, str]:
    return {name: "sample-value" for name in pattern.pattern.converters}


def test_worker_urlconf__reverses_every_name_as_the_web_urlconf():
    patterns = get_resolver("hcm.urls_worker").url_patterns
    assert patterns
    for pattern in patterns:
        kwargs = _sample_kwargs(pattern)
        worker_path = reverse(pattern.name, kwargs=kwargs, urlconf="hcm.urls_worker")
        assert worker_path == reverse(pattern.name, kwargs=kwargs, urlconf="hcm.urls"), pattern.name


def _app_names(installed_apps: list[str]) -> list[str]:
    from django.apps import AppConfig

    return [AppConfig.create(entry).name for entry in installed_apps]


def test_worker_settings__keep_every_app_with_models():
    """Deleting a user or an organization in a job must cascade as in the web process."""
    from django.apps import apps

    import hcm.settings as web
    import hcm.settings_worker as worker

    web_apps, worker_apps = _app_names(web.INSTALLED_APPS), _app_names(worker.INSTALLED_APPS)
    dropped = set(web_apps) - set(worker_apps)
    assert "daphne" in dropped
    with_models = {config.name for config in apps.get_app_configs() if list(config.get_models())}
    assert {"rest_framework_simplejwt.token_blacklist", "django.contrib.admin"} <= with_models
    assert not dropped & with_models
    assert [app for app in web_apps if app not in dropped] == worker_apps
