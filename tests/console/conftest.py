"""Fixtures for the operator console: a superuser signed in to the admin, jobs and attempts."""

from datetime import datetime

import pytest
from django.test import Client

from hcm.models import User
from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt
from jobs.services import job_enqueue


@pytest.fixture
def superuser(db) -> User:
    # No password: hashing one costs ~0.5 s, and these tests sign in with force_login.
    return User.objects.create_superuser(username="root", email="root@example.com", password=None)


@pytest.fixture
def operator(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def make_job(org, *, status: str = "queued", **fields) -> BackgroundJob:
    """A noop job queued through the service, then put in `status` as a worker would have."""
    job, _ = job_enqueue(organization=org, job_type="noop", created_by="alice")
    BackgroundJob.objects.filter(pk=job.pk).update(status=status, **fields)
    job.refresh_from_db()
    return job


def make_attempt(
    job: BackgroundJob,
    *,
    finished_at: datetime,
    outcome: str = AttemptOutcome.COMPLETED,
    ms: float = 10.0,
    job_type: str | None = None,
) -> JobAttempt:
    """One finished attempt in the job event log, as the worker writes it."""
    number = job.attempts.count() + 1
    return JobAttempt.objects.create(
        job=job,
        attempt=number,
        worker_id="w-test",
        job_type=job_type or job.job_type,
        started_at=finished_at,
        finished_at=finished_at,
        duration_ms=ms,
        outcome=outcome,
    )
