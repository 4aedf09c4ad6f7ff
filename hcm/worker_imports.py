"""Start-up of `manage.py runworker` that keeps the process small (issue 13: ≤ 55 MiB).

Job payloads are DRF serializers, so the worker imports DRF. DRF's `rest_framework.compat`
imports every optional integration it finds installed, for features only the web process
has: psycopg and django.contrib.postgres (ModelSerializer fields for ArrayField & co.),
requests (its test client), PyYAML and uritemplate (schemas), Markdown and Pygments (the
browsable API). Together ~17 MiB a worker never uses. They are hidden while that one module
is first imported, then importable again as usual: psycopg for the PostgreSQL backend,
requests for an email backend that needs it (anymail).

OpenSSL (~4.6 MiB resident: libcrypto's pages, `ssl`'s Python module) is loaded at its first
use instead of at start, see defer_openssl(); of the admin, only its models (~1.2 MiB less),
see import_admin_models_only().
"""

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

DRF_WEB_EXTRAS = ("django.contrib.postgres", "requests", "yaml", "uritemplate", "inflection", "markdown", "pygments")

# Imported at start only because asyncio (Django imports it through asgiref), http.client
# and psycopg_binary import `ssl` and `asyncio.sslproto`, and Django imports hashlib: none of
# them uses OpenSSL before a job needs TLS or a password hash.
DEFERRED_UNTIL_USE = ("ssl", "asyncio.sslproto")


def prepare_worker_imports() -> None:
    """What `manage.py runworker` does before Django starts (bench/profile_worker.py too)."""
    defer_openssl()
    import_admin_models_only()
    import_drf_without_web_extras()


def import_drf_without_web_extras() -> None:
    """Import rest_framework.compat with its optional web integrations seen as missing.
    Call before django.setup(); a no-op once DRF is imported."""
    if "rest_framework.compat" in sys.modules:
        return
    with _seen_as_missing(*DRF_WEB_EXTRAS):
        import rest_framework.compat  # noqa: F401


@contextmanager
def _seen_as_missing(*names: str) -> Iterator[None]:
    """`import name` raises ImportError meanwhile, for each name not imported yet."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


class ImportedOnFirstUse(types.ModuleType):
    """Stands in sys.modules for a module until one of its attributes is first read: then
    the real module is imported (it replaces this one in sys.modules) and every attribute
    read here is the real module's. `import name` alone loads nothing, nor does
    `from name import x` for an x set on the stand-in. For a package (see package()), its
    submodules import as usual without its __init__ running."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        # The real module's spec, found without running it, so that importlib.util.find_spec
        # (a library probing for ssl) answers as usual rather than raise ValueError; not
        # where finding it would import the parent package (asyncio, for asyncio.sslproto).
        parent = name.rpartition(".")[0]
        if not parent or parent in sys.modules:
            self.__spec__ = importlib.util.find_spec(name)

    def __getattr__(self, attr: str) -> object:
        if attr == "__path__":  # what `from name import x` asks first: not a package
            raise AttributeError(attr)
        return getattr(_import_real(self), attr)

    @classmethod
    def package(cls, name: str) -> "ImportedOnFirstUse":
        spec = importlib.util.find_spec(name)  # finds it (imports its parent), runs nothing of it
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError(f"{name} is not a package")
        stand_in = cls(name)
        stand_in.__spec__ = spec
        stand_in.__path__ = list(spec.submodule_search_locations)
        stand_in.__file__ = spec.origin
        return stand_in


def _import_real(stand_in: ImportedOnFirstUse) -> types.ModuleType:
    name = stand_in.__name__
    # pop, not del: two threads may get here at once; importlib then imports the module once.
    if sys.modules.get(name) is stand_in:
        sys.modules.pop(name, None)
    real = importlib.import_module(name)
    for attr, value in vars(stand_in).items():  # submodules imported under the stand-in
        if isinstance(value, types.ModuleType) and value.__name__ == f"{name}.{attr}":
            real.__dict__.setdefault(attr, value)
    return real


def import_admin_models_only() -> None:
    """django.contrib.admin stands in until used: the worker keeps the admin's app for its
    models (deleting a user deletes their LogEntry rows, as in the web process), which
    imports django.contrib.admin.apps and .models, and with them the package's __init__:
    ModelAdmin, the site, every admin view and form. Those load at the first use of any
    other part of the admin (admin.site, admin.ModelAdmin, …). Call before django.setup()."""
    if "django.contrib.admin" not in sys.modules:
        sys.modules["django.contrib.admin"] = ImportedOnFirstUse.package("django.contrib.admin")


def defer_openssl() -> None:
    """Load OpenSSL at its first use rather than at start. `ssl` (asyncio, http.client and
    psycopg_binary import it; a job may use it) and `asyncio.sslproto` stand in until first
    used. hashlib stands in with Python's builtin implementations as its named constructors
    (hashlib.sha256, …: what hashlib uses without OpenSSL, same digests); anything else of
    it (new, pbkdf2_hmac, …) imports the real hashlib, OpenSSL with it. hmac computes with
    those constructors (its pure-Python path, as without OpenSSL). Call before anything
    imports these modules; a no-op for those already imported."""
    for name in DEFERRED_UNTIL_USE:
        sys.modules.setdefault(name, ImportedOnFirstUse(name))
    if "hashlib" in sys.modules or "_hashlib" in sys.modules:
        return
    with _seen_as_missing("_hashlib"):
        builtin = importlib.import_module("hashlib")
    stand_in = ImportedOnFirstUse("hashlib")
    for algorithm in builtin.algorithms_guaranteed:
        setattr(stand_in, algorithm, getattr(builtin, algorithm))
    sys.modules["hashlib"] = stand_in
    with _seen_as_missing("_hashlib"):
        import hmac  # noqa: F401
