"""A backend for Django's Tasks framework (the django-tasks backport) on our job queue.

    TASKS = {"default": {"BACKEND": "jobs.tasks_backend.BackgroundJobBackend"}}

`my_task.enqueue(...)` stores a BackgroundJob of type `django_task` whose payload names
the task and holds its arguments; `runworker` runs it (jobs/handlers/django_task.py) with
the same leases, retries and admin as every other job, and `get_result(id)` reads the job
back as a TaskResult. The result id is the job id. Inside a transaction the jobs of many
`.enqueue()` calls are written together, before anything else runs on the connection and
before the commit (jobs/task_buffer.py); outside one, each is written at once.

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
import json
import re
from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import DEFAULT_TASK_QUEUE_NAME
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskError, TaskResult, TaskResultStatus
from django_tasks.exceptions import TaskResultDoesNotExist
from django_tasks.signals import task_enqueued
from typing_extensions import ParamSpec

from hcm.logging import current_request_id
from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt, JobStatus, JobTrigger, new_job_id
from jobs.services import _columns, _row, _shared_values, _validated
from jobs.task_buffer import enqueue_job_row

T = TypeVar("T")
P = ParamSpec("P")

JOB_TYPE = "django_task"
CREATED_BY = "tasks_api"

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
        # Tasks already validated, and each task's row template: enqueueing the same task
        # again (a loop of .enqueue() calls) repeats neither.
        self._valid_tasks: dict[int, Task] = {}
        self._job_rows_by_task: dict[tuple, TaskJobRows] = {}

    def enqueue(self, task: Task[P, T], args: P.args, kwargs: P.kwargs) -> TaskResult[T]:  # type: ignore[valid-type]
        if self._valid_tasks.get(id(task)) is not task:  # by identity: hashing a Task costs more
            self.validate_task(task)
            self._valid_tasks = _remember(self._valid_tasks, id(task), task)  # held: its id stays its own
        job_id, now = new_job_id(), timezone.now()
        # A new job: no attempt, nothing to read back (task_result_from_job would query).
        # TaskResult turns args and kwargs into JSON types (TypeError if they cannot be);
        # the job stores them as it holds them.
        result: TaskResult[T] = TaskResult(
            task=task,
            id=job_id,
            status=TaskResultStatus.READY,
            enqueued_at=now,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,  # type: ignore[arg-type]  # a tuple, made a list by TaskResult
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        conn = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` is a thread-local lookup
        self._job_rows(task, conn).enqueue(
            conn, job_id=job_id, now=now, run_after=task.run_after, args=result.args, kwargs=result.kwargs
        )
        task_enqueued.send(type(self), task_result=result)
        return result

    def _job_rows(self, task: Task, conn: BaseDatabaseWrapper) -> "TaskJobRows":
        """What every job of this task (its queue and priority) shares, validated once."""
        key = (task.func, task.queue_name, task.priority, conn.vendor)
        rows = self._job_rows_by_task.get(key)
        if rows is None:
            rows = TaskJobRows(task, backend=self)
            self._job_rows_by_task = _remember(self._job_rows_by_task, key, rows)
        return rows

    def get_result(self, result_id: str) -> TaskResult:
        job = BackgroundJob.objects.filter(pk=result_id, job_type=JOB_TYPE).first()
        if job is None:
            raise TaskResultDoesNotExist(result_id)
        return task_result_from_job(job)


class TaskJobRows:
    """The background_jobs rows of one task (its queue and priority): checked by the job
    type's payload rules once (jobs.services), then each enqueue sets only what differs
    per call: id, arguments, times, the request id."""

    def __init__(self, task: Task, *, backend: BackgroundJobBackend) -> None:
        priority_value, (payload,) = _validated(
            organization=None,
            job_type=JOB_TYPE,
            priority=job_priority_for(task.priority),
            max_retries=backend.max_retries,
            payloads=[
                {
                    "task_path": task.module_path,
                    "args": [],
                    "kwargs": {},
                    "backend": backend.alias,
                    "queue_name": task.queue_name,
                    "priority": task.priority,
                }
            ],
            payload_field=lambda _: "payload",
        )
        now = timezone.now()
        shared = _shared_values(
            now=now,
            organization_id=None,
            job_type=JOB_TYPE,
            priority=priority_value,
            max_retries=backend.max_retries,
            run_at=now,
            trigger=JobTrigger.SYSTEM,
            created_by=CREATED_BY,
            queue_name=task.queue_name,
        )
        self.template = _row(shared, job_id="", payload={})
        columns, _ = _columns(connection.vendor)
        self.id_at, self.payload_at, self.run_at_at, self.created_at_at, self.updated_at_at, self.request_id_at = (
            columns.index(name) for name in ("id", "payload", "run_at", "created_at", "updated_at", "request_id")
        )
        # The payload's JSON text around the arguments, made once: per call only they are encoded.
        rest = {k: v for k, v in payload.items() if k not in ("task_path", "args", "kwargs")}
        self.json_head = json.dumps({"task_path": payload["task_path"]})[:-1] + ', "args": '
        self.json_mid = ', "kwargs": '
        self.json_tail = ", " + json.dumps(rest)[1:]
        self.postgres = connection.vendor == "postgresql"

    def enqueue(
        self,
        conn: BaseDatabaseWrapper,
        *,
        job_id: str,
        now: datetime,
        run_after: datetime | None,
        args: list,
        kwargs: dict,
    ) -> None:
        payload = self.json_head + _to_json(args) + self.json_mid + _to_json(kwargs) + self.json_tail
        if self.postgres and "\\u0000" in payload and _NUL.search(payload):
            raise ValueError("PostgreSQL cannot store U+0000 in a task's arguments.")
        stored_now = now if self.postgres else _sqlite_datetime(now, conn)
        row = self.template.copy()
        row[self.id_at] = job_id
        row[self.payload_at] = payload
        row[self.created_at_at] = row[self.updated_at_at] = stored_now
        row[self.run_at_at] = stored_now if run_after is None else conn.ops.adapt_datetimefield_value(run_after)
        row[self.request_id_at] = current_request_id()
        enqueue_job_row(conn, row, job_type=JOB_TYPE, created_by=CREATED_BY)


# JSON text as JSONField stores it; ValueError for NaN and infinities (not JSON) now,
# not when the row is written.
_to_json = json.JSONEncoder(allow_nan=False).encode


def _sqlite_datetime(value: datetime, conn: BaseDatabaseWrapper) -> str:
    """conn.ops.adapt_datetimefield_value(value) on SQLite, for the current time (aware
    with USE_TZ): the same text, at a fifth of its cost."""
    if value.tzinfo is None:
        return str(value)
    return str(value.astimezone(conn.timezone).replace(tzinfo=None))


# An escaped NUL in JSON text (not an escaped backslash followed by "u0000").
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_REMEMBERED_MAX = 1000


def _remember(cache: dict, key: Any, value: Any = None) -> dict:
    """cache with key added; emptied first when full (tasks made with varying run_after)."""
    if len(cache) >= _REMEMBERED_MAX:
        cache = {}
    cache[key] = value
    return cache


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
