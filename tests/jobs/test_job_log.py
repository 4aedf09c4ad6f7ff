"""Seed 004's job log: what each run processed (counts), what triggered each job, and a
90-day attempt log kept apart from the jobs themselves. Real worker processes."""

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt, JobStatus
from jobs.schedules import job_schedule_run_now
from jobs.services import job_enqueue
from tests import workers
from tests.workers import worker_env


def run_burst(tmp_path: Path, **env: str) -> str:
    env.setdefault("LOG_DIR", str(tmp_path / "log"))
    env.setdefault("REDIS_URL", "")
    env.setdefault("JOBS_TEMP_DIR", str(tmp_path / "tmp"))
    return workers.run_burst("--concurrency", "1", env=worker_env(**env), log_dir=tmp_path)


def attempt(job: BackgroundJob, number: int, *, days_ago: float) -> JobAttempt:
    at = timezone.now() - timedelta(days=days_ago)
    return JobAttempt.objects.create(
        job=job,
        attempt=number,
        worker_id="w-old",
        job_type=job.job_type,
        started_at=at,
        finished_at=at,
        duration_ms=1.0,
        outcome=AttemptOutcome.FAILED,
        error_message="old",
    )


def test_cleanup__attempts_past_90_days_removed_apart_from_their_job_and_counted(transactional_db, org, tmp_path):
    # A job still queued (retried for months) keeps its recent attempts only.
    long_lived, _ = job_enqueue(organization=org, job_type="noop", run_at=timezone.now() + timedelta(days=1))
    old = attempt(long_lived, 1, days_ago=91)
    recent = attempt(long_lived, 2, days_ago=89)
    cleanup, _ = job_enqueue(organization=None, job_type="cleanup", payload={"type": "expired_data"})

    run_burst(tmp_path)

    cleanup.refresh_from_db()
    assert cleanup.status == JobStatus.COMPLETED, cleanup.error_message
    assert cleanup.result["records_deleted"]["old_job_attempts"] == 1
    assert not JobAttempt.objects.filter(pk=old.pk).exists()
    assert JobAttempt.objects.filter(pk=recent.pk).exists()
    assert BackgroundJob.objects.filter(pk=long_lived.pk).exists()
    # The job log: one item per cleanup rule run, all of them succeeded.
    assert cleanup.processed >= 3 and cleanup.succeeded == cleanup.processed and cleanup.failed == 0


def test_cleanup__retention_is_configurable(transactional_db, org, tmp_path):
    job, _ = job_enqueue(organization=org, job_type="noop", run_at=timezone.now() + timedelta(days=1))
    five_days = attempt(job, 1, days_ago=5)
    cleanup, _ = job_enqueue(organization=None, job_type="cleanup", payload={"type": "expired_data"})
    run_burst(tmp_path, JOBS_RETENTION_ATTEMPT_DAYS="3")
    cleanup.refresh_from_db()
    assert cleanup.result["records_deleted"]["old_job_attempts"] == 1
    assert not JobAttempt.objects.filter(pk=five_days.pk).exists()


def test_trigger__user_schedule_and_system_recorded_and_shown(admin_client, org):
    response = admin_client.post(
        "/api/system/background-jobs", {"job_type": "cache_flush", "payload": {"action": "full"}}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = admin_client.get(f"/api/system/background-jobs/{response.json()['id']}").json()
    assert (body["trigger"], body["trigger_id"]) == ("user", "alice")
    assert {"processed", "succeeded", "failed"} <= set(body)

    schedule = admin_client.post(
        "/api/system/job-schedules",
        {"name": "n", "job_type": "cache_flush", "payload": {"action": "full"}, "cron_expression": "@daily"},
        format="json",
    ).json()
    from jobs.models import JobSchedule

    job = job_schedule_run_now(schedule=JobSchedule.objects.get(pk=schedule["id"]), by="alice")
    assert (job.trigger, job.trigger_id) == ("schedule", schedule["id"])

    system, _ = job_enqueue(organization=org, job_type="noop")
    assert (system.trigger, system.trigger_id) == ("system", None)
