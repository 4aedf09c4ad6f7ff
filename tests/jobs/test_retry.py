"""The retry schedule: RetryPolicy's table, then a real worker following it."""

import signal
from datetime import UTC, datetime, timedelta

import pytest

from jobs.models import BackgroundJob, JobAttempt, JobStatus
from jobs.retry import RetryPolicy
from jobs.services import job_enqueue
from tests.workers import start_worker, wait_until, worker_env

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


# --- the policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "retry_count, max_retries, retry_count_after, retry_in",
    [
        (0, 3, 1, timedelta(minutes=2)),
        (1, 3, 2, timedelta(minutes=4)),
        (2, 3, 3, timedelta(minutes=8)),
        (3, 3, 4, None),  # out of retries: failed
        (0, 0, 1, None),  # max_retries 0: the first failure is final
        (4, 10, 5, timedelta(minutes=32)),
    ],
)
def test_policy__seed_schedule_2_4_8_minutes_then_failed(retry_count, max_retries, retry_count_after, retry_in):
    decision = RetryPolicy(base_seconds=120).after_failure(retry_count=retry_count, max_retries=max_retries, now=NOW)

    assert decision.retry_count == retry_count_after
    assert decision.gives_up is (retry_in is None)
    assert decision.retry_at == (None if retry_in is None else NOW + retry_in)


@pytest.mark.parametrize(
    "kwargs, retry_at",
    [
        ({"permanent": True}, None),
        ({"delay_seconds": 30}, NOW + timedelta(seconds=30)),  # the handler's RetryJobAfter wins
        ({"immediate": True}, NOW),  # a lost worker's job is queued again at once
    ],
    ids=["permanent", "retry_after", "immediate"],
)
def test_policy__handler_and_worker_overrides(kwargs, retry_at):
    decision = RetryPolicy(base_seconds=120).after_failure(retry_count=0, max_retries=3, now=NOW, **kwargs)

    assert (decision.retry_count, decision.retry_at) == (1, retry_at)


def test_policy__base_comes_from_settings(settings):
    settings.JOBS_RETRY_BASE_SECONDS = 7.5

    assert RetryPolicy.from_settings().delay(3) == timedelta(seconds=30)


def test_policy__retry_job_after_is_still_bounded_by_max_retries():
    decision = RetryPolicy(base_seconds=120).after_failure(retry_count=3, max_retries=3, now=NOW, delay_seconds=5)

    assert decision.gives_up


# --- a real worker ---------------------------------------------------------------------------


def enqueue(max_retries: int = 3, **payload) -> BackgroundJob:
    job, _ = job_enqueue(organization=None, job_type="test_fail", payload=payload, max_retries=max_retries)
    return job


def attempts_of(job: BackgroundJob) -> list[JobAttempt]:
    return list(JobAttempt.objects.filter(job=job).order_by("attempt"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker__follows_the_schedule_then_fails_with_the_last_error(job_types, tmp_path):
    base = 0.5
    flaky = enqueue(times=1)  # fails once, then succeeds
    doomed = enqueue(times=99, max_retries=2)  # 3 failed attempts: failed
    permanent = enqueue(times=99, permanent=True)
    later = enqueue(times=99, retry_after=600)
    env = worker_env(
        JOBS_HANDLER_MODULES="tests.job_types", JOBS_RETRY_BASE_SECONDS=str(base), LOG_DIR=str(tmp_path / "logs")
    )
    worker = start_worker("--concurrency", "4", "--poll-interval", "0.05", env=env, log_path=tmp_path / "worker.log")
    try:
        # Watch `doomed` between attempts: retry_count and next_retry_at move together.
        seen = []

        def record_progress() -> bool:
            job = BackgroundJob.objects.get(pk=doomed.pk)
            if job.status == JobStatus.QUEUED and job.retry_count and (job.retry_count, job.next_retry_at) not in seen:
                seen.append((job.retry_count, job.next_retry_at))
            return job.status == JobStatus.FAILED

        assert wait_until(record_progress, 30, interval=0.02), (tmp_path / "worker.log").read_text()
        assert wait_until(lambda: BackgroundJob.objects.get(pk=flaky.pk).status == JobStatus.COMPLETED, 20)
        assert wait_until(lambda: BackgroundJob.objects.get(pk=later.pk).retry_count == 1, 20)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    # doomed: failed after 1 + max_retries attempts, each retry no sooner than base × 2^(n−1).
    doomed.refresh_from_db()
    assert (doomed.status, doomed.retry_count, doomed.next_retry_at) == ("failed", 3, None)
    assert doomed.error_message == "RuntimeError: planned failure on attempt 3"
    assert doomed.completed_at is not None
    runs = attempts_of(doomed)
    assert [(a.attempt, a.outcome) for a in runs] == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert "RuntimeError: planned failure on attempt 1" in runs[0].traceback
    for n, (previous, following) in enumerate(zip(runs, runs[1:], strict=False), start=1):
        assert following.started_at - previous.finished_at >= timedelta(seconds=base * 2 ** (n - 1))
    # Seen in between: retry_count 1 then 2, each with its next_retry_at.
    assert [count for count, _ in seen] == [1, 2]
    for (count, retry_at), run in zip(seen, runs, strict=False):
        assert retry_at - run.finished_at >= timedelta(seconds=base * 2 ** (count - 1))

    flaky.refresh_from_db()
    assert (flaky.status, flaky.retry_count, flaky.error_message) == ("completed", 1, None)
    assert flaky.result == {"succeeded_on_attempt": 2}
    assert [(a.attempt, a.outcome) for a in attempts_of(flaky)] == [(1, "failed"), (2, "completed")]

    permanent.refresh_from_db()
    assert (permanent.status, permanent.retry_count) == ("failed", 1)
    assert permanent.error_message == "PermanentJobError: planned permanent failure on attempt 1"
    assert [(a.attempt, a.outcome) for a in attempts_of(permanent)] == [(1, "failed")]

    later.refresh_from_db()
    [first] = attempts_of(later)
    assert (later.status, later.retry_count) == ("queued", 1)
    assert later.error_message == "RetryJobAfter: come back later (attempt 1)"
    wait = later.next_retry_at - first.finished_at
    assert timedelta(seconds=599) <= wait <= timedelta(seconds=620)
    assert later.available_at == later.next_retry_at
