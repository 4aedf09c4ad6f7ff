"""Runs the tasks of Django's Tasks API enqueued through jobs.tasks_backend."""

from dataclasses import replace

from rest_framework import serializers

from jobs.context import JobContext
from jobs.errors import PermanentJobError
from jobs.models import BackgroundJob
from jobs.registry import job_handler


class DjangoTaskPayload(serializers.Serializer):
    task_path = serializers.CharField(max_length=500, help_text="Dotted path of the @task function.")
    args = serializers.ListField(default=list)
    kwargs = serializers.DictField(default=dict)
    backend = serializers.CharField(max_length=100, default="default")
    queue_name = serializers.CharField(max_length=100, default="default")
    priority = serializers.IntegerField(min_value=-100, max_value=100, default=0)


@job_handler("django_task", scope="internal", payload=DjangoTaskPayload, timeout=900)
def django_task(ctx: JobContext) -> dict:
    """Runs a Django Tasks API task (`@task` … `.enqueue()`)."""
    # Imported at the first task, not at start: django_tasks pulls in django-stubs-ext,
    # which imports the syndication views and xml.sax (~1 MiB in every worker, issue 13).
    from django_tasks.base import TaskContext, TaskError, TaskResultStatus
    from django_tasks.signals import task_finished, task_started
    from django_tasks.utils import get_exception_traceback, get_module_path, normalize_json

    from jobs.tasks_backend import BackgroundJobBackend, task_for_job, task_result_from_job

    job = BackgroundJob.objects.get(pk=ctx.job.id)
    try:
        task = task_for_job(job)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise PermanentJobError(f"Cannot load task {ctx.payload['task_path']}: {exc}")
    task_result = task_result_from_job(job, task=task)
    task_started.send(BackgroundJobBackend, task_result=task_result)
    args, kwargs = ctx.payload["args"], ctx.payload["kwargs"]
    try:
        if task.takes_context:
            value = task.call(TaskContext(task_result=task_result), *args, **kwargs)
        else:
            value = task.call(*args, **kwargs)
    except BaseException as exc:
        error = TaskError(exception_class_path=get_module_path(type(exc)), traceback=get_exception_traceback(exc))
        failed = replace(task_result, status=TaskResultStatus.FAILED, errors=[*task_result.errors, error])
        task_finished.send(BackgroundJobBackend, task_result=failed)
        if isinstance(exc, Exception):
            raise
        # SystemExit, asyncio.CancelledError…: an attempt that failed, not a dead worker thread.
        raise RuntimeError(f"task raised {type(exc).__name__}") from exc
    try:
        return_value = normalize_json(value)
    except (TypeError, ValueError) as exc:
        raise PermanentJobError(f"Return value is not JSON: {exc}")
    done = replace(task_result, status=TaskResultStatus.SUCCESSFUL)
    object.__setattr__(done, "_return_value", return_value)
    task_finished.send(BackgroundJobBackend, task_result=done)
    return {"return_value": return_value}
