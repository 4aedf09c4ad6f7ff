"""/stats' kept figures (jobs/stats_figures.py) against a real count of the rows, after a
mixed workload: real worker processes running, failing and retrying jobs
while jobs are cancelled, retried, deleted, bulk-updated and expired by retention."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from jobs.models import AttemptOutcome, BackgroundJob, JobAttempt, JobStatus, JobStatusCount
from jobs.retention import delete_expired_jobs
from jobs.services import job_cancel, job_enqueue, job_enqueue_many, job_retry
from jobs.stats_figures import attempt_durations, compact_figures, job_counts
from tests.workers import start_worker, wait_until, worker_env

pytestmark = pytest.mark.usefixtures("job_types")


def real_counts(organization_id: str | None) -> Counter:
    rows = BackgroundJob.objects.filter(organization_id=organization_id).values("job_type", "status")
    return Counter({(r["job_type"], r["status"]): r["n"] for r in rows.annotate(n=Count("id")).order_by()})


def stats_counts(organization_id: str | None) -> Counter:
    counted, _ = job_counts(organization_id=organization_id)
    return Counter({(job_type, status): n for job_type, status, n in counted})


def real_durations(organization_id: str | None, since) -> dict:
    attempts = JobAttempt.objects.filter(job__organization_id=organization_id, finished_at__gte=since)
    rows = attempts.values("job_type").annotate(
        runs=Count("id"), succeeded=Count("id", filter=Q(outcome=AttemptOutcome.COMPLETED)), total=Sum("duration_ms")
    )
    return {r["job_type"]: (r["runs"], r["succeeded"], round(r["total"], 3)) for r in rows.order_by()}


def kept_durations(organization_id: str | None, since) -> dict:
    per_type = attempt_durations(organization_id=organization_id, since=since)
    return {t: (r["runs"], r["succeeded"], round(r["total_ms"], 3)) for t, r in per_type.items()}


def assert_figures_match_rows(org_ids: list[str | None]) -> None:
    since = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=7)
    for org_id in org_ids:
        assert stats_counts(org_id) == real_counts(org_id), org_id
        assert kept_durations(org_id, since) == real_durations(org_id, since), org_id


def run_burst_workers(processes: int = 2) -> None:
    env = worker_env(JOBS_HANDLER_MODULES="tests.job_types", JOBS_RETRY_BASE_SECONDS="0", LOG_LEVEL="WARNING")
    workers = [start_worker("--burst", "--concurrency", "3", env=env) for _ in range(processes)]
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output.decode()


@pytest.mark.django_db(transaction=True)
def test_figures_equal_a_real_count_after_a_mixed_workload_with_real_workers(org, other_org):
    for org_ in (org, other_org):
        job_enqueue_many(organization=org_, job_type="test_noop", payloads=[None] * 40)
        for _ in range(5):
            job_enqueue(organization=org_, job_type="test_fail", payload={"times": 1})  # fails once, then succeeds
        job_enqueue_many(organization=org_, job_type="test_fail", payloads=[{"times": 9, "permanent": True}] * 4)
        job_enqueue(organization=org_, job_type="test_noop", run_at=timezone.now() + timedelta(hours=1))
    job_enqueue(organization=None, job_type="test_noop")  # service-wide
    sleepers = [job_enqueue(organization=org, job_type="test_sleep", payload={"seconds": 5})[0] for _ in range(2)]
    to_cancel = job_enqueue(organization=other_org, job_type="test_noop", run_at=timezone.now() + timedelta(days=1))[0]
    job_cancel(job=to_cancel, by="alice")

    env = worker_env(JOBS_HANDLER_MODULES="tests.job_types", JOBS_RETRY_BASE_SECONDS="0", LOG_LEVEL="WARNING")
    running = [start_worker("--concurrency", "3", env=env) for _ in range(2)]
    try:
        # Cancel the sleepers while a worker runs them.
        assert wait_until(lambda: BackgroundJob.objects.filter(job_type="test_sleep", status="processing").count() == 2)
        for job in sleepers:
            job_cancel(job=job, by="alice")
        assert wait_until(
            lambda: (
                not BackgroundJob.objects.filter(status__in=["processing"]).exists()
                and not BackgroundJob.objects.filter(status="queued", available_at__lte=timezone.now()).exists()
            ),
            timeout=90,
        )
    finally:
        for worker in running:
            worker.terminate()
        for worker in running:
            worker.communicate(timeout=60)
    assert JobAttempt.objects.filter(outcome=AttemptOutcome.COMPLETED).count() > 80
    assert BackgroundJob.objects.filter(status=JobStatus.FAILED).exists()
    assert_figures_match_rows([org.pk, other_org.pk, None])

    # Retry the failed ones, run them again (they fail again: permanent), delete a few jobs
    # with their attempts, bulk-update others as the admin's actions do, expire the rest.
    for job in BackgroundJob.objects.filter(status=JobStatus.FAILED, organization=org):
        job_retry(job=job, by="alice")
    run_burst_workers()
    doomed = list(BackgroundJob.objects.filter(organization=other_org, job_type="test_noop")[:7])
    for job in doomed:
        job.delete()
    bulk = BackgroundJob.objects.filter(organization=org, job_type="test_noop", status=JobStatus.COMPLETED)
    BackgroundJob.objects.filter(pk__in=list(bulk.values_list("pk", flat=True)[:6])).update(
        status=JobStatus.FAILED, error_message="marked failed"
    )
    assert_figures_match_rows([org.pk, other_org.pk, None])

    deleted = delete_expired_jobs(now=timezone.now() + timedelta(days=3650), organization_id=other_org.pk)
    assert deleted["completed_jobs"] > 0
    assert_figures_match_rows([org.pk, other_org.pk, None])

    # Only finished statuses are kept (queued and processing are counted live).
    kept_statuses = set(JobStatusCount.objects.values_list("status", flat=True))
    assert kept_statuses and kept_statuses <= {"completed", "failed", "cancelled"}

    # PostgreSQL's ledger folds into one row per key without changing a figure.
    compact_figures(all_organizations=True)
    assert_figures_match_rows([org.pk, other_org.pk, None])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM background_job_counts GROUP BY organization_id, job_type, status"
            " HAVING COUNT(*) > 1) AS repeated"
        )
        assert cursor.fetchone()[0] == 0


def test_stats_reads_a_bounded_number_of_statements(admin_client, org, django_assert_max_num_queries):
    for _ in range(30):
        job_enqueue(organization=org, job_type="test_noop")

    with django_assert_max_num_queries(12):
        response = admin_client.get("/api/system/background-jobs/stats")

    assert response.status_code == 200
    assert response.json()["by_status"]["queued"] == 30


def test_stats_counts_the_pending_queue_along_a_covering_list_index(admin_client, org):
    """Queued and processing jobs are counted live: a range of the (organization, status,
    priority, …, job_type) index per status, never a walk over every job."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        job_enqueue(organization=org, job_type="test_noop")
    with CaptureQueriesContext(connection) as ctx:
        assert admin_client.get("/api/system/background-jobs/stats").status_code == 200
    [live] = [q["sql"] for q in ctx.captured_queries if "status IN (" in q["sql"] and "COUNT(*)" in q["sql"]]

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {live}")
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            assert "COVERING INDEX bg_jobs_org_status_idx (organization_id=? AND status=?)" in plan, plan
        else:
            # A test-sized table, with whatever statistics earlier tests left (ANALYZE's
            # figures are not rolled back): only index paths are left to choose from. Without
            # a vacuumed visibility map, an index scan and an index-only scan of the same
            # range cost alike; either reads that range, not every job.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute(f"EXPLAIN {live}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Scan using bg_jobs_org_status_idx" in plan, plan
            assert "Seq Scan" not in plan, plan


def test_the_cleanup_step_drops_duration_hours_no_window_reads(org):
    from jobs.cleanup import cleanup_steps
    from jobs.models import JobDurationFigure

    job, _ = job_enqueue(organization=org, job_type="test_noop")
    for days_ago in (10, 1):
        finished = timezone.now() - timedelta(days=days_ago)
        JobAttempt.objects.create(
            job=job,
            attempt=1,
            worker_id="host:1",
            job_type="test_noop",
            started_at=finished,
            finished_at=finished,
            duration_ms=5.0,
            outcome=AttemptOutcome.COMPLETED,
        )
    assert JobDurationFigure.objects.filter(runs__gt=0).count() == 2

    removed = cleanup_steps("expired_data")["stats_figures"](None)

    assert removed >= 1
    assert [f.hour.date() for f in JobDurationFigure.objects.all()] == [(timezone.now() - timedelta(days=1)).date()]
    since = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=7)
    assert kept_durations(org.pk, since) == real_durations(org.pk, since) == {"test_noop": (1, 1, 5.0)}


@pytest.mark.django_db(transaction=True)
def test_a_worker_folds_the_figures_ledger_from_its_heartbeat(org):
    """PostgreSQL's ledger does not wait for someone to read /stats: a worker folds it."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps one row per key: there is no ledger to fold")
    env = worker_env(JOBS_HANDLER_MODULES="tests.job_types", LOG_LEVEL="WARNING", JOBS_FIGURES_COMPACT_SECONDS="0")
    # Three bursts with folding off: at least one ledger row per key per burst.
    for _ in range(3):
        job_enqueue_many(organization=org, job_type="test_noop", payloads=[{}] * 10)
        run_burst(env)

    def ledger_rows() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM background_job_counts WHERE organization_id = %s", [org.pk])
            return cursor.fetchone()[0]

    assert ledger_rows() >= 3
    assert stats_counts(org.pk) == Counter({("test_noop", "completed"): 30})

    # A worker with nothing to run, folding on (the default): its first heartbeat folds.
    run_burst({**env, "JOBS_FIGURES_COMPACT_SECONDS": "60"})

    assert ledger_rows() == 1
    assert_figures_match_rows([org.pk])


def run_burst(env: dict[str, str]) -> None:
    worker = start_worker("--burst", "--concurrency", "1", env=env)
    output, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, output.decode()
