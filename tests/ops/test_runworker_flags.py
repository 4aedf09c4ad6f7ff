"""runworker's operator flags, each with real worker processes on the test database:
--queues, --job-types, -v, --max-jobs, --max-memory, --worker-id, and the limit on
threads abandoned by handlers that ignore their timeout."""

import pytest
from django.test import override_settings

from jobs.models import BackgroundJob, JobAttempt, JobStatus, WorkerHeartbeat
from jobs.worker import EXIT_ABANDONED_THREADS
from tests.ops.conftest import enqueue
from tests.workers import run_burst, wait_until, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ENV = {"JOBS_HANDLER_MODULES": "tests.job_types", "LOG_DIR": "-"}


def statuses(jobs: list[BackgroundJob]) -> list[str]:
    by_id = dict(BackgroundJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("pk", "status"))
    return [by_id[j.pk] for j in jobs]


def test_queues__takes_only_jobs_of_those_queues(job_types, tmp_path):
    ran = str(tmp_path / "ran.log")
    reports = [enqueue("test_record", path=ran, queue_name="reports") for _ in range(2)]
    default = [enqueue("test_record", path=ran) for _ in range(2)]

    run_burst("--queues", "reports", env=worker_env(JOBS_TASKS_QUEUES="default,reports", **ENV), log_dir=tmp_path)

    assert statuses(reports) == ["completed"] * 2
    assert statuses(default) == ["queued"] * 2


def test_queues__tasks_api_routes_queue_name_to_the_worker_of_that_queue(job_types, tmp_path):
    from tests.tasks_app import add

    with override_settings(
        TASKS={"default": {"BACKEND": "jobs.tasks_backend.BackgroundJobBackend", "QUEUES": ["default", "emails"]}}
    ):
        on_emails = add.using(queue_name="emails").enqueue(1, 2)
        on_default = add.enqueue(3, 4)
    assert BackgroundJob.objects.get(pk=on_emails.id).queue_name == "emails"

    run_burst("--queues", "emails", env=worker_env(JOBS_TASKS_QUEUES="default,emails", **ENV), log_dir=tmp_path)

    assert BackgroundJob.objects.get(pk=on_emails.id).status == "completed"
    assert BackgroundJob.objects.get(pk=on_default.id).status == "queued"


def test_queues__unknown_queue_is_refused_naming_the_known_ones(workers):
    worker = workers("--queues", "nope")

    assert worker.wait() != 0
    assert "Unknown queue(s): nope" in worker.output() and "default" in worker.output()


def test_job_types__takes_only_those_types(job_types, tmp_path):
    ran = str(tmp_path / "ran.log")
    records = [enqueue("test_record", path=ran) for _ in range(2)]
    sleeps = [enqueue("test_sleep", seconds=0) for _ in range(2)]

    run_burst("--job-types", "test_record", env=worker_env(**ENV), log_dir=tmp_path)

    assert statuses(records) == ["completed"] * 2
    assert statuses(sleeps) == ["queued"] * 2


@pytest.mark.parametrize(
    ("verbosity", "log_level", "transitions_logged"),
    [("0", "INFO", False), ("1", "WARNING", True), (None, "WARNING", False), (None, "INFO", True)],
)
def test_verbosity__sets_the_log_level_over_LOG_LEVEL(job_types, tmp_path, verbosity, log_level, transitions_logged):
    job = enqueue("test_record", path=str(tmp_path / "ran.log"))
    args = ["-v", verbosity] if verbosity else []

    output = run_burst(*args, env=worker_env(LOG_LEVEL=log_level, **ENV), log_dir=tmp_path)

    assert statuses([job]) == ["completed"]
    assert ("job completed" in output) is transitions_logged


def test_max_jobs__finishes_n_jobs_then_exits_0_leaving_the_rest_untouched(workers, tmp_path):
    jobs = [enqueue("test_sleep", seconds=0.3) for _ in range(6)]
    worker = workers("--max-jobs", "3", "--concurrency", "2", **ENV)

    assert worker.wait() == 0, worker.output()

    assert sorted(statuses(jobs)) == ["completed"] * 3 + ["queued"] * 3
    untouched = BackgroundJob.objects.filter(pk__in=[j.pk for j in jobs], status=JobStatus.QUEUED)
    assert set(untouched.values_list("attempt", "retry_count")) == {(0, 0)}
    assert set(JobAttempt.objects.values_list("outcome", flat=True)) == {"completed"}
    assert "--max-jobs 3 reached" in worker.output()


def test_max_jobs__the_job_in_hand_runs_to_its_end(workers, tmp_path):
    job = enqueue("test_sleep", seconds=1.5)
    worker = workers("--max-jobs", "1", **ENV)

    assert worker.wait() == 0, worker.output()

    assert statuses([job]) == ["completed"]


def test_max_memory__past_the_limit_exits_0_handing_back_nothing(workers, tmp_path):
    job = enqueue("test_sleep", seconds=0)
    # 1 MiB: any Python process is past it at its first check.
    worker = workers("--max-memory", "1", **ENV)

    assert worker.wait() == 0, worker.output()

    assert "--max-memory 1 MiB exceeded" in worker.output()
    job.refresh_from_db()
    assert (job.status, job.attempt, job.retry_count) == ("queued", 0, 0)


def test_worker_id__names_its_heartbeat_attempts_and_log_lines(job_types, tmp_path):
    job = enqueue("test_record", path=str(tmp_path / "ran.log"))

    output = run_burst("--worker-id", "billing-1", env=worker_env(**ENV), log_dir=tmp_path)

    assert WorkerHeartbeat.objects.filter(worker_id="billing-1").exists()
    assert list(JobAttempt.objects.filter(job=job).values_list("worker_id", flat=True)) == ["billing-1"]
    assert 'worker="billing-1"' in output


def test_abandoned_threads__past_the_limit_the_worker_stops_claiming_and_exits_for_a_restart(workers, tmp_path):
    # test_stubborn ignores its 0.5 s timeout and sleeps on: its thread is abandoned.
    stuck = enqueue("test_stubborn", seconds=30, max_retries=0)
    later = [enqueue("test_sleep", seconds=0) for _ in range(3)]
    worker = workers("--concurrency", "1", "--max-abandoned-threads", "0", "--prefetch", "0", **ENV)

    assert worker.wait(timeout=30) == EXIT_ABANDONED_THREADS, worker.output()

    stuck.refresh_from_db()
    assert stuck.status == "failed"
    assert list(JobAttempt.objects.filter(job=stuck).values_list("outcome", flat=True)) == ["timeout"]
    assert statuses(later) == ["queued"] * 3  # not claimed (or handed back unstarted)
    assert BackgroundJob.objects.filter(pk__in=[j.pk for j in later], attempt=0).count() == 3
    assert "ignored their timeout" in worker.output()
    heartbeat = WorkerHeartbeat.objects.get()
    assert heartbeat.stopped_at is not None


def test_abandoned_threads__within_the_limit_the_worker_carries_on(workers, tmp_path):
    stuck = enqueue("test_stubborn", seconds=5, max_retries=0)
    worker = workers("--concurrency", "1", "--max-abandoned-threads", "1", **ENV).wait_started()
    later = enqueue("test_sleep", seconds=0)

    assert wait_until(lambda: statuses([stuck, later]) == ["failed", "completed"], 20), worker.output()
    assert worker.proc.poll() is None
