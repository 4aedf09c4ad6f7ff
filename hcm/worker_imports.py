"""Start-up of `manage.py runworker` that keeps the process small (issue 13: ≤ 55 MiB).

Job payloads are DRF serializers, so the worker imports DRF. DRF's `rest_framework.compat`
imports every optional integration it finds installed, for features only the web process
has: psycopg and django.contrib.postgres (ModelSerializer fields for ArrayField & co.),
requests (its test client), PyYAML and uritemplate (schemas), Markdown and Pygments (the
browsable API). Together ~17 MiB a worker never uses. They are hidden while that one module
is first imported, then importable again as usual: psycopg for the PostgreSQL backend,
requests for an email backend that needs it (anymail).
"""

import sys

DRF_WEB_EXTRAS = ("django.contrib.postgres", "requests", "yaml", "uritemplate", "inflection", "markdown", "pygments")


def import_drf_without_web_extras() -> None:
    """Import rest_framework.compat with its optional web integrations seen as missing.
    Call before django.setup(); a no-op once DRF is imported."""
    if "rest_framework.compat" in sys.modules:
        return
    hidden = [name for name in DRF_WEB_EXTRAS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # "import name" raises ImportError
    try:
        import rest_framework.compat  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
