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
import dataclasses
import json
import os
import re
from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import DEFAULT_TASK_QUEUE_NAME
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskError, TaskResult, TaskResultStatus
from django_tasks.exceptions import TaskResultDoesNotExist
from django_tasks.signals import task_enqueued
from django_tasks.utils import normalize_json
from typing_extensions import ParamSpec

from hcm.logging import current_request_id
from jobs.models import (
    DEFAULT_MAX_RETRIES,
    AttemptOutcome,
    BackgroundJob,
    JobAttempt,
    JobStatus,
    JobTrigger,
    new_job_ids,
)
from jobs.services import _row, _shared_values, _validated
from jobs.task_buffer import JobRows

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
        self.max_retries = int(self.options.get("MAX_RETRIES", DEFAULT_MAX_RETRIES))
        # Each task already validated, with its rows' template: enqueueing the same task
        # again (a loop of .enqueue() calls) repeats neither. By id: hashing a Task costs
        # more; the task is held beside it, so its id stays its own.
        self._task_rows: dict[int, tuple[Task, TaskJobRows]] = {}
        self._job_rows_by_task: dict[tuple, TaskJobRows] = {}

    def enqueue(self, task: Task[P, T], args: P.args, kwargs: P.kwargs) -> TaskResult[T]:  # type: ignore[valid-type]
        conn = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` is a thread-local lookup
        known = self._task_rows.get(id(task))
        if known is not None and known[0] is task and known[1].vendor == conn.vendor:
            rows = known[1]
        else:
            rows = self._job_rows(task, conn)
        if args or kwargs:
            # What TaskResult does to them (TypeError or ValueError if JSON cannot hold them).
            args, kwargs = normalize_json(args), normalize_json(kwargs)
            payload = rows.payload(args, kwargs)
        else:
            args, kwargs, payload = [], {}, rows.no_arguments_payload
        job_id, now = _new_job_id(), timezone.now()
        rows.enqueue(conn, job_id=job_id, now=now, run_after=task.run_after, payload=payload)
        # A new job: no attempt, nothing to read back (task_result_from_job would query).
        result: TaskResult[T] = _ready_result(task, job_id, now, args, kwargs, self.alias)
        task_enqueued.send(type(self), task_result=result)
        return result

    def _job_rows(self, task: Task, conn: BaseDatabaseWrapper) -> "TaskJobRows":
        """What every job of this task (its queue and priority) shares, validated once."""
        self.validate_task(task)
        key = (task.func, task.queue_name, task.priority, conn.vendor)
        rows = self._job_rows_by_task.get(key)
        if rows is None:
            rows = TaskJobRows(task, backend=self, vendor=conn.vendor)
            self._job_rows_by_task = _remember(self._job_rows_by_task, key, rows)
        self._task_rows = _remember(self._task_rows, id(task), (task, rows))
        return rows

    def get_result(self, result_id: str) -> TaskResult:
        job = BackgroundJob.objects.filter(pk=result_id, job_type=JOB_TYPE).first()
        if job is None:
            raise TaskResultDoesNotExist(result_id)
        return task_result_from_job(job)


_set = object.__setattr__
_READY_RESULT_FIELDS = {"task", "id", "status", "enqueued_at", "started_at", "finished_at", "last_attempted_at", "args"}
_READY_RESULT_FIELDS |= {"kwargs", "backend", "errors", "worker_ids", "_return_value"}
if {f.name for f in dataclasses.fields(TaskResult)} != _READY_RESULT_FIELDS:  # django-tasks changed it
    raise ImportError("jobs.tasks_backend._ready_result does not set TaskResult's fields as they are now.")


def _ready_result(task: Task, job_id: str, now: datetime, args: list, kwargs: dict, backend: str) -> TaskResult:
    """TaskResult(task=task, id=job_id, status=READY, enqueued_at=now, args=args, …) for
    arguments already normalised: its __init__ would normalise them again (3 of the ~13 µs
    a call cost). Every field is set, as __init__ sets them (tests compare the two)."""
    result = object.__new__(TaskResult)
    _set(result, "task", task)
    _set(result, "id", job_id)
    _set(result, "status", TaskResultStatus.READY)
    _set(result, "enqueued_at", now)
    _set(result, "started_at", None)
    _set(result, "finished_at", None)
    _set(result, "last_attempted_at", None)
    _set(result, "args", args)
    _set(result, "kwargs", kwargs)
    _set(result, "backend", backend)
    _set(result, "errors", [])
    _set(result, "worker_ids", [])
    _set(result, "_return_value", None)
    return result


class TaskJobRows(JobRows):
    """The background_jobs rows of one task (its queue and priority): checked by the job
    type's payload rules once (jobs.services), then each enqueue sets only what differs
    per call: id, payload (its arguments), times, the request id."""

    def __init__(self, task: Task, *, backend: BackgroundJobBackend, vendor: str) -> None:
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
        db = connections[DEFAULT_DB_ALIAS]
        now = timezone.now()
        shared = _shared_values(
            now=now,
            db=db,
            organization_id=None,
            job_type=JOB_TYPE,
            priority=priority_value,
            max_retries=backend.max_retries,
            run_at=now,
            trigger=JobTrigger.SYSTEM,
            created_by=CREATED_BY,
            queue_name=task.queue_name,
        )
        super().__init__(
            _row(shared, job_id="", payload={}, db=db),
            _VARYING,
            vendor=vendor,
            job_type=JOB_TYPE,
            created_by=CREATED_BY,
        )
        self.vendor = vendor
        self.postgres = vendor == "postgresql"
        # The payload's JSON text around the arguments, made once: per call only they are encoded.
        rest = {k: v for k, v in payload.items() if k not in ("task_path", "args", "kwargs")}
        self.json_head = json.dumps({"task_path": payload["task_path"]})[:-1] + ', "args": '
        self.json_mid = ', "kwargs": '
        self.json_tail = ", " + json.dumps(rest)[1:]
        self.no_arguments_payload = self.payload([], {})

    def payload(self, args: list, kwargs: dict) -> str:
        """The payload's JSON text, as JSONField stores it (ValueError if it cannot be)."""
        payload = self.json_head + _to_json(args) + self.json_mid + _to_json(kwargs) + self.json_tail
        if self.postgres and "\\u0000" in payload and _NUL.search(payload):
            raise ValueError("PostgreSQL cannot store U+0000 in a task's arguments.")
        return payload

    def enqueue(
        self, conn: BaseDatabaseWrapper, *, job_id: str, now: datetime, run_after: datetime | None, payload: str
    ) -> None:
        stored_now = now if self.postgres else _sqlite_datetime(now, conn)
        run_at = stored_now if run_after is None else conn.ops.adapt_datetimefield_value(run_after)
        self.add(conn, (job_id, payload, stored_now, stored_now, run_at, current_request_id()))


def _new_job_id() -> str:
    """jobs.models.new_job_id(), taken from ids made _IDS_AT_ONCE at a time: one read of the
    system's random source for many, not one each (a fifth of new_job_id's cost)."""
    try:
        return _ids.pop()
    except IndexError:
        _ids.extend(new_job_ids(_IDS_AT_ONCE))
        return _ids.pop()


_IDS_AT_ONCE = 256
_ids: list[str] = []  # list.pop and extend are atomic: threads take distinct ids
# A forked process draws its own: it must not hand out its parent's ids again.
os.register_at_fork(after_in_child=_ids.clear)

# The columns TaskJobRows.enqueue sets, in its order.
_VARYING = ("id", "payload", "created_at", "updated_at", "run_at", "request_id")

# JSON text as JSONField stores it; ValueError for NaN and infinities (not JSON) now,
# not when the row is written.
_to_json = json.JSONEncoder(allow_nan=False).encode


def _sqlite_datetime(value: datetime, conn: BaseDatabaseWrapper) -> str:
    """conn.ops.adapt_datetimefield_value(value) on SQLite, for the current time (aware
    with USE_TZ): the same text, "YYYY-MM-DD HH:MM:SS[.ffffff]" in the connection's time
    zone. In UTC (the default), the text up to the second is made once a second."""
    global _second
    if value.tzinfo is None:
        return str(value)
    if value.tzinfo is not conn.timezone:
        return str(value.astimezone(conn.timezone).replace(tzinfo=None))
    second, text = _second
    if second != (now_second := int(value.timestamp())):
        second, text = _second = (now_second, str(value.replace(tzinfo=None, microsecond=0)))
    micro = value.microsecond
    return f"{text}.{micro:06d}" if micro else text


_second: tuple[int, str] = (-1, "")  # (a Unix second, its text): one tuple, swapped whole


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
