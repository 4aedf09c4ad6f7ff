"""What the seeds say about jobs, checked the way a user would: a job written straight
through the model runs as one posted to the API; a posted job without a priority is
medium; priorities hold within a claimed batch; run_at / next_retry_at decide when a job
is due however they were written. Real worker processes, a real SMTP server."""

import importlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobs import registry
from jobs.claim import claim_jobs
from jobs.models import BackgroundJob, JobPriority, JobStatus
from jobs.services import job_enqueue
from tests import workers
from tests.servers import SMTPServer
from tests.workers import worker_env


@pytest.fixture
def job_types():
    import tests.job_types as module

    importlib.reload(module)
    yield module
    for name in module.NAMES:
        registry._REGISTRY.pop(name, None)


def run_burst(tmp_path: Path, **env: str) -> str:
    env.setdefault("LOG_DIR", str(tmp_path / "log"))
    env.setdefault("REDIS_URL", "")
    return workers.run_burst("--concurrency", "1", env=worker_env(**env), log_dir=tmp_path)


def test_email_send__seed_payload_saved_through_the_model_runs_like_an_api_job(transactional_db, org, tmp_path):
    # Seed 001's payload, `to` a string, inserted without the API's normalization.
    minimal = BackgroundJob.objects.create(
        organization=org, job_type="email_send", payload={"to": "ops@example.com", "subject": "System Alert"}
    )
    BackgroundJob.objects.create(
        organization=org,
        job_type="email_send",
        payload={"to": "ops@example.com", "subject": "Disk", "data": {"level": "critical", "message": "Disk at 91%"}},
    )
    broken = BackgroundJob.objects.create(
        organization=org, job_type="email_send", payload={"to": 5, "subject": "x", "cc": "a@example.com"}
    )
    with SMTPServer() as smtp:
        run_burst(tmp_path, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port))

    by_subject = {m["Subject"]: m for m in smtp.messages}
    assert set(by_subject) == {"System Alert", "Disk"}
    minimal.refresh_from_db()
    assert minimal.status == JobStatus.COMPLETED, minimal.error_message
    assert minimal.result["to"] == ["ops@example.com"]
    assert minimal.result["message_id"] == by_subject["System Alert"]["Message-ID"]
    assert by_subject["System Alert"].get_content().strip() == "System Alert"
    assert "Disk at 91%" in by_subject["Disk"].get_content()

    # A payload the schema refuses fails for good, naming each field; no retries.
    broken.refresh_from_db()
    assert broken.status == JobStatus.FAILED
    assert "payload.to" in broken.error_message and "payload.cc" in broken.error_message
    assert "TypeError" not in broken.error_message and "KeyError" not in broken.error_message
    assert broken.attempts.count() == 1


def test_api_job_without_priority__is_medium_even_for_a_high_default_type(admin_client, org):
    response = admin_client.post(
        "/api/system/background-jobs",
        {"job_type": "email_send", "payload": {"to": "a@example.com", "subject": "Hi"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["priority"] == "medium"
    # The type's own default still applies to jobs the system enqueues.
    job, _ = job_enqueue(organization=org, job_type="email_send", payload={"to": "a@example.com", "subject": "Hi"})
    assert job.priority == JobPriority.HIGH


def test_priorities__three_low_then_three_high_run_high_first(transactional_db, job_types, tmp_path):
    trace = tmp_path / "trace"
    low = [
        job_enqueue(organization=None, job_type="test_record", payload={"path": str(trace)}, priority="low")[0]
        for _ in range(3)
    ]
    high = [
        job_enqueue(organization=None, job_type="test_record", payload={"path": str(trace)}, priority="high")[0]
        for _ in range(3)
    ]
    run_burst(tmp_path, JOBS_HANDLER_MODULES="tests.job_types")
    ran = [line[1] for line in job_types.read_lines(trace)]
    assert ran == [j.id for j in high + low]


def test_claim__a_batch_comes_back_high_first_then_oldest(db, org):
    now = timezone.now()
    ids = []
    for i, priority in enumerate(["low", "low", "medium", "high", "high", "low"]):
        job, _ = job_enqueue(organization=org, job_type="noop", priority=priority)
        BackgroundJob.objects.filter(pk=job.pk).update(created_at=now - timedelta(seconds=60 - i))
        ids.append(job.id)
    claimed = [c.id for c in claim_jobs(worker_id="w", limit=10, lease_seconds=60)]
    assert claimed == [ids[3], ids[4], ids[2], ids[0], ids[1], ids[5]]


def test_due__run_at_and_next_retry_at_written_any_way_decide(db, org):
    future = timezone.now() + timedelta(hours=1)
    later = BackgroundJob.objects.create(organization=org, job_type="noop", run_at=future)
    retrying = BackgroundJob.objects.create(organization=org, job_type="noop")
    BackgroundJob.objects.filter(pk=retrying.pk).update(next_retry_at=future)
    now_job = BackgroundJob.objects.create(organization=org, job_type="noop", run_at=future)
    BackgroundJob.objects.filter(pk=now_job.pk).update(run_at=timezone.now() - timedelta(seconds=1))

    claimed = [c.id for c in claim_jobs(worker_id="w", limit=10, lease_seconds=60)]
    assert claimed == [now_job.id]
    later.refresh_from_db()
    assert later.available_at == future
