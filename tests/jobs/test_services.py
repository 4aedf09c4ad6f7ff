"""jobs.services: enqueue (validation, idempotency), cancel, retry, run now, pause, resume."""

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from hcm.exceptions import InvalidInput
from jobs.claim import claim_jobs
from jobs.models import BackgroundJob, JobPriority, JobStatus, JobTypePause
from jobs.services import (
    JobStateError,
    job_cancel,
    job_enqueue,
    job_enqueue_many,
    job_retry,
    job_run_now,
    job_type_pause,
    job_type_resume,
)


def enqueue(org, **kwargs) -> BackgroundJob:
    job, created = job_enqueue(organization=org, job_type="noop", **kwargs)
    assert created
    return job


def in_state(org, status: str) -> BackgroundJob:
    job = enqueue(org)
    if status == JobStatus.PROCESSING:
        assert [c.id for c in claim_jobs(worker_id="w", limit=1, lease_seconds=60)] == [job.id]
    elif status != JobStatus.QUEUED:
        BackgroundJob.objects.filter(pk=job.pk).update(status=status, completed_at=timezone.now())
    job.refresh_from_db()
    return job


def test_enqueue__queued_now_with_the_type_defaults(org):
    job, created = job_enqueue(organization=org, job_type="noop", created_by="alice")

    assert created
    assert job.status == JobStatus.QUEUED
    assert job.priority == JobPriority.MEDIUM
    assert job.max_retries == 3
    assert job.created_by == job.updated_by == "alice"
    assert job.available_at == job.run_at == job.created_at


def test_enqueue__run_at_in_the_future_is_not_claimed_before_it(org):
    enqueue(org, run_at=timezone.now() + timedelta(minutes=5))

    assert claim_jobs(worker_id="w", limit=1, lease_seconds=60) == []


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"job_type": "make_coffee"}, "job_type"),
        ({"job_type": "noop", "priority": "urgent"}, "priority"),
        ({"job_type": "noop", "max_retries": 11}, "max_retries"),
        ({"job_type": "noop", "max_retries": -1}, "max_retries"),
        ({"job_type": "noop", "payload": {"x": 1}}, "payload"),
    ],
)
def test_enqueue__invalid_arguments_raise_validation_error_naming_them(org, kwargs, field):
    with pytest.raises(InvalidInput) as raised:
        job_enqueue(organization=org, idempotency_key="k", **kwargs)

    assert field in raised.value.errors
    assert not BackgroundJob.objects.exists()


def test_enqueue_many__queues_every_job_in_a_few_statements(org, django_assert_max_num_queries):
    # SQLite: INSERTs of 500 rows each and one executemany for the last 100, in a
    # transaction. PostgreSQL: one COPY (psycopg's, which Django's query log does not list).
    with django_assert_max_num_queries(8):
        ids = job_enqueue_many(organization=org, job_type="noop", payloads=[None] * 2600, created_by="alice")

    assert len(set(ids)) == 2600
    assert all(len(job_id) == 20 and job_id.startswith("job_") for job_id in ids)
    assert BackgroundJob.objects.filter(organization=org, status=JobStatus.QUEUED, created_by="alice").count() == 2600
    assert len(claim_jobs(worker_id="w", limit=10, lease_seconds=60)) == 10


def test_enqueue_many__each_job_has_its_payload_and_the_types_defaults(org):
    payloads = [{"action": "full"}, {"action": "partial", "prefix": "reports:"}]

    ids = job_enqueue_many(organization=org, job_type="cache_flush", payloads=payloads)

    jobs = [BackgroundJob.objects.get(pk=job_id) for job_id in ids]
    assert [j.payload["action"] for j in jobs] == ["full", "partial"]
    assert jobs[1].payload["prefix"] == "reports:"
    assert {(j.organization_id, j.status, j.max_retries, j.attempt) for j in jobs} == {(org.pk, "queued", 3, 0)}
    assert jobs[0].available_at == jobs[0].run_at == jobs[0].created_at


def test_enqueue_many__a_bad_payload_names_its_index_and_nothing_is_queued(org):
    payloads = [{"action": "full"}, {"action": "partial", "prefix": "x"}, {"action": "explode"}]

    with pytest.raises(InvalidInput) as raised:
        job_enqueue_many(organization=org, job_type="cache_flush", payloads=payloads)

    assert list(raised.value.errors) == ["payloads[2]"]
    assert not BackgroundJob.objects.exists()


def test_enqueue__same_idempotency_key_returns_the_existing_job(org):
    first, created_first = job_enqueue(organization=org, job_type="noop", idempotency_key="k1")
    second, created_second = job_enqueue(organization=org, job_type="noop", idempotency_key="k1", priority="high")

    assert (created_first, created_second) == (True, False)
    assert second.pk == first.pk
    assert second.priority == JobPriority.MEDIUM  # the existing job, not the new arguments
    assert BackgroundJob.objects.count() == 1


def test_enqueue__is_one_insert_and_returns_the_job_as_stored(org, django_assert_num_queries):
    with django_assert_num_queries(1):  # no savepoint, nothing read back
        job, _ = job_enqueue(
            organization=org, job_type="cache_flush", payload={"action": "full"}, priority="high", trigger_id="t1"
        )

    stored = BackgroundJob.objects.get(pk=job.pk)
    fields = [f.attname for f in BackgroundJob._meta.concrete_fields]
    assert {f: getattr(job, f) for f in fields} == {f: getattr(stored, f) for f in fields}
    assert job.organization == org


def test_enqueue__returns_the_job_as_stored_when_no_query_is_logged(org):
    # Outside a query log (how it runs in production) SQLite's INSERT skips Django's cursor.
    assert not connection.queries_logged
    job, _ = job_enqueue(organization=None, job_type="db_optimize", run_at=timezone.now() + timedelta(hours=1))

    stored = BackgroundJob.objects.get(pk=job.pk)
    fields = [f.attname for f in BackgroundJob._meta.concrete_fields]
    assert {f: getattr(job, f) for f in fields} == {f: getattr(stored, f) for f in fields}
    assert (job._state.adding, job._state.db, job.get_deferred_fields()) == (False, "default", set())
    job.refresh_from_db()  # a usable instance: saved and refreshed like one read from the database
    job.save(update_fields=["created_by"])


@pytest.mark.django_db(transaction=True)
def test_enqueue__keeps_working_after_the_connection_is_closed_and_after_a_failed_insert(org):
    # On PostgreSQL the INSERT's cursor is kept per connection: a new connection gets a
    # new one, and a statement that failed leaves it usable.
    first = enqueue(org)
    connection.close()
    second = enqueue(org)
    with pytest.raises(DatabaseError), transaction.atomic():
        job_enqueue(organization=org, job_type="noop", idempotency_key="k1")
        with connection.cursor() as cursor:  # the same key again, without ON CONFLICT: a unique violation
            cursor.execute(
                "INSERT INTO background_jobs SELECT * FROM background_jobs WHERE idempotency_key = %s", ["k1"]
            )
    third = enqueue(org)

    assert set(BackgroundJob.objects.values_list("pk", flat=True)) == {first.pk, second.pk, third.pk}


def test_enqueue__in_a_broken_transaction_is_refused_like_any_query(org):
    with transaction.atomic():
        with pytest.raises(DatabaseError), transaction.atomic(savepoint=False), connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

        with pytest.raises(TransactionManagementError):
            job_enqueue(organization=org, job_type="noop")


def test_enqueue__a_repeated_key_inside_a_transaction_leaves_the_transaction_usable(org):
    with transaction.atomic():
        first, _ = job_enqueue(organization=org, job_type="noop", idempotency_key="k1")
        again, created = job_enqueue(organization=org, job_type="noop", idempotency_key="k1")
        other, _ = job_enqueue(organization=org, job_type="noop")

    assert (again.pk, created) == (first.pk, False)
    assert BackgroundJob.objects.filter(pk__in=[first.pk, other.pk]).count() == 2


@pytest.mark.django_db(transaction=True)
def test_enqueue__a_rolled_back_transaction_leaves_no_job(org):
    with pytest.raises(RuntimeError), transaction.atomic():
        job_enqueue(organization=org, job_type="noop")
        job_enqueue(organization=org, job_type="noop", idempotency_key="k1")
        job_enqueue_many(organization=org, job_type="noop", payloads=[None] * 3)
        raise RuntimeError("the caller fails")

    assert not BackgroundJob.objects.exists()


def test_enqueue_many__names_every_bad_argument_at_once(org):
    with pytest.raises(InvalidInput) as raised:
        job_enqueue_many(
            organization=org, job_type="noop", payloads=[None, {"x": 1}], priority="urgent", max_retries=11
        )

    assert sorted(raised.value.errors) == ["max_retries", "payloads[1]", "priority"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("bulk", [False, True])
def test_enqueue__wakes_listening_workers_when_it_commits(org, bulk):
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"], autocommit=True
    ) as listener:
        listener.execute("LISTEN hcm_jobs")
        with transaction.atomic():
            if bulk:
                job_enqueue_many(organization=org, job_type="noop", payloads=[None] * 3)
            else:
                job_enqueue(organization=org, job_type="noop")
            assert list(listener.notifies(timeout=0.2, stop_after=1)) == []  # not before the commit
        notified = list(listener.notifies(timeout=5, stop_after=1))

    assert [n.channel for n in notified] == ["hcm_jobs"]


@pytest.mark.django_db(transaction=True)
def test_enqueue__concurrent_requests_with_one_idempotency_key_create_one_job(org):
    """No check-then-insert: every request inserts and the unique constraint picks one."""
    n = 6
    barrier = threading.Barrier(n)
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            barrier.wait(timeout=10)
            job, created = job_enqueue(organization=org, job_type="noop", idempotency_key="race")
            results.append((job.pk, created))
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert len(results) == n
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert BackgroundJob.objects.filter(idempotency_key="race").count() == 1


# --- the transition table ---------------------------------------------------------------------

ALL_STATUSES = list(JobStatus.values)


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_cancel__only_from_queued_or_processing(org, status):
    job = in_state(org, status)

    if status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        job = job_cancel(job=job, by="op")
        assert job.status == JobStatus.CANCELLED
        assert job.updated_by == "op"
        assert job.lease_expires_at is None
    else:
        with pytest.raises(JobStateError, match=status):
            job_cancel(job=job, by="op")
        job.refresh_from_db()
        assert job.status == status


def test_cancel__processing_job_is_not_retried(org):
    job = job_cancel(job=in_state(org, JobStatus.PROCESSING), by="op")

    assert job.status == JobStatus.CANCELLED
    assert claim_jobs(worker_id="w2", limit=5, lease_seconds=60) == []


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_retry__only_from_failed_or_cancelled(org, status):
    job = in_state(org, status)
    BackgroundJob.objects.filter(pk=job.pk).update(retry_count=2, error_message="boom")

    if status in (JobStatus.FAILED, JobStatus.CANCELLED):
        job = job_retry(job=job, by="op")
        assert job.status == JobStatus.QUEUED
        assert (job.retry_count, job.error_message, job.completed_at) == (0, None, None)
        assert [c.id for c in claim_jobs(worker_id="w2", limit=5, lease_seconds=60)] == [job.id]
    else:
        with pytest.raises(JobStateError):
            job_retry(job=job, by="op")
        job.refresh_from_db()
        assert job.status == status


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_run_now__only_for_queued_jobs(org, status):
    job = in_state(org, status)
    BackgroundJob.objects.filter(pk=job.pk).update(run_at=timezone.now() + timedelta(hours=1))

    if status == JobStatus.QUEUED:
        job = job_run_now(job=job, by="op")
        assert job.available_at <= timezone.now()
        assert [c.id for c in claim_jobs(worker_id="w2", limit=5, lease_seconds=60)] == [job.id]
    else:
        with pytest.raises(JobStateError):
            job_run_now(job=job, by="op")


def test_pause_and_resume__paused_type_stays_queued_until_resumed(org):
    job = enqueue(org)

    job_type_pause(job_type="noop", organization=None, by="op")

    assert claim_jobs(worker_id="w", limit=5, lease_seconds=60) == []
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert JobTypePause.objects.get().paused_by == "op"

    assert job_type_resume(job_type="noop", organization=None, by="op") is True
    assert job_type_resume(job_type="noop", organization=None, by="op") is False
    assert [c.id for c in claim_jobs(worker_id="w", limit=5, lease_seconds=60)] == [job.id]


@pytest.mark.parametrize("service", [job_type_pause, job_type_resume])
def test_pause_and_resume__unknown_type_is_a_validation_error(db, service):
    with pytest.raises(InvalidInput) as raised:
        service(job_type="make_coffee", organization=None, by="op")

    assert "job_type" in raised.value.errors
