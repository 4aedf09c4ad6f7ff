"""Job types: a decorator registers each handler with its payload schema and limits.

    @job_handler("cache_flush", payload=CacheFlushPayload, timeout=60)
    def cache_flush(ctx: JobContext) -> dict: ...

A job type is one module under jobs/handlers/ (or `<app>/job_handlers.py`).
"""

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import autodiscover_modules
from rest_framework import serializers

from jobs.errors import PermanentJobError

if TYPE_CHECKING:
    from jobs.context import JobContext

Handler = Callable[["JobContext"], dict[str, Any]]


@dataclass(frozen=True)
class JobType:
    name: str
    func: Handler
    payload: type[serializers.Serializer] | None
    timeout: float
    priority: str
    description: str

    def validate_payload(self, payload: Any) -> dict[str, Any]:
        """The cleaned payload, or serializers.ValidationError naming each bad field."""
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise serializers.ValidationError({"payload": ["Must be a JSON object."]})
        if self.payload is None:
            if payload:
                raise serializers.ValidationError({"payload": [f"{self.name} takes no payload."]})
            return {}
        schema = self.payload(data=payload)
        known = set(schema.fields)
        unknown = sorted(set(payload) - known)
        if not schema.is_valid() or unknown:
            errors = dict(schema.errors)
            errors.update({name: ["Unknown field."] for name in unknown})
            raise serializers.ValidationError({"payload": errors})
        return _json_safe(schema.validated_data)

    def payload_for_run(self, payload: Any) -> dict[str, Any]:
        """The payload a handler gets: checked again by the worker, whoever wrote the row
        (the API, code, the admin, an old release). A payload the schema refuses fails the
        job for good, naming each bad field; the handler never sees it."""
        try:
            return self.validate_payload(payload)
        except serializers.ValidationError as exc:
            raise InvalidPayload(f"Invalid payload: {_error_summary(exc.detail)}") from None


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
    payload: type[serializers.Serializer] | None = None,
    timeout: float = 300.0,
    priority: str = "medium",
) -> Callable[[Handler], Handler]:
    if priority not in ("low", "medium", "high"):
        raise ValueError(f"priority must be low, medium or high, not {priority!r}")

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
        )
        return func

    return register


def get_job_type(name: str) -> JobType | None:
    return _REGISTRY.get(name)


def job_type_names() -> list[str]:
    return sorted(_REGISTRY)


def autodiscover() -> None:
    """Import every module in jobs/handlers/, every app's job_handlers module and
    settings.JOBS_HANDLER_MODULES."""
    import jobs.handlers

    for module in pkgutil.iter_modules(jobs.handlers.__path__):
        importlib.import_module(f"jobs.handlers.{module.name}")
    autodiscover_modules("job_handlers")
    for module in settings.JOBS_HANDLER_MODULES:
        importlib.import_module(module)
