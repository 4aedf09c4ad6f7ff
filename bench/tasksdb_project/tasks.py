from django_tasks import task


@task()
def noop() -> None:
    """Does nothing: the benchmark's no-op task."""
    return None
