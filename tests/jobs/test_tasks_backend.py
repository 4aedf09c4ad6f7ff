"""Django's Tasks API on our queue: `@task` … `.enqueue()` stores a job, a real
`runworker --burst` runs it, and `get_result` / `refresh()` report what happened."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
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


def test_enqueue__returns_the_task_result_its_constructor_would_make(db):
    from django_tasks import TaskResult

    cases = [(tasks_app.noop, (), {}), (tasks_app.add, (2, 3), {}), (tasks_app.greet, ("Ada",), {"punctuation": b"?"})]
    for task, args, kwargs in cases:
        result = task.enqueue(*args, **kwargs)

        # Built field by field (jobs.tasks_backend._ready_result): equal to TaskResult(...).
        assert result == TaskResult(
            task=task,
            id=result.id,
            status=TaskResultStatus.READY,
            enqueued_at=result.enqueued_at,
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=args,
            kwargs=kwargs,
            backend="default",
            errors=[],
            worker_ids=[],
        )
        payload = BackgroundJob.objects.get(pk=result.id).payload
        assert (payload["args"], payload["kwargs"]) == (result.args, result.kwargs)
    assert result.kwargs == {"punctuation": "?"}  # normalised as TaskResult does: bytes → str
    assert result.enqueued_at == BackgroundJob.objects.get(pk=result.id).created_at


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


# --- many enqueues in one transaction: written together (jobs/task_buffer.py) --------------


def _task_jobs() -> int:
    return BackgroundJob.objects.filter(job_type="django_task").count()


def test_outside_a_transaction__each_enqueue_is_written_and_committed_at_once(transactional_db):
    result = tasks_app.add.enqueue(1, 2)

    assert connection.pending_writes == [] and connection.execute_wrappers == []  # nothing waits
    other = connection.copy()  # another connection sees it: committed
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT payload FROM background_jobs WHERE id = %s", [result.id])
            assert cursor.fetchone() is not None
    finally:
        other.close()


def test_in_transaction__jobs_are_visible_to_the_transactions_own_queries(transactional_db):
    with transaction.atomic():
        results = [tasks_app.add.enqueue(i, 1) for i in range(50)]
        # Read-your-writes: a query in the same transaction sees every job, under its id.
        inside = set(BackgroundJob.objects.filter(job_type="django_task").values_list("id", flat=True))
        assert inside == {r.id for r in results}
        assert default_task_backend.get_result(results[7].id).args == [7, 1]
        more = [tasks_app.greet.enqueue("Ada") for _ in range(3)]

    jobs = {j.id: j for j in BackgroundJob.objects.filter(job_type="django_task")}
    assert set(jobs) == {r.id for r in results + more}
    assert [jobs[r.id].payload["args"] for r in results] == [[i, 1] for i in range(50)]
    assert {jobs[r.id].priority for r in more} == {JobPriority.HIGH}  # greet's priority 10
    fetched = tasks_app.add.get_result(results[-1].id)
    assert (fetched.status, fetched.args, fetched.enqueued_at) == (
        TaskResultStatus.READY,
        [49, 1],
        results[-1].enqueued_at,
    )


def test_in_transaction__a_rollback_after_the_jobs_were_written_leaves_none(transactional_db):
    with pytest.raises(RuntimeError), transaction.atomic():
        results = [tasks_app.add.enqueue(i, 1) for i in range(20)]
        assert _task_jobs() == 20  # written (the query came first)
        [tasks_app.add.enqueue(i, 2) for i in range(5)]  # and these not yet
        raise RuntimeError("request failed")

    with transaction.atomic():  # the next transaction writes nothing left over
        assert _task_jobs() == 0
    assert _task_jobs() == 0
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(results[0].id)


def test_in_transaction__a_savepoint_rollback_drops_only_the_tasks_enqueued_after_it(transactional_db):
    with transaction.atomic():
        before = tasks_app.add.enqueue(1, 1)  # waiting when the savepoint is made
        with pytest.raises(RuntimeError), transaction.atomic():
            inner = [tasks_app.add.enqueue(2, i) for i in range(3)]
            raise RuntimeError("inner step failed")
        kept = tasks_app.add.enqueue(3, 3)
        sid = transaction.savepoint()
        dropped = tasks_app.add.enqueue(4, 4)
        BackgroundJob.objects.exists()  # written, then rolled back with the savepoint
        transaction.savepoint_rollback(sid)
        inner_kept = [tasks_app.add.enqueue(5, i) for i in range(2)]
        with transaction.atomic():  # a savepoint released: its tasks stay
            released = tasks_app.add.enqueue(6, 6)

    ids = set(BackgroundJob.objects.filter(job_type="django_task").values_list("id", flat=True))
    assert ids == {before.id, kept.id, released.id, *(r.id for r in inner_kept)}
    assert not ids & {dropped.id, *(r.id for r in inner)}


def test_in_transaction__another_execute_wrapper_is_left_as_it_was(transactional_db):
    seen: list[str] = []

    def spy(execute, sql, params, many, context):
        seen.append(sql.split()[0])
        return execute(sql, params, many, context)

    with transaction.atomic():
        with connection.execute_wrapper(spy):
            first = tasks_app.add.enqueue(1, 1)
        # Its `with` popped its own wrapper, not the one holding the rows back.
        assert spy not in connection.execute_wrappers
        second = tasks_app.add.enqueue(2, 2)

    assert set(BackgroundJob.objects.values_list("id", flat=True)) == {first.id, second.id}
    assert seen == []  # the rows were written after its block, not under it
    assert connection.execute_wrappers == []


def test_in_transaction__a_thousand_enqueues_are_written_together(transactional_db):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        results = [tasks_app.add.enqueue(i, i) for i in range(1000)]

    writes = [q["sql"] for q in queries.captured_queries if "background_jobs" in q["sql"]]
    # One COPY (PostgreSQL), or two 500-row INSERTs (SQLite).
    assert len(writes) == (1 if connection.vendor == "postgresql" else 2)
    assert len(queries.captured_queries) <= 4  # BEGIN/SAVEPOINT bookkeeping aside
    assert BackgroundJob.objects.filter(pk__in=[r.id for r in results]).count() == 1000


@pytest.mark.parametrize("sqlite_parameters", [None, 100])
def test_in_transaction__rows_written_together_hold_what_a_single_write_holds(transactional_db, sqlite_parameters):
    # SQLite binds the columns the rows share once per statement, the rest per row; with
    # fewer parameters allowed per statement (older SQLite: 999) each holds fewer rows.
    if sqlite_parameters is not None and connection.vendor != "sqlite":
        pytest.skip("SQLite's limit on a statement's parameters")
    single = tasks_app.add.enqueue(0, 0)
    with _sqlite_parameters_at_most(sqlite_parameters), transaction.atomic():
        results = [tasks_app.add.enqueue(i, -i) for i in range(1010)]  # 500-row statements and a rest

    varying = {"id", "payload", "created_at", "updated_at", "run_at", "available_at"}
    rows = {row["id"]: row for row in BackgroundJob.objects.values()}
    expected = {k: v for k, v in rows[single.id].items() if k not in varying}
    for i, result in enumerate(results):
        row = rows[result.id]
        assert {k: v for k, v in row.items() if k not in varying} == expected
        assert row["payload"] == {**rows[single.id]["payload"], "args": [i, -i]}
        assert row["created_at"] == row["updated_at"] == row["run_at"] == row["available_at"] == result.enqueued_at


@contextmanager
def _sqlite_parameters_at_most(limit: int | None) -> Iterator[None]:
    if limit is None:
        yield
        return
    import sqlite3

    connection.ensure_connection()
    was = connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
    try:
        yield
    finally:
        connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, was)


def test_in_transaction__arguments_json_cannot_carry_are_rejected_at_the_call(transactional_db):
    with transaction.atomic():
        with pytest.raises(TypeError):
            tasks_app.add.enqueue(object(), 1)
        with pytest.raises(ValueError):
            tasks_app.add.enqueue(float("nan"), 1)
        ok = tasks_app.add.enqueue(1, 1)

    assert list(BackgroundJob.objects.values_list("id", flat=True)) == [ok.id]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's")
def test_in_transaction__a_listening_worker_is_woken_at_commit_not_before(transactional_db):
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"], autocommit=True
    ) as listener:
        listener.execute("LISTEN hcm_jobs")
        with transaction.atomic():
            [tasks_app.add.enqueue(i, 1) for i in range(10)]
            assert _task_jobs() == 10  # written
            assert list(listener.notifies(timeout=0.2, stop_after=1)) == []  # not before the commit
        notified = list(listener.notifies(timeout=5, stop_after=1))

    assert [n.channel for n in notified] == ["hcm_jobs"]


def test_in_transaction__runworker_runs_every_task_once_committed(transactional_db, tmp_path):
    with transaction.atomic():
        results = [tasks_app.add.enqueue(i, 100) for i in range(30)]

    run_burst(tmp_path)

    for i, result in enumerate(results):
        result.refresh()
        assert (result.status, result.return_value, result.attempts) == (TaskResultStatus.SUCCESSFUL, i + 100, 1)


# --- the enqueue's shortcuts give what Django's own conversions give -------------------------


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's datetime text")
def test_sqlite_datetime_text_is_what_djangos_sqlite_adapter_stores(db):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from jobs.tasks_backend import _sqlite_datetime

    values = [
        datetime(2026, 11, 26, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 11, 27, 0, 0, 0, 0, tzinfo=UTC),  # no fraction: none in the text either
        datetime(2026, 11, 27, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 11, 27, 0, 0, 0, 1, tzinfo=UTC),  # the same second again: its text reused
        datetime(2026, 11, 27, 1, 30, 0, 5, tzinfo=ZoneInfo("Europe/Paris")),
        timezone.now(),
    ]
    for value in values:
        assert _sqlite_datetime(value, connection) == connection.ops.adapt_datetimefield_value(value)


def test_job_ids_are_distinct_and_shaped_as_new_job_ids(db):
    import re

    ids = [tasks_app.noop.enqueue().id for _ in range(600)]  # across a few batches of ids

    assert len(set(ids)) == 600
    assert all(re.fullmatch(r"job_[0-9a-f]{16}", job_id) for job_id in ids)
