"""The Django admin for background jobs, workers and paused job types, as an operator uses it."""

from datetime import timedelta

import pytest
from django.contrib.admin.utils import quote
from django.test import Client
from django.utils import timezone

from hcm.models import User
from jobs.claim import claim_jobs
from jobs.models import (
    AttemptOutcome,
    BackgroundJob,
    JobAttempt,
    JobPriority,
    JobStatus,
    JobTypePause,
    WorkerHeartbeat,
)
from jobs.services import job_enqueue

JOBS = "/admin/jobs/backgroundjob/"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Users are made with a password; the production hasher costs ~0.5 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator(db) -> Client:
    user = User.objects.create_superuser(username="root", email="root@example.com", password="x-not-used-x")
    client = Client()
    client.force_login(user)
    return client


def enqueue(org, **kwargs) -> BackgroundJob:
    job, _ = job_enqueue(organization=org, job_type="noop", created_by="alice", **kwargs)
    return job


def set_state(job: BackgroundJob, status: str, **fields) -> BackgroundJob:
    BackgroundJob.objects.filter(pk=job.pk).update(status=status, **fields)
    job.refresh_from_db()
    return job


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def run_action(operator: Client, action: str, jobs: list[BackgroundJob]):
    return operator.post(JOBS, {"action": action, "_selected_action": [j.pk for j in jobs], "index": 0}, follow=True)


# --- list -----------------------------------------------------------------------------------


def test_changelist__shows_status_badge_progress_and_priority(operator, org):
    job = set_state(enqueue(org, priority="high"), JobStatus.PROCESSING, progress=40)

    response = operator.get(JOBS)

    assert response.status_code == 200
    html = response.content.decode()
    assert job.pk in html
    assert "Processing</span>" in html
    assert '<progress value="40" max="100"' in html
    assert ">high<" in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"status__exact": "failed"}, {"failed"}),
        ({"status__exact": "queued"}, {"queued", "other_org"}),
        ({"priority__exact": str(JobPriority.HIGH)}, {"high"}),
        ({"job_type": "noop"}, {"queued", "failed", "high", "other_org"}),
    ],
)
def test_changelist__filters(operator, org, other_org, query, expected):
    jobs = {
        "queued": enqueue(org),
        "failed": set_state(enqueue(org), JobStatus.FAILED),
        "high": set_state(enqueue(org, priority="high"), JobStatus.COMPLETED),
        "other_org": enqueue(other_org),
    }

    response = operator.get(JOBS, query)

    assert response.status_code == 200
    shown = {j.pk for j in response.context["cl"].result_list}
    assert shown == {jobs[name].pk for name in expected}


def test_changelist__filter_by_organization_and_search_by_id(operator, org, other_org):
    mine, theirs = enqueue(org), enqueue(other_org)

    by_org = operator.get(JOBS, {"organization__id__exact": other_org.pk})
    by_id = operator.get(JOBS, {"q": mine.pk})

    assert [j.pk for j in by_org.context["cl"].result_list] == [theirs.pk]
    assert [j.pk for j in by_id.context["cl"].result_list] == [mine.pk]


def test_add_page__is_refused(operator):
    assert operator.get(JOBS + "add/").status_code == 403


# --- change page --------------------------------------------------------------------------


def _failed_job_with_attempt(org) -> BackgroundJob:
    job = enqueue(org, payload={})
    BackgroundJob.objects.filter(pk=job.pk).update(
        payload={"to": "ops@example.com", "data": {"level": "critical"}},
        result={"items_cleared": 3},
        status=JobStatus.FAILED,
        error_message="RuntimeError: <boom>",
    )
    now = timezone.now()
    JobAttempt.objects.create(
        job=job,
        attempt=1,
        worker_id="host:7:ab",
        job_type="noop",
        started_at=now - timedelta(seconds=1),
        finished_at=now,
        duration_ms=1000.0,
        outcome=AttemptOutcome.FAILED,
        error_message="RuntimeError: <boom>",
        traceback='Traceback (most recent call last):\n  File "handler.py", line 3\nRuntimeError: <boom>',
    )
    job.refresh_from_db()
    return job


def test_change_page__pretty_payload_result_and_the_attempt_log(operator, org):
    job = _failed_job_with_attempt(org)

    response = operator.get(f"{JOBS}{quote(job.pk)}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<pre style='margin:0;white-space:pre-wrap'>{\n  &quot;data&quot;: {\n    &quot;level&quot;" in html
    assert "&quot;items_cleared&quot;: 3" in html
    assert "host:7:ab" in html
    assert "1000.0 ms" in html
    assert "<pre>Traceback (most recent call last):\n  File &quot;handler.py&quot;" in html
    assert "RuntimeError: &lt;boom&gt;" in html  # escaped, never raw HTML
    assert "Failed</span>" in html


def test_change_page__status_payload_and_worker_fields_are_not_editable(operator, org):
    job = _failed_job_with_attempt(org)

    form = operator.get(f"{JOBS}{quote(job.pk)}/change/").context["adminform"].form

    assert set(form.fields) == {"priority", "max_retries"}


def _change_post(job: BackgroundJob, **fields) -> dict:
    attempts = list(JobAttempt.objects.filter(job=job).order_by("attempt", "id"))
    data = {
        "priority": str(job.priority),
        "max_retries": str(job.max_retries),
        "attempts-TOTAL_FORMS": str(len(attempts)),
        "attempts-INITIAL_FORMS": str(len(attempts)),
        "attempts-MIN_NUM_FORMS": "0",
        "attempts-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for i, attempt in enumerate(attempts):
        data[f"attempts-{i}-id"] = str(attempt.pk)
        data[f"attempts-{i}-job"] = job.pk
    data.update(fields)
    return data


def test_change_page__saves_only_the_edited_fields_over_what_the_worker_wrote(operator, org):
    job = enqueue(org)
    operator.get(f"{JOBS}{quote(job.pk)}/change/")
    # The worker finishes the job while the operator has the form open.
    set_state(job, JobStatus.COMPLETED, result={"done": True}, progress=100)

    response = operator.post(
        f"{JOBS}{quote(job.pk)}/change/",
        _change_post(job, priority=str(JobPriority.HIGH), status="queued", result='{"forged": 1}'),
    )

    assert response.status_code == 302, response.content
    job.refresh_from_db()
    assert job.priority == JobPriority.HIGH
    assert job.updated_by == "root"
    assert job.status == JobStatus.COMPLETED
    assert job.result == {"done": True}
    assert job.progress == 100


def test_change_page__max_retries_over_10_is_refused(operator, org):
    job = enqueue(org)

    response = operator.post(f"{JOBS}{quote(job.pk)}/change/", _change_post(job, max_retries="11"))

    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors
    job.refresh_from_db()
    assert job.max_retries == 3


# --- actions --------------------------------------------------------------------------------


def test_action_cancel__cancels_queued_and_processing_and_reports_the_rest(operator, org):
    processing = enqueue(org)
    assert [c.id for c in claim_jobs(worker_id="w", limit=1, lease_seconds=60)] == [processing.id]
    queued = enqueue(org)
    done = set_state(enqueue(org), JobStatus.COMPLETED)

    response = run_action(operator, "cancel_jobs", [queued, processing, done])

    assert response.status_code == 200
    for job in (queued, processing):
        job.refresh_from_db()
        assert job.status == JobStatus.CANCELLED
        assert job.updated_by == "root"
    done.refresh_from_db()
    assert done.status == JobStatus.COMPLETED
    notes = messages_of(response)
    assert "2 job(s) cancelled." in notes
    assert any(n.startswith("1 job(s) not cancelled:") and done.pk in n for n in notes)


def test_action_retry__queues_failed_and_cancelled_jobs_again(operator, org):
    failed = set_state(enqueue(org), JobStatus.FAILED, retry_count=4, error_message="boom")
    cancelled = set_state(enqueue(org), JobStatus.CANCELLED)
    queued = enqueue(org)

    response = run_action(operator, "retry_jobs", [failed, cancelled, queued])

    for job in (failed, cancelled):
        job.refresh_from_db()
        assert (job.status, job.retry_count, job.error_message) == (JobStatus.QUEUED, 0, None)
    notes = messages_of(response)
    assert "2 job(s) queued again." in notes
    assert any(n.startswith("1 job(s) not queued again:") for n in notes)


def test_action_run_now__makes_a_scheduled_job_due(operator, org):
    later = enqueue(org, run_at=timezone.now() + timedelta(days=1))
    assert claim_jobs(worker_id="w", limit=5, lease_seconds=60) == []

    response = run_action(operator, "run_jobs_now", [later])

    assert "1 job(s) made due now." in messages_of(response)
    assert [c.id for c in claim_jobs(worker_id="w", limit=5, lease_seconds=60)] == [later.id]


def test_action_run_now__refuses_a_finished_job(operator, org):
    done = set_state(enqueue(org), JobStatus.COMPLETED)

    response = run_action(operator, "run_jobs_now", [done])

    notes = messages_of(response)
    assert len(notes) == 1
    assert notes[0].startswith("1 job(s) not made due now:")


# --- workers and paused types ---------------------------------------------------------------


def test_workers_list__alive_stale_and_stopped_at_a_glance(operator):
    now = timezone.now()
    for name, fields in {
        "alive": {"last_seen_at": now},
        "stale": {"last_seen_at": now - timedelta(hours=1)},
        "stopped": {"last_seen_at": now, "stopped_at": now},
    }.items():
        WorkerHeartbeat.objects.create(
            worker_id=f"host:{name}", hostname="host", pid=1, started_at=now - timedelta(hours=2), **fields
        )

    response = operator.get("/admin/jobs/workerheartbeat/")

    assert response.status_code == 200
    html = response.content.decode()
    for state in ("alive", "stale", "stopped"):
        assert f">{state}</span>" in html
    assert operator.get("/admin/jobs/workerheartbeat/add/").status_code == 403


def test_paused_types__adding_pauses_and_deleting_resumes(operator, org):
    add = operator.post("/admin/jobs/jobtypepause/add/", {"job_type": "noop", "organization": ""}, follow=True)

    assert add.status_code == 200
    paused = JobTypePause.objects.get()
    assert (paused.job_type, paused.paused_by) == ("noop", "root")
    assert "noop" in operator.get("/admin/jobs/jobtypepause/").content.decode()
    job = enqueue(org)
    assert claim_jobs(worker_id="w", limit=5, lease_seconds=60) == []

    delete = operator.post(f"/admin/jobs/jobtypepause/{paused.pk}/delete/", {"post": "yes"})

    assert delete.status_code == 302
    assert not JobTypePause.objects.exists()
    assert [c.id for c in claim_jobs(worker_id="w", limit=5, lease_seconds=60)] == [job.id]


def test_paused_types__unknown_type_cannot_be_added(operator):
    response = operator.post("/admin/jobs/jobtypepause/add/", {"job_type": "make_coffee"})

    assert response.status_code == 200
    assert "job_type" in response.context["adminform"].form.errors
    assert not JobTypePause.objects.exists()
