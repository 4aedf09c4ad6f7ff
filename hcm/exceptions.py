"""The project's own domain errors: what services raise when a request cannot be carried out.

Services know nothing of HTTP; one exception handler (hcm.errors) turns each kind into its
status code: InvalidInput → 400 (naming every bad field), NotPermitted → 403,
ObjectNotFound → 404, StateConflict → 400 (the object's state refuses the action; kept at
400 for the seeds' clients), Conflict → 409.
"""

from collections.abc import Mapping, Sequence
from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""


class InvalidInput(DomainError):
    """Bad values: `errors` maps each field (dotted for nested ones) to its messages."""

    def __init__(self, errors: Mapping[str, Any]) -> None:
        self.errors = {name: _as_list(messages) for name, messages in errors.items()}
        super().__init__(summarize(self.errors))

    @classmethod
    def field(cls, name: str, message: str) -> "InvalidInput":
        return cls({name: [message]})


class StateConflict(DomainError):
    """The object is not in a state that allows this action (e.g. cancel a finished job)."""

    field = "status"


class Conflict(DomainError):
    """The request collides with what exists (409)."""


class NotPermitted(DomainError):
    """The caller's role or scope does not allow this action; the message says why."""


class ObjectNotFound(DomainError):
    """No such object visible to the caller."""


def _as_list(messages: Any) -> Any:
    if isinstance(messages, Mapping):
        return {k: _as_list(v) for k, v in messages.items()}
    if isinstance(messages, str) or not isinstance(messages, Sequence):
        return [str(messages)]
    return [m if isinstance(m, Mapping) else str(m) for m in messages]


def flatten(errors: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted field, first message) for every bad field, in order."""
    if isinstance(errors, Mapping):
        found: list[tuple[str, str]] = []
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            found.extend(flatten(value, name))
        return found
    if isinstance(errors, list | tuple):
        if not errors:
            return []
        if all(isinstance(e, Mapping | list | tuple) for e in errors):  # a list of nested items
            found = []
            for index, item in enumerate(errors):
                found.extend(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
            return found
        first = next(e for e in errors if not isinstance(e, Mapping | list | tuple))
        return [(prefix, str(first))]
    return [(prefix, str(errors))]


def summarize(errors: Any) -> str:
    """One sentence naming every bad field with its message:
    "Invalid job_type: Unknown job type 'x'. …; priority: "urgent" is not a valid choice. …"."""
    pairs = [(name, message) for name, message in flatten(errors) if message]
    named = [(n, m) for n, m in pairs if n and n != "non_field_errors"]
    unnamed = [m for n, m in pairs if not n or n == "non_field_errors"]
    if not named:
        return unnamed[0] if unnamed else "Invalid input."
    text = "Invalid " + "; ".join(f"{name}: {message}" for name, message in named)
    if unnamed:
        text += "; " + "; ".join(unnamed)
    return text
