"""Settings for `manage.py runworker`: hcm.settings without what only the web process uses.

manage.py picks this module for `runworker` unless DJANGO_SETTINGS_MODULE is set. Every
environment variable means the same as for the web process (this module starts from
hcm.settings). What differs only saves memory and start-up time (issue 13: a worker
loaded daphne's Twisted, drf-spectacular and the whole URLconf, ~100 MiB, for no job):

- INSTALLED_APPS without the apps that have no models and serve only HTTP. Every app with
  models stays, so deleting a user or an organization cascades exactly as in the web
  process, and migrations see the same state. The admin's app is Django's own
  SimpleAdminConfig: its models, not the JSON form field of the web's admin pages
  (hcm/admin_apps.py), which would import every admin module (manage.py runworker loads
  only the admin's models, hcm/worker_imports.py).
- ROOT_URLCONF: only the routes a job builds links to (hcm/urls_worker.py), with the same
  paths as hcm.urls (a test compares them).
- LOGGING_CONFIG: LOGGING alone is applied (below), without Django's DEFAULT_LOGGING first.
"""

import logging.config
import os

from hcm.settings import *  # noqa: F403
from hcm.settings import INSTALLED_APPS as WEB_INSTALLED_APPS
from hcm.settings import LOGGING

WEB_ONLY_APPS = {
    "daphne",  # runserver over ASGI; its AppConfig imports Twisted (~15 MiB)
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",  # the API's views and templates; job payload serializers import DRF themselves
    "rest_framework_simplejwt",  # token auth (no models; token_blacklist, which has, stays)
    "django_ratelimit",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
}
WORKER_APP_CONFIGS = {"hcm.admin_apps.AdminConfig": "django.contrib.admin.apps.SimpleAdminConfig"}
INSTALLED_APPS = [WORKER_APP_CONFIGS.get(app, app) for app in WEB_INSTALLED_APPS if app not in WEB_ONLY_APPS]
ROOT_URLCONF = "hcm.urls_worker"
MIDDLEWARE = []  # serves no requests

# Django applies its DEFAULT_LOGGING, then LOGGING, which replaces all of it (the "django"
# logger's handlers too). But DEFAULT_LOGGING's mail_admins handler is built meanwhile and
# imports django.views.debug: ~0.4 MiB a worker would keep for nothing. So LOGGING alone,
# applied when Django loads this module as its settings (Django's documented way to set up
# logging oneself), not when a test imports it.
LOGGING_CONFIG = None
if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    logging.config.dictConfig(LOGGING)
