"""Steps of the `cleanup` job that other apps contribute (e.g. old read notifications).

    register_cleanup_step("expired_data", "read_notifications", purge_read_notifications)

Each step is a function taking `organization_id` (the organization whose rows to delete,
or None for every organization: a service-wide cleanup) and returning how many records it
deleted; the cleanup job reports the counts per step under `records_deleted`.
"""

from collections.abc import Callable

CleanupStep = Callable[[str | None], int]

_STEPS: dict[str, dict[str, CleanupStep]] = {}


def register_cleanup_step(kind: str, name: str, func: CleanupStep) -> None:
    _STEPS.setdefault(kind, {})[name] = func


def cleanup_steps(kind: str) -> dict[str, CleanupStep]:
    return dict(_STEPS.get(kind, {}))
