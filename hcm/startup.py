"""What a server or worker needs before it starts, checked where each one starts.

`manage.py help` and friends must work on a bare checkout, so the settings do not refuse to
load without SECRET_KEY; instead every entry point that serves requests or runs jobs asks
here: the system check (runserver, check, migrate…), hcm.wsgi / hcm.asgi (gunicorn, daphne,
uvicorn) and runworker.
"""

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_MISSING = (
    "SECRET_KEY is not set. Set SECRET_KEY in the environment (or DEBUG=1 for a development-only default)."
)


def secret_key_missing() -> bool:
    return bool(getattr(settings, "SECRET_KEY_MISSING", False))


def require_secret_key() -> None:
    """Raise ImproperlyConfigured with a message that says what to set."""
    if secret_key_missing():
        raise ImproperlyConfigured(SECRET_KEY_MISSING)


@checks.register(checks.Tags.security)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if secret_key_missing():
        return [checks.Error(SECRET_KEY_MISSING, id="hcm.E001")]
    return []
