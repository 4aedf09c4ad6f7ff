"""claim_jobs (which job runs next, taken atomically) and the lease fence on every write
a worker makes after the claim."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.claim import claim_jobs
from jobs.context import ClaimedJob, JobContext
from jobs.errors import JobAborted
from jobs.models import BackgroundJob, JobAttempt, JobStatus
from jobs.retry import RetryPolicy
from jobs.services import JobStateError, job_cancel, job_enqueue, job_enqueue_many, job_type_pause, job_type_resume
from jobs.transitions import (
    AttemptResult,
    hand_back,
    record_attempts,
    release_expired_leases,
    renew_leases,
    stored_result,
)

POLICY = RetryPolicy(base_seconds=120)


def enqueue(org, job_type="noop", payload=None, **kwargs) -> BackgroundJob:
    job, created = job_enqueue(organization=org, job_type=job_type, payload=payload, **kwargs)
    assert created
    return job


def claim_one(worker_id="host:1:w", **kwargs) -> ClaimedJob | None:
    claimed = claim_jobs(worker_id=worker_id, limit=1, lease_seconds=60, **kwargs)
    return claimed[0] if claimed else None


def result(job: ClaimedJob, outcome="completed", **fields) -> AttemptResult:
    fields.setdefault("result", {"ok": True} if outcome == "completed" else None)
    fields.setdefault("error", None if outcome == "completed" else "RuntimeError: boom")
    return AttemptResult(job=job, outcome=outcome, finished_at=timezone.now(), duration_ms=5.0, **fields)


def attempts_of(job_id: str) -> list[tuple[int, str, str]]:
    return list(JobAttempt.objects.filter(job_id=job_id).values_list("attempt", "outcome", "worker_id"))


# --- which job next --------------------------------------------------------------------------


def test_claim__high_priority_first_then_oldest(org):
    start = timezone.now() - timedelta(minutes=10)
    jobs = {}
    for minute, (name, priority) in enumerate(
        [("low_old", "low"), ("medium_old", "medium"), ("high_new", "high"), ("low_new", "low")]
        + [("medium_new", "medium"), ("high_old", "high")]
    ):
        job = enqueue(org, priority=priority)
        # created_at decides among equals; set it apart so the order is certain.
        created = start + timedelta(minutes=minute if name != "high_old" else -1)
        BackgroundJob.objects.filter(pk=job.pk).update(created_at=created)
        jobs[job.id] = name

    order = [jobs[claim_one().id] for _ in range(6)]

    assert order == ["high_old", "high_new", "medium_old", "medium_new", "low_old", "low_new"]
    assert claim_one() is None


def test_claim__takes_at_most_limit_jobs(org):
    for _ in range(6):
        enqueue(org)

    assert len(claim_jobs(worker_id="A", limit=2, lease_seconds=60)) == 2

    assert BackgroundJob.objects.filter(status=JobStatus.PROCESSING).count() == 2


def _run_at_in_5_minutes(org):
    job = enqueue(org, run_at=timezone.now() + timedelta(minutes=5))
    return job, {"now": timezone.now() + timedelta(minutes=5, seconds=1)}


def _retry_wait_of_2_minutes(org):
    job = enqueue(org)
    record_attempts([result(claim_one(), outcome="failed")], policy=POLICY)
    assert BackgroundJob.objects.get(pk=job.pk).status == JobStatus.QUEUED
    return job, {"now": timezone.now() + timedelta(minutes=2, seconds=1)}


def _paused_type(org):
    job = enqueue(org)
    job_type_pause(job_type="noop", organization=None, by="alice")
    return job, {"resume": True}


def _other_type_than_the_filter(org):
    job = enqueue(org)
    return job, {"job_types": ["noop"]}


@pytest.mark.parametrize(
    "make_job, not_claimed_with",
    [
        (_run_at_in_5_minutes, {}),
        (_retry_wait_of_2_minutes, {}),
        (_paused_type, {}),
        (_other_type_than_the_filter, {"job_types": ["cache_flush", "log_rotate"]}),
    ],
    ids=["run_at_in_the_future", "next_retry_at_in_the_future", "paused_job_type", "job_types_filter"],
)
def test_claim__job_not_due_stays_queued_until_it_is(org, make_job, not_claimed_with):
    job, due_with = make_job(org)

    assert claim_one(**not_claimed_with) is None
    assert BackgroundJob.objects.get(pk=job.pk).status == JobStatus.QUEUED

    if due_with.pop("resume", False):
        job_type_resume(job_type="noop", organization=None, by="alice")
    claimed = claim_one(**due_with)
    assert claimed is not None and claimed.id == job.id


def test_claim__marks_the_job_processing_under_a_lease(org):
    job = enqueue(org, job_type="cache_flush", payload={"action": "partial", "prefix": "x"}, max_retries=5)
    now = timezone.now()

    [claimed] = claim_jobs(worker_id="host:1:abc", limit=10, lease_seconds=30, now=now)

    assert (claimed.id, claimed.job_type, claimed.payload) == (
        job.id,
        "cache_flush",
        {"action": "partial", "prefix": "x"},
    )
    assert (claimed.organization_id, claimed.attempt, claimed.retry_count, claimed.max_retries) == (org.id, 1, 0, 5)
    job.refresh_from_db()
    assert (job.status, job.locked_by, job.attempt, job.progress) == ("processing", "host:1:abc", 1, 0)
    assert job.started_at == now
    assert job.lease_expires_at == now + timedelta(seconds=30)


@pytest.mark.django_db(transaction=True)
def test_claim__concurrent_claimers_never_get_the_same_job(org):
    BackgroundJob.objects.bulk_create([BackgroundJob(organization=org, job_type="noop") for _ in range(200)])
    taken: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def claimer(name: str) -> None:
        mine = taken.setdefault(name, [])
        barrier.wait()
        try:
            while batch := claim_jobs(worker_id=name, limit=7, lease_seconds=60):
                mine.extend(j.id for j in batch)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    all_taken = [job_id for ids in taken.values() for job_id in ids]
    assert len(all_taken) == 200
    assert len(set(all_taken)) == 200
    rows = BackgroundJob.objects.values_list("id", "locked_by")
    assert {job_id: worker for job_id, worker in rows} == {
        job_id: worker for worker, ids in taken.items() for job_id in ids
    }


# --- the fence ----------------------------------------------------------------------------


def test_fence__stale_worker_cannot_write_after_another_took_the_job_over(org):
    job = enqueue(org, run_at=timezone.now() - timedelta(minutes=10))
    # Worker A claimed it 5 minutes ago with a 60 s lease, then went silent.
    stale = claim_one("A", now=timezone.now() - timedelta(minutes=5))
    assert release_expired_leases(policy=POLICY) == 1
    fresh = claim_one("B")
    assert (fresh.id, fresh.attempt, fresh.retry_count) == (job.id, 2, 1)

    with pytest.raises(JobAborted):
        JobContext(job=stale, payload={}, deadline=float("inf")).set_progress(50)
    assert record_attempts([result(stale)], policy=POLICY) == 0
    assert record_attempts([result(stale, outcome="failed")], policy=POLICY) == 0
    assert hand_back([stale]) == 0
    assert renew_leases(worker_id="A", job_ids=[job.id], lease_seconds=60) == set()

    job.refresh_from_db()
    assert (job.status, job.locked_by, job.attempt, job.retry_count) == ("processing", "B", 2, 1)
    assert (job.progress, job.result) == (0, None)
    assert job.error_message == "worker A stopped renewing its lease (killed or lost)"
    assert attempts_of(job.id) == [(1, "lease_expired", "A")]

    JobContext(job=fresh, payload={}, deadline=float("inf")).set_progress(40)
    assert BackgroundJob.objects.get(pk=job.pk).progress == 40
    assert renew_leases(worker_id="B", job_ids=[job.id], lease_seconds=60) == {job.id}
    assert record_attempts([result(fresh)], policy=POLICY) == 1
    job.refresh_from_db()
    assert (job.status, job.result, job.progress, job.locked_by, job.error_message) == (
        "completed",
        {"ok": True},
        100,
        None,
        None,
    )
    assert attempts_of(job.id) == [(1, "lease_expired", "A"), (2, "completed", "B")]


def test_fence__lease_renewed_in_time_is_not_released(org):
    enqueue(org, run_at=timezone.now() - timedelta(minutes=10))
    claimed = claim_one("A", now=timezone.now() - timedelta(minutes=5))  # lease already expired…

    assert renew_leases(worker_id="A", job_ids=[claimed.id], lease_seconds=60) == {claimed.id}  # …but renewed

    assert release_expired_leases(policy=POLICY) == 0
    assert BackgroundJob.objects.get(pk=claimed.id).locked_by == "A"


def test_fence__lease_expired_on_the_last_retry_fails_the_job(org):
    job = enqueue(org, run_at=timezone.now() - timedelta(minutes=10), max_retries=0)
    claim_one("A", now=timezone.now() - timedelta(minutes=5))

    assert release_expired_leases(policy=POLICY) == 1

    job.refresh_from_db()
    assert (job.status, job.retry_count, job.locked_by) == ("failed", 1, None)
    assert job.completed_at is not None
    assert attempts_of(job.id) == [(1, "lease_expired", "A")]


def test_fence__cancel_before_the_result_discards_it_and_logs_a_cancelled_attempt(org):
    job = enqueue(org)
    claimed = claim_one("A")

    job_cancel(job=job, by="alice")
    assert record_attempts([result(claimed)], policy=POLICY) == 0

    job.refresh_from_db()
    assert (job.status, job.result, job.retry_count) == ("cancelled", None, 0)
    assert attempts_of(job.id) == [(1, "cancelled", "A")]
    with pytest.raises(JobAborted, match="cancelled"):
        JobContext(job=claimed, payload={}, deadline=float("inf")).set_progress(10)


def test_fence__result_before_the_cancel_wins_and_the_cancel_is_refused(org):
    job = enqueue(org)
    claimed = claim_one("A")

    assert record_attempts([result(claimed)], policy=POLICY) == 1
    with pytest.raises(JobStateError):
        job_cancel(job=job, by="alice")

    assert BackgroundJob.objects.get(pk=job.pk).status == JobStatus.COMPLETED


def test_hand_back__job_is_queued_again_without_spending_an_attempt(org):
    job = enqueue(org)
    claimed = claim_one("A")

    assert hand_back([claimed]) == 1

    job.refresh_from_db()
    assert (job.status, job.attempt, job.retry_count, job.locked_by, job.started_at) == ("queued", 0, 0, None, None)
    assert attempts_of(job.id) == []
    again = claim_one("B")
    assert (again.id, again.attempt) == (job.id, 1)
    assert hand_back([claimed]) == 0  # A's claim is void


def test_record__error_message_with_a_nul_character_is_stored_with_the_rest_of_the_batch(org):
    """PostgreSQL text cannot hold NUL: one such message must not wedge the worker's batch."""
    ok, bad = enqueue(org), enqueue(org)
    first, second = claim_jobs(worker_id="A", limit=2, lease_seconds=60)
    by_id = {first.id: first, second.id: second}

    applied = record_attempts(
        [result(by_id[ok.id]), result(by_id[bad.id], outcome="failed", error="ValueError: a\x00b")], policy=POLICY
    )

    assert applied == 2
    bad.refresh_from_db()
    assert (bad.status, bad.retry_count) == ("queued", 1)
    assert "\x00" not in bad.error_message
    assert BackgroundJob.objects.get(pk=ok.pk).status == JobStatus.COMPLETED


@pytest.mark.parametrize(
    "returned, error",
    [(None, None), ({"n": 1}, None), ([1], TypeError), ("done", TypeError), ({"x": "a\x00b"}, ValueError)],
)
def test_stored_result__handler_return_value_must_be_a_storable_json_object(returned, error):
    if error is None:
        assert stored_result(returned) == (returned or {}, json.dumps(returned or {}))
    else:
        with pytest.raises(error):
            stored_result(returned)


def test_claim__walks_the_claim_index_with_thousands_queued_and_the_pauses_table_never_analyzed(org):
    """Autovacuum never analyzes the near-empty pauses table. When the claim checked pauses
    with NOT EXISTS over it, PostgreSQL's guess for an unanalyzed table made it read and
    sort every queued job (116 ms a claim at 41,000 queued); the pauses in force now go into
    the statement as values, and the claim reads the claim index in order."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner (SQLite's claim names its index: INDEXED BY)")
    job_enqueue_many(organization=org, job_type="noop", payloads=[None] * 40_000)
    job_type_pause(job_type="cleanup", organization=org, by="test")  # a pause in force, of another type
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE background_jobs")  # as autovacuum keeps it; never the pauses table
    with CaptureQueriesContext(connection) as queries:
        claimed = claim_jobs(worker_id="host:1:w", limit=18, lease_seconds=60)
    claim_sql = next(q["sql"] for q in queries.captured_queries if "SKIP LOCKED" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {claim_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert len(claimed) == 18
    assert "bg_jobs_claim_idx" in plan, plan
    assert "Seq Scan on background_jobs" not in plan and "Sort" not in plan, plan
