"""Tasks of Django's Tasks API used by tests/jobs/test_tasks_backend.py.

A real module (not test-local functions) because the worker process imports the task by
its dotted path, as it would any application's tasks.
"""

from django_tasks import TaskContext, task


class TaskExploded(Exception):
    """Raised by `explode`: its dotted path must come back in TaskError."""


@task()
def add(a: int, b: int) -> int:
    return a + b


@task(priority=10)
def greet(name: str, *, punctuation: str = "!") -> dict:
    return {"greeting": f"Hello, {name}{punctuation}", "tags": ("a", "b")}


@task()
def explode(message: str) -> None:
    raise TaskExploded(message)


@task(takes_context=True)
def flaky(context: TaskContext, *, succeed_on_attempt: int) -> int:
    """Fails with ConnectionError until its `succeed_on_attempt`-th attempt."""
    if context.attempt < succeed_on_attempt:
        raise ConnectionError(f"attempt {context.attempt} failed")
    return context.attempt


@task()
async def add_async(a: int, b: int) -> int:
    return a + b


@task()
def noop() -> None:
    """No arguments: the Tasks backend's shortest path."""
