"""Job types: a decorator registers each handler with its scope, payload schema and limits.

    @job_handler("cache_flush", scope=("organization", "service"), payload=CacheFlushPayload, timeout=60)
    def cache_flush(ctx: JobContext) -> dict: ...

A job type is one module under jobs/handlers/ (or `<app>/job_handlers.py`).

Every job type declares where it may act (its scopes):
- "organization": on the job's organization's data only (the job has an organization);
- "service": on what every organization shares (the job has none); only platform
  operators may enqueue, schedule, pause or resume such jobs;
- "internal": enqueued by the system itself (notifications, Django Tasks), never offered
  by the API; it runs with or without an organization, as the system enqueued it.
A type may allow both "organization" and "service" (cleanup, cache_flush): a job's scope
is then decided by whether it has an organization.
"""

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import autodiscover_modules
from rest_framework import serializers

from hcm.exceptions import InvalidInput
from jobs.errors import PermanentJobError

if TYPE_CHECKING:
    from jobs.context import JobContext

Handler = Callable[["JobContext"], dict[str, Any]]

ORGANIZATION, SERVICE, INTERNAL = "organization", "service", "internal"
SCOPES = (ORGANIZATION, SERVICE, INTERNAL)


def job_scope(organization_id: object | None) -> str:
    """The scope a job acts in: its organization's, or service-wide when it has none."""
    return ORGANIZATION if organization_id is not None else SERVICE


@dataclass(frozen=True)
class JobType:
    name: str
    func: Handler
    payload: type[serializers.Serializer] | None
    timeout: float
    priority: str
    description: str
    scopes: frozenset[str]

    @property
    def internal(self) -> bool:
        return INTERNAL in self.scopes

    def allows(self, scope: str) -> bool:
        """May a job of this type act in `scope`? Internal types run wherever the system put them."""
        return self.internal or scope in self.scopes

    @property
    def default_scope(self) -> str:
        """What an API caller gets without asking: the organization's, unless service-only."""
        return ORGANIZATION if ORGANIZATION in self.scopes else SERVICE

    def validate_payload(self, payload: Any, *, scope: str | None = None) -> dict[str, Any]:
        """The cleaned payload, or InvalidInput naming each bad field (`payload.<field>`).

        The payload schema sees the job's scope in its context (`self.context["scope"]`),
        so a rule may depend on it (an organization's cleanup cannot touch shared logs)."""
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise InvalidInput({"payload": ["Must be a JSON object."]})
        if self.payload is None:
            if payload:
                raise InvalidInput({"payload": [f"{self.name} takes no payload."]})
            return {}
        schema = _payload_schema(self.payload, scope)
        unknown = sorted(set(payload) - set(schema.fields))
        try:
            data = schema.run_validation(payload)
        except serializers.ValidationError as exc:
            errors = dict(exc.detail) if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        else:
            if not unknown:
                return _json_safe(data)
            errors = {}
        errors.update({name: ["Unknown field."] for name in unknown})
        raise InvalidInput({"payload": errors})

    def payload_for_run(self, payload: Any, *, organization_id: str | None) -> dict[str, Any]:
        """The payload a handler gets: checked again by the worker, whoever wrote the row
        (the API, code, the admin, an old release). A payload the schema refuses fails the
        job for good, naming each bad field; the handler never sees it."""
        try:
            return self.validate_payload(payload, scope=job_scope(organization_id))
        except InvalidInput as exc:
            raise InvalidPayload(f"Invalid payload: {_error_summary(exc.errors)}") from None


class InvalidPayload(PermanentJobError):
    """A stored payload its job type's schema refuses: retrying cannot help."""


def _error_summary(detail: Any, prefix: str = "") -> str:
    """`{"payload": {"to": ["Bad."]}}` → `payload.to: Bad.`, every field at once."""
    if isinstance(detail, dict):
        return "; ".join(_error_summary(v, f"{prefix}.{k}" if prefix else str(k)) for k, v in detail.items())
    if isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            return f"{prefix}: {' '.join(str(v) for v in detail)}"
        return "; ".join(_error_summary(v, prefix) for v in detail)
    return f"{prefix}: {detail}"


# One payload schema instance per (schema, scope) and thread, reused for every payload it
# checks: building a DRF serializer deep-copies its declared fields, which cost more than
# validating a payload (enqueue is the hot path of every fan-out). Per thread, because a
# serializer instance is not meant to be shared by threads.
_schemas = threading.local()


def _payload_schema(schema_class: type[serializers.Serializer], scope: str | None) -> serializers.Serializer:
    cache: dict = _schemas.__dict__.setdefault("by_class", {})
    schema = cache.get((schema_class, scope))
    if schema is None:
        schema = cache[(schema_class, scope)] = schema_class(context={"scope": scope})
    return schema


def _json_safe(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _json_safe(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_json_safe(v) for v in data]
    return data


_REGISTRY: dict[str, JobType] = {}


def job_handler(
    name: str,
    *,
    scope: str | tuple[str, ...],
    payload: type[serializers.Serializer] | None = None,
    timeout: float = 300.0,
    priority: str = "medium",
) -> Callable[[Handler], Handler]:
    if priority not in ("low", "medium", "high"):
        raise ValueError(f"priority must be low, medium or high, not {priority!r}")
    scopes = frozenset((scope,) if isinstance(scope, str) else scope)
    if not scopes or not scopes <= set(SCOPES) or (INTERNAL in scopes and len(scopes) > 1):
        raise ValueError(f"scope must be one of {', '.join(SCOPES)} (or organization and service), not {scope!r}")

    def register(func: Handler) -> Handler:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.func.__qualname__ != func.__qualname__:
            raise ValueError(f"job type {name!r} is already registered by {existing.func.__module__}")
        _REGISTRY[name] = JobType(
            name=name,
            func=func,
            payload=payload,
            timeout=timeout,
            priority=priority,
            description=(func.__doc__ or "").strip().split("\n")[0],
            scopes=scopes,
        )
        return func

    return register


def get_job_type(name: str) -> JobType | None:
    return _REGISTRY.get(name)


def job_type_names() -> list[str]:
    """Every registered type, internal ones included (what workers run, lists filter on)."""
    return sorted(_REGISTRY)


def offered_job_type_names() -> list[str]:
    """The types a person may enqueue, schedule or pause (not the internal ones)."""
    return sorted(name for name, spec in _REGISTRY.items() if not spec.internal)


def offered_job_type(name: str) -> JobType:
    """The registered, non-internal type `name`, or InvalidInput on `job_type` listing the valid ones."""
    spec = _REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None or spec.internal:
        raise InvalidInput({"job_type": [unknown_job_type_message(name, offered_job_type_names())]})
    return spec


def unknown_job_type_message(name: object, valid: list[str]) -> str:
    return f"Unknown job type {name!r}. Valid types: {', '.join(valid)}."


def autodiscover() -> None:
    """Import every module in jobs/handlers/, every app's job_handlers module and
    settings.JOBS_HANDLER_MODULES."""
    import jobs.handlers

    for module in pkgutil.iter_modules(jobs.handlers.__path__):
        importlib.import_module(f"jobs.handlers.{module.name}")
    autodiscover_modules("job_handlers")
    for name in settings.JOBS_HANDLER_MODULES:
        importlib.import_module(name)
