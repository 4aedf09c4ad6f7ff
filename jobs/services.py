"""Enqueue, cancel, retry, run now, pause and resume: what the API, the admin and the rest
of the platform call. The worker's own writes live in jobs/transitions.py."""

import functools
import logging
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from hcm.exceptions import InvalidInput, StateConflict
from hcm.logging import current_request_id
from hcm.models import Organization
from jobs.models import BackgroundJob, JobPriority, JobStatus, JobTypePause, new_job_id
from jobs.registry import get_job_type, job_scope, job_type_names, unknown_job_type_message

logger = logging.getLogger("jobs")

NOTIFY_CHANNEL = "hcm_jobs"
MAX_RETRIES_LIMIT = 10  # the bg_jobs_max_retries_range constraint


class JobStateError(StateConflict):
    """The job is not in a state that allows this action (API: 400 naming `status`)."""


def _notify_workers(job_type: str) -> None:
    # For jobs made due by an UPDATE (retry, run now, resume); inserts notify by trigger.
    # Delivered when the surrounding transaction commits; wakes LISTENing workers.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, job_type])


def _insert_jobs(jobs: list[BackgroundJob]) -> None:
    """INSERT the jobs as they are, without the ORM's per-save compilation (enqueue is the
    hot path of every fan-out): one prepared statement, executemany for several. The
    instances then behave as loaded from the database."""
    fields = BackgroundJob._meta.concrete_fields
    rows = [[field.get_db_prep_save(getattr(job, field.attname), connection) for field in fields] for job in jobs]
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(_insert_sql(connection.vendor), rows[0])
        else:
            cursor.executemany(_insert_sql(connection.vendor), rows)
    for job in jobs:
        job._state.adding, job._state.db = False, connection.alias


@functools.cache
def _insert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    fields = BackgroundJob._meta.concrete_fields
    return (
        f"INSERT INTO {quote(BackgroundJob._meta.db_table)} ({', '.join(quote(str(f.column)) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )


def job_enqueue(
    *,
    organization: Organization | None,
    job_type: str,
    payload: dict[str, Any] | None = None,
    priority: str | None = None,
    max_retries: int = 3,
    run_at: datetime | None = None,
    idempotency_key: str | None = None,
    created_by: str = "system",
    queue_name: str = "default",
) -> tuple[BackgroundJob, bool]:
    """Validate and queue a job; returns (job, created). Raises InvalidInput naming every
    bad field at once.

    The job acts in its organization's scope, or service-wide with no organization; the
    type must allow that scope (who may ask for a service-wide job is the caller's check:
    hcm.permissions). The same idempotency_key again (per organization) returns the
    existing job: the database's unique constraint decides, so two concurrent requests
    cannot both insert.
    """
    errors: dict[str, Any] = {}
    spec = get_job_type(job_type)
    scope = job_scope(organization.pk if organization else None)
    if spec is None:
        errors["job_type"] = [unknown_job_type_message(job_type, job_type_names())]
    elif not spec.allows(scope):
        errors["job_type"] = [
            f"{job_type} cannot run in scope {scope!r} (it allows: {', '.join(sorted(spec.scopes))})."
        ]
    priority = priority or (spec.priority if spec else JobPriority.MEDIUM.label)
    if priority not in JobPriority.labels:
        errors["priority"] = [f"Must be one of {', '.join(JobPriority.labels)}."]
    if not 0 <= max_retries <= MAX_RETRIES_LIMIT:
        # Checked here, not left to the CHECK constraint: its IntegrityError would be
        # taken for an idempotency-key conflict below.
        errors["max_retries"] = [f"Must be between 0 and {MAX_RETRIES_LIMIT}."]
    clean_payload: dict[str, Any] = {}
    if spec is not None:
        try:
            clean_payload = spec.validate_payload(payload, scope=scope)
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    now = timezone.now()
    run_at = run_at or now
    job = BackgroundJob(
        organization=organization,
        job_type=job_type,
        priority=JobPriority.from_name(priority),
        payload=clean_payload,
        max_retries=max_retries,
        run_at=run_at,
        available_at=run_at,
        idempotency_key=idempotency_key or None,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
        queue_name=queue_name,
        # The web request (or the job) that queues this one: its id follows into the worker's lines.
        request_id=current_request_id(),
    )
    try:
        # Inside a caller's transaction a savepoint keeps a key conflict from breaking it;
        # in autocommit the INSERT is one statement (on PostgreSQL its trigger, migration
        # jobs 0005, sends the NOTIFY that wakes workers).
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            _insert_jobs([job])
    except IntegrityError:
        if not idempotency_key:
            raise
        existing = BackgroundJob.objects.filter(organization=organization, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing, False
    logger.info("job queued", extra={"job_id": job.id, "job_type": job_type, "outcome": "queued", "by": created_by})
    return job, True


def job_enqueue_many(
    *,
    organization: Organization | None,
    job_type: str,
    payloads: list[dict[str, Any] | None],
    priority: str | None = None,
    max_retries: int = 3,
    run_at: datetime | None = None,
    created_by: str = "system",
) -> list[str]:
    """Queue one job of `job_type` per payload in one transaction (a fan-out, an import):
    the same checks as job_enqueue, all before anything is written (InvalidInput names the
    first bad payload by its index), without idempotency keys. Returns the new jobs' ids in
    the order of `payloads`."""
    spec = get_job_type(job_type)
    scope = job_scope(organization.pk if organization else None)
    if spec is None:
        raise InvalidInput({"job_type": [unknown_job_type_message(job_type, job_type_names())]})
    if not spec.allows(scope):
        raise InvalidInput(
            {"job_type": [f"{job_type} cannot run in scope {scope!r} (it allows: {', '.join(sorted(spec.scopes))})."]}
        )
    priority = priority or spec.priority
    if priority not in JobPriority.labels:
        raise InvalidInput({"priority": [f"Must be one of {', '.join(JobPriority.labels)}."]})
    if not 0 <= max_retries <= MAX_RETRIES_LIMIT:
        raise InvalidInput({"max_retries": [f"Must be between 0 and {MAX_RETRIES_LIMIT}."]})
    clean = []
    for index, payload in enumerate(payloads):
        try:
            clean.append(spec.validate_payload(payload, scope=scope))
        except InvalidInput as exc:
            errors = {k.replace("payload", f"payloads[{index}]", 1): v for k, v in exc.errors.items()}
            raise InvalidInput(errors) from None
    now = timezone.now()
    run_at = run_at or now
    template = BackgroundJob(
        organization=organization,
        job_type=job_type,
        priority=JobPriority.from_name(priority),
        max_retries=max_retries,
        run_at=run_at,
        available_at=run_at,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    # The columns every job shares are converted once; per row only the id and the payload.
    fields = BackgroundJob._meta.concrete_fields
    shared = [field.get_db_prep_save(getattr(template, field.attname), connection) for field in fields]
    id_at = next(i for i, field in enumerate(fields) if field.primary_key)
    payload_at, payload_field = next((i, field) for i, field in enumerate(fields) if field.name == "payload")
    ids = [new_job_id() for _ in clean]
    rows = []
    for job_id, payload in zip(ids, clean, strict=True):
        row = shared.copy()
        row[id_at] = job_id
        row[payload_at] = payload_field.get_db_prep_save(payload, connection)
        rows.append(row)
    # On PostgreSQL the enqueue trigger (migration jobs 0005) notifies per statement; the
    # notifications are delivered, deduplicated, at commit.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(_insert_sql(connection.vendor), rows)
    logger.info("jobs queued", extra={"job_type": job_type, "count": len(ids), "outcome": "queued", "by": created_by})
    return ids


def job_cancel(*, job: BackgroundJob, by: str) -> BackgroundJob:
    """Cancel a queued or processing job. A running handler stops at its next progress
    check; its late result is discarded (the worker's writes are fenced on status)."""
    updated = BackgroundJob.objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.PROCESSING]).update(
        status=JobStatus.CANCELLED,
        completed_at=timezone.now(),
        updated_by=by,
        updated_at=timezone.now(),
        lease_expires_at=None,
    )
    job.refresh_from_db()
    if not updated:
        raise JobStateError(f"Job {job.pk} is {job.status}; only queued or processing jobs can be cancelled.")
    logger.info("job cancelled", extra={"job_id": job.id, "job_type": job.job_type, "outcome": "cancelled", "by": by})
    return job


def job_retry(*, job: BackgroundJob, by: str) -> BackgroundJob:
    """Queue a failed or cancelled job again, now, with its retries reset."""
    now = timezone.now()
    with transaction.atomic():
        updated = BackgroundJob.objects.filter(pk=job.pk, status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).update(
            status=JobStatus.QUEUED,
            retry_count=0,
            next_retry_at=None,
            available_at=now,
            run_at=now,
            error_message=None,
            result=None,
            progress=0,
            started_at=None,
            completed_at=None,
            locked_by=None,
            lease_expires_at=None,
            updated_by=by,
            updated_at=now,
        )
        if updated:
            _notify_workers(job.job_type)
    job.refresh_from_db()
    if not updated:
        raise JobStateError(f"Job {job.pk} is {job.status}; only failed or cancelled jobs can be retried.")
    logger.info("job retried", extra={"job_id": job.id, "job_type": job.job_type, "outcome": "queued", "by": by})
    return job


def job_run_now(*, job: BackgroundJob, by: str) -> BackgroundJob:
    """Make a queued job due immediately (skip its run_at or retry wait)."""
    now = timezone.now()
    with transaction.atomic():
        updated = BackgroundJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            available_at=now, run_at=now, next_retry_at=None, updated_by=by, updated_at=now
        )
        if updated:
            _notify_workers(job.job_type)
    job.refresh_from_db()
    if not updated:
        raise JobStateError(f"Job {job.pk} is {job.status}; only queued jobs can be run now.")
    return job


def _pausable(job_type: str) -> None:
    if get_job_type(job_type) is None:
        raise InvalidInput({"job_type": [unknown_job_type_message(job_type, job_type_names())]})


def job_type_pause(*, job_type: str, organization: Organization | None, by: str) -> JobTypePause:
    """Hold the type's queued jobs: the organization's, or every organization's when
    `organization` is None (service-wide). Pausing again keeps the first pause."""
    _pausable(job_type)
    paused, _ = JobTypePause.objects.get_or_create(
        job_type=job_type, organization=organization, defaults={"paused_by": by}
    )
    logger.info(
        "job type paused",
        extra={"job_type": job_type, "organization_id": organization.pk if organization else None, "by": by},
    )
    return paused


def job_type_resume(*, job_type: str, organization: Organization | None, by: str) -> bool:
    """Lift that pause (an organization's own, or the service-wide one); True if there was one."""
    _pausable(job_type)
    with transaction.atomic():
        deleted, _ = JobTypePause.objects.filter(job_type=job_type, organization=organization).delete()
        _notify_workers(job_type)
    logger.info(
        "job type resumed",
        extra={"job_type": job_type, "organization_id": organization.pk if organization else None, "by": by},
    )
    return bool(deleted)
