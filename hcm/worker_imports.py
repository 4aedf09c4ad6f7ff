"""Start-up of `manage.py runworker` that keeps the process small (issue 13: ≤ 55 MiB).

Job payloads are DRF serializers, so the worker imports DRF. DRF's `rest_framework.compat`
imports every optional integration it finds installed, for features only the web process
has: psycopg and django.contrib.postgres (ModelSerializer fields for ArrayField & co.),
requests (its test client), PyYAML and uritemplate (schemas), Markdown and Pygments (the
browsable API). Together ~17 MiB a worker never uses. They are hidden while that one module
is first imported, then importable again as usual: psycopg for the PostgreSQL backend,
requests for an email backend that needs it (anymail).

Django's database backends `import sqlparse` at start-up (~1.1 MiB) for what only
migrations and introspection use (splitting SQL scripts, reading SQLite's DDL): the worker
gets a stand-in that imports it at its first use instead.
"""

import importlib
import sys
import types
from typing import Any

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


# Imported at start-up by modules that use them only in what a worker does not do.
DEFERRED_MODULES = ("sqlparse",)


class _DeferredModule(types.ModuleType):
    """Stands in for a module in sys.modules until one of its attributes is read: then the
    real module is imported (and replaces it there); the stand-in forwards every read."""

    def __getattr__(self, name: str) -> Any:
        # Called only for what the stand-in lacks (it has __name__, __spec__ = None & co.).
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        try:
            real = importlib.import_module(self.__name__)
        except BaseException:
            sys.modules.setdefault(self.__name__, self)
            raise
        return getattr(real, name)


def defer_unused_imports() -> None:
    """Put a stand-in for each of DEFERRED_MODULES not imported yet. Call before django.setup()."""
    for name in DEFERRED_MODULES:
        if name not in sys.modules:
            sys.modules[name] = _DeferredModule(name)
