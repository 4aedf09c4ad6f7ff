"""A backend for Django's Tasks framework (the django-tasks backport) on our job queue.

    TASKS = {"default": {"BACKEND": "jobs.tasks_backend.BackgroundJobBackend"}}

`my_task.enqueue(...)` stores a BackgroundJob of type `django_task` whose payload names
the task and holds its arguments; `runworker` runs it (jobs/handlers/django_task.py) with
the same leases, retries and admin as every other job, and `get_result(id)` reads the job
back as a TaskResult. The result id is the job id.

How the Tasks API maps onto jobs:
- priority (-100…100): above 0 → high, below 0 → low, 0 → medium;
- run_after → the job's run_at;
- queue_name: must be one of the backend's QUEUES; stored in the job's `queue_name`, and
  `runworker --queues a,b` takes only jobs of those queues (as django-tasks' `db_worker
  --queue-name`). Every task runs as job type `django_task`, so pausing or `runworker
  --job-types` acts on all of them;
- OPTIONS["MAX_RETRIES"] (default 3): failed attempts retried with the job backoff;
- status: queued (also while waiting to retry) → READY, processing → RUNNING,
  completed → SUCCESSFUL, failed or cancelled → FAILED;
- errors: one TaskError per failed attempt (exception class and traceback);
- worker_ids: the worker of each finished attempt, plus the one running it now.
"""

import builtins
import re
from typing import TypeVar

from django.utils.module_loading import import_string
from django_tasks import DEFAULT_TASK_QUEUE_NAME
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskError, TaskResult, TaskResultStatus
from django_tasks.exceptions import TaskResultDoesNotExist
from django_tasks.signals import task_enqueued
from django_tasks.utils import normalize_json
from typing_extensions import ParamSpec

from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt, JobStatus
from jobs.services import job_enqueue

T = TypeVar("T")
P = ParamSpec("P")

JOB_TYPE = "django_task"

_STATUS = {
    JobStatus.QUEUED: TaskResultStatus.READY,
    JobStatus.PROCESSING: TaskResultStatus.RUNNING,
    JobStatus.COMPLETED: TaskResultStatus.SUCCESSFUL,
    JobStatus.FAILED: TaskResultStatus.FAILED,
    JobStatus.CANCELLED: TaskResultStatus.FAILED,
}

# Attempts that did not end in the task's own exception: the class a TaskError names.
_ATTEMPT_EXCEPTION: dict[str, str] = {
    AttemptOutcome.TIMEOUT: "builtins.TimeoutError",
    AttemptOutcome.LEASE_EXPIRED: "jobs.errors.JobAborted",
    AttemptOutcome.CANCELLED: "jobs.errors.JobAborted",
}


def job_priority_for(task_priority: int) -> str:
    if task_priority > 0:
        return "high"
    if task_priority < 0:
        return "low"
    return "medium"


class BackgroundJobBackend(BaseTaskBackend):
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        self.max_retries = int(self.options.get("MAX_RETRIES", 3))

    def enqueue(self, task: Task[P, T], args: P.args, kwargs: P.kwargs) -> TaskResult[T]:  # type: ignore[valid-type]
        self.validate_task(task)
        # In JSON first, as TaskResult stores them (TypeError if they cannot be).
        args, kwargs = normalize_json(args), normalize_json(kwargs)
        job, _ = job_enqueue(
            organization=None,
            job_type=JOB_TYPE,
            payload={
                "task_path": task.module_path,
                "args": args,
                "kwargs": kwargs,
                "backend": self.alias,
                "queue_name": task.queue_name,
                "priority": task.priority,
            },
            priority=job_priority_for(task.priority),
            max_retries=self.max_retries,
            run_at=task.run_after,
            created_by="tasks_api",
            queue_name=task.queue_name,
        )
        # A new job: no attempt, nothing to read back (task_result_from_job would query).
        result: TaskResult[T] = TaskResult(
            task=task,
            id=job.pk,
            status=TaskResultStatus.READY,
            enqueued_at=job.created_at,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        job = BackgroundJob.objects.filter(pk=result_id, job_type=JOB_TYPE).first()
        if job is None:
            raise TaskResultDoesNotExist(result_id)
        return task_result_from_job(job)


def task_for_job(job: BackgroundJob) -> Task:
    """The Task a django_task job runs, as it was enqueued (ImportError if it is gone)."""
    payload = job.payload
    task = import_string(payload["task_path"])
    if not isinstance(task, Task):
        raise TypeError(f"{payload['task_path']} is not a task (decorate it with @task).")
    return task.using(
        priority=payload.get("priority", task.priority),
        queue_name=payload.get("queue_name", DEFAULT_TASK_QUEUE_NAME),
        backend=payload.get("backend", task.backend),
        run_after=job.run_at if job.run_at > job.created_at else None,
    )


def task_result_from_job(job: BackgroundJob, *, task: Task | None = None) -> TaskResult:
    """The Tasks API's view of a django_task job: status, timestamps, errors, return value."""
    attempts = list(JobAttempt.objects.filter(job_id=job.pk).order_by("attempt"))
    worker_ids = [a.worker_id for a in attempts]
    if job.status == JobStatus.PROCESSING and job.locked_by:
        worker_ids.append(job.locked_by)
    status = _STATUS[JobStatus(job.status)]
    result: TaskResult = TaskResult(
        task=task or task_for_job(job),
        id=job.pk,
        status=status,
        enqueued_at=job.created_at,
        started_at=attempts[0].started_at if attempts else job.started_at,
        last_attempted_at=job.started_at,
        finished_at=job.completed_at if status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED) else None,
        args=job.payload.get("args", []),
        kwargs=job.payload.get("kwargs", {}),
        backend=job.payload.get("backend", "default"),
        errors=[_task_error(a) for a in attempts if a.outcome != AttemptOutcome.COMPLETED],
        worker_ids=worker_ids,
    )
    if status == TaskResultStatus.SUCCESSFUL:
        object.__setattr__(result, "_return_value", (job.result or {}).get("return_value"))
    return result


def _task_error(attempt: JobAttempt) -> TaskError:
    path = _ATTEMPT_EXCEPTION.get(attempt.outcome) or _exception_path(attempt)
    return TaskError(exception_class_path=path, traceback=attempt.traceback or attempt.error_message or "")


# The last line of a formatted traceback: "ValueError: msg" for builtins,
# "package.module.Error: msg" otherwise.
_EXCEPTION_LINE = re.compile(r"^(?P<path>[A-Za-z_][\w.]*)(?::|$)")


def _exception_path(attempt: JobAttempt) -> str:
    """The dotted path of the exception that ended the attempt, read from its traceback."""
    name = (attempt.error_message or "").split(":", 1)[0].strip()
    for line in reversed((attempt.traceback or "").splitlines()):
        match = _EXCEPTION_LINE.match(line)
        if match and match["path"].rsplit(".", 1)[-1] == name:
            path = match["path"]
            return path if "." in path else f"builtins.{path}"
    return f"builtins.{name}" if isinstance(getattr(builtins, name, None), type) else "builtins.Exception"
