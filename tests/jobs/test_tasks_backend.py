"""Django's Tasks API on our queue: `@task` … `.enqueue()` stores a job, a real
`runworker --burst` runs it, and `get_result` / `refresh()` report what happened."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, default_task_backend
from django_tasks.exceptions import InvalidTaskError, TaskResultDoesNotExist

from jobs.models import BackgroundJob, JobPriority, JobStatus
from jobs.services import job_enqueue
from tests import tasks_app, workers
from tests.workers import worker_env


def run_burst(tmp_path: Path) -> str:
    """Run one worker until nothing is due (retries immediately: base 0 s)."""
    return workers.run_burst("--concurrency", "2", env=worker_env(JOBS_RETRY_BASE_SECONDS="0"), log_dir=tmp_path)


# --- enqueue and get_result, without a worker ---------------------------------------------


def test_enqueue__stores_a_queued_background_job(db):
    result = tasks_app.add.enqueue(2, 3)

    assert result.status == TaskResultStatus.READY
    job = BackgroundJob.objects.get(pk=result.id)
    assert job.job_type == "django_task"
    assert job.status == JobStatus.QUEUED
    assert job.organization_id is None
    assert job.payload["task_path"] == "tests.tasks_app.add"
    assert job.payload["args"] == [2, 3]
    assert job.max_retries == 3
    fetched = default_task_backend.get_result(result.id)
    assert fetched.status == TaskResultStatus.READY
    assert fetched.task.func is tasks_app.add.func
    assert fetched.args == [2, 3]
    assert fetched.enqueued_at == job.created_at
    assert fetched.attempts == 0
    with pytest.raises(ValueError):
        fetched.return_value  # noqa: B018 -- not finished yet


@pytest.mark.parametrize(
    ("task_priority", "job_priority"),
    [(100, JobPriority.HIGH), (1, JobPriority.HIGH), (0, JobPriority.MEDIUM), (-1, JobPriority.LOW)],
)
def test_enqueue__task_priority_maps_to_job_priority(db, task_priority, job_priority):
    result = tasks_app.add.using(priority=task_priority).enqueue(1, 1)

    assert BackgroundJob.objects.get(pk=result.id).priority == job_priority
    assert tasks_app.add.get_result(result.id).task.priority == task_priority


def test_enqueue__run_after_becomes_the_jobs_run_at(db):
    later = timezone.now() + timedelta(hours=2)

    result = tasks_app.add.using(run_after=later).enqueue(1, 1)

    job = BackgroundJob.objects.get(pk=result.id)
    assert job.run_at == later
    assert tasks_app.add.get_result(result.id).task.run_after == later


def test_enqueue__unknown_queue_is_rejected(db):
    with pytest.raises(InvalidTaskError):
        tasks_app.add.using(queue_name="reports")


def test_enqueue__arguments_that_are_not_json_are_rejected(db):
    with pytest.raises(TypeError):
        tasks_app.add.enqueue(object(), 1)
    assert not BackgroundJob.objects.filter(job_type="django_task").exists()


def test_enqueue__inside_a_rolled_back_transaction_leaves_no_job(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        result = tasks_app.add.enqueue(1, 2)
        raise RuntimeError("request failed")
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(result.id)


def test_get_result__unknown_id_or_other_job_type_does_not_exist(db, org):
    other, _ = job_enqueue(organization=org, job_type="noop")

    for result_id in ("job_does_not_exist", other.id):
        with pytest.raises(TaskResultDoesNotExist):
            default_task_backend.get_result(result_id)


# --- the round trip through a real worker ---------------------------------------------------


def test_round_trip__runworker_runs_tasks_and_results_are_successful(transactional_db, tmp_path):
    added = tasks_app.add.enqueue(2, 3)
    greeted = tasks_app.greet.enqueue("Ada", punctuation="?")
    added_async = tasks_app.add_async.enqueue(20, 22)

    run_burst(tmp_path)

    added.refresh()
    assert added.status == TaskResultStatus.SUCCESSFUL
    assert added.return_value == 5
    assert added.errors == []
    assert added.attempts == 1
    assert added.started_at is not None and added.finished_at >= added.started_at
    greeted = tasks_app.greet.get_result(greeted.id)
    assert greeted.status == TaskResultStatus.SUCCESSFUL
    assert greeted.return_value == {"greeting": "Hello, Ada?", "tags": ["a", "b"]}
    assert tasks_app.add_async.get_result(added_async.id).return_value == 42
    # The same job an operator sees in the admin and the API.
    job = BackgroundJob.objects.get(pk=added.id)
    assert job.status == JobStatus.COMPLETED
    assert job.result == {"return_value": 5}


def test_round_trip__failing_task_is_retried_then_failed_with_its_errors(transactional_db, tmp_path):
    result = tasks_app.explode.enqueue("kaboom")

    run_burst(tmp_path)

    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 4  # the first attempt and MAX_RETRIES (3) retries
    assert len(result.errors) == 4
    error = result.errors[-1]
    assert error.exception_class is tasks_app.TaskExploded
    assert "kaboom" in error.traceback
    assert result.finished_at is not None
    with pytest.raises(ValueError):
        result.return_value  # noqa: B018 -- a failed task has none
    job = BackgroundJob.objects.get(pk=result.id)
    assert (job.status, job.retry_count) == (JobStatus.FAILED, 4)
    assert job.attempts.count() == 4


def test_round_trip__flaky_task_succeeds_on_retry_and_sees_its_attempt(transactional_db, tmp_path):
    result = tasks_app.flaky.enqueue(succeed_on_attempt=2)

    run_burst(tmp_path)

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 2
    assert [e.exception_class for e in result.errors] == [ConnectionError]
    assert result.attempts == 2
