"""runworker as operators run it: real processes, real signals, the real database.

Each test starts `manage.py runworker` processes on the test database (SQLite file or
PostgreSQL) with the test job types of tests/job_types.py, and checks what a user would:
the jobs' rows, their attempt log, the handler's own record of what ran, the worker's
exit code and its log lines.
"""

import re
import signal
import socket
import subprocess
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jobs.models import BackgroundJob, JobAttempt, JobStatus, WorkerHeartbeat
from jobs.services import job_cancel, job_enqueue
from tests.workers import start_worker, wait_until, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
postgres_only = pytest.mark.skipif(not POSTGRES, reason="PostgreSQL only")
sqlite_only = pytest.mark.skipif(POSTGRES, reason="SQLite only")


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen, log: Path) -> None:
        self.proc = proc
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def heartbeat(self) -> WorkerHeartbeat | None:
        return WorkerHeartbeat.objects.filter(pid=self.pid).first()

    def wait_started(self, timeout: float = 30) -> "WorkerProcess":
        assert wait_until(lambda: self.heartbeat() is not None or self.proc.poll() is not None, timeout)
        assert self.proc.poll() is None, self.output()
        return self

    def wait_logged(self, text: str, timeout: float = 20) -> None:
        assert wait_until(lambda: text in self.output(), timeout), self.output()


@pytest.fixture
def workers(tmp_path, job_types):
    """Start runworker processes: `workers(*args, **env)`; any still running at the end
    of the test is killed."""
    started: list[WorkerProcess] = []

    def start(*args: str, **env: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        env.setdefault("JOBS_HANDLER_MODULES", "tests.job_types")
        env.setdefault("LOG_DIR", str(tmp_path / "logs"))
        proc = start_worker(*args, env=worker_env(**env), log_path=log)
        started.append(WorkerProcess(proc, log))
        return started[-1]

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
        w.proc.wait(timeout=10)


def enqueue(job_type: str, *, org=None, max_retries: int = 3, **payload) -> BackgroundJob:
    job, created = job_enqueue(
        organization=org, job_type=job_type, payload=payload, max_retries=max_retries, created_by="test"
    )
    assert created
    return job


def attempts_of(job: BackgroundJob) -> list[tuple[int, str, str]]:
    return list(JobAttempt.objects.filter(job=job).order_by("attempt").values_list("attempt", "outcome", "worker_id"))


def status_of(job: BackgroundJob) -> str:
    return BackgroundJob.objects.values_list("status", flat=True).get(pk=job.pk)


def events(job_types, path: Path, kind: str | None = None) -> list[list[str]]:
    return [e for e in job_types.read_lines(path) if kind is None or e[0] == kind]


def log_fields(line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}


def log_lines(output: str, message: str, job_id: str) -> list[dict[str, str]]:
    return [log_fields(line) for line in output.splitlines() if f" {message} " in line and job_id in line]


# --- exactly once --------------------------------------------------------------------------


def test_four_workers__run_2000_jobs_each_exactly_once(workers, job_types, tmp_path, org):
    ran = tmp_path / "ran.log"
    procs = [workers("--concurrency", "8", "--poll-interval", "0.1") for _ in range(4)]
    for w in procs:
        w.wait_started()
    BackgroundJob.objects.bulk_create(
        [BackgroundJob(organization=org, job_type="test_record", payload={"path": str(ran)}) for _ in range(2000)]
    )

    records = BackgroundJob.objects.filter(job_type="test_record")
    done = wait_until(lambda: records.filter(status=JobStatus.COMPLETED).count() == 2000, 90)
    for w in procs:
        w.signal(signal.SIGTERM)
    exit_codes = [w.wait() for w in procs]

    assert done, Counter(records.values_list("status", flat=True))
    assert exit_codes == [0, 0, 0, 0], [w.output()[-2000:] for w in procs]
    runs = events(job_types, ran, "ran")
    job_ids = [run[1] for run in runs]
    assert len(job_ids) == 2000
    assert len(set(job_ids)) == 2000, "a job ran twice"
    assert {run[2] for run in runs} == {"1"}
    pids = Counter(int(run[3]) for run in runs)
    assert set(pids) <= {w.pid for w in procs}
    assert len(pids) >= 2, f"one worker took every job: {pids}"
    attempts = JobAttempt.objects.filter(job__organization=org)
    assert attempts.count() == 2000
    assert attempts.values("job").distinct().count() == 2000
    assert set(attempts.values_list("outcome", flat=True)) == {"completed"}
    jobs = BackgroundJob.objects.filter(organization=org)
    assert set(jobs.values_list("status", "attempt", "retry_count", "progress")) == {("completed", 1, 0, 100)}
    assert all(result["pid"] in pids for result in jobs.values_list("result", flat=True))
    heartbeats = WorkerHeartbeat.objects.filter(pid__in=[w.pid for w in procs])
    assert sum(heartbeats.values_list("jobs_done", flat=True)) == 2000
    assert all(hb.stopped_at is not None for hb in heartbeats)


# --- crash safety ----------------------------------------------------------------------------


def test_sigkill_mid_job__another_worker_takes_it_after_the_lease_expires(workers, job_types, tmp_path):
    trace = tmp_path / "trace.log"
    first = workers("--lease", "2", "--concurrency", "1").wait_started()
    job = enqueue("test_sleep", seconds=1.5, path=str(trace))
    assert wait_until(lambda: events(job_types, trace, "start"), 20), first.output()
    first_id = first.heartbeat().worker_id

    first.signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    assert status_of(job) == JobStatus.PROCESSING  # nobody has noticed yet
    second = workers("--lease", "2", "--concurrency", "1").wait_started()

    assert wait_until(lambda: status_of(job) == JobStatus.COMPLETED, 30), second.output()
    second_id = second.heartbeat().worker_id
    assert attempts_of(job) == [(1, "lease_expired", first_id), (2, "completed", second_id)]
    job.refresh_from_db()
    assert job.retry_count == 1
    assert job.attempt == 2
    assert job.result == {"slept": 1.5}
    assert job.error_message is None
    assert [(e[0], e[2], int(e[3])) for e in events(job_types, trace)] == [
        ("start", "1", first.pid),
        ("start", "2", second.pid),
        ("end", "2", second.pid),
    ]
    assert log_lines(second.output(), "job lease expired", job.id)[0]["outcome"] == "lease_expired"


# --- shutdown ----------------------------------------------------------------------------


def test_sigterm__finishes_what_fits_the_grace_period_hands_back_the_rest_exits_0(workers, job_types, tmp_path):
    trace = tmp_path / "trace.log"
    worker = workers("--concurrency", "2", "--grace-period", "2.5").wait_started()
    short = enqueue("test_sleep", seconds=1, path=str(trace))
    long = enqueue("test_sleep", seconds=60, path=str(trace))
    assert wait_until(lambda: len(events(job_types, trace, "start")) == 2, 20), worker.output()

    worker.signal(signal.SIGTERM)

    assert worker.wait(timeout=20) == 0, worker.output()
    output = worker.output()
    short.refresh_from_db()
    long.refresh_from_db()
    assert (short.status, short.retry_count, short.result) == ("completed", 0, {"slept": 1.0})
    assert attempts_of(short) == [(1, "completed", worker.heartbeat().worker_id)]
    # Handed back: queued again at once, no attempt spent, nothing left "processing".
    assert (long.status, long.retry_count, long.attempt, long.locked_by) == ("queued", 0, 0, None)
    assert long.available_at <= timezone.now()
    assert attempts_of(long) == []
    assert not BackgroundJob.objects.filter(status=JobStatus.PROCESSING).exists()
    assert [e[1] for e in events(job_types, trace, "end")] == [short.id]
    # One structured line per job at the default level (INFO): its outcome. The start is DEBUG.
    assert log_lines(output, "job started", short.id) == []
    [completed] = log_lines(output, "job completed", short.id)
    [handed] = log_lines(output, "job handed back", long.id)
    assert (completed["job_type"], completed["attempt"], completed["outcome"]) == ("test_sleep", "1", "completed")
    assert float(completed["duration_ms"]) >= 1000
    assert handed["outcome"] == "handed_back"
    assert "grace period over" in output
    # The heartbeat row says who ran, and that it stopped.
    hb = worker.heartbeat()
    assert (hb.hostname, hb.pid, hb.jobs_done) == (socket.gethostname(), worker.pid, 1)
    assert hb.started_at <= hb.last_seen_at
    assert hb.stopped_at is not None


def test_sigterm__a_second_signal_exits_at_once(workers, job_types, tmp_path):
    trace = tmp_path / "trace.log"
    worker = workers("--concurrency", "1", "--grace-period", "60").wait_started()
    enqueue("test_sleep", seconds=60, path=str(trace))
    assert wait_until(lambda: events(job_types, trace, "start"), 20), worker.output()

    worker.signal(signal.SIGTERM)
    worker.wait_logged("worker stopping")
    worker.signal(signal.SIGTERM)

    assert worker.wait(timeout=10) != 0
    assert "second signal" in worker.output()


def test_sigterm__idle_worker_exits_0_and_marks_its_heartbeat_stopped(workers):
    worker = workers("--poll-interval", "30").wait_started()

    worker.signal(signal.SIGINT)

    assert worker.wait(timeout=15) == 0, worker.output()
    assert worker.heartbeat().stopped_at is not None


# --- cancel ----------------------------------------------------------------------------------


def test_cancel__processing_job_stops_at_its_next_progress_check_and_is_not_retried(workers, job_types, tmp_path):
    trace = tmp_path / "trace.log"
    worker = workers("--concurrency", "2").wait_started()
    job = enqueue("test_progress_loop", steps=400, interval=0.05, path=str(trace))  # 20 s if not stopped
    assert wait_until(lambda: BackgroundJob.objects.get(pk=job.pk).progress > 0, 20), worker.output()

    job_cancel(job=job, by="alice")

    assert wait_until(lambda: attempts_of(job), 10), worker.output()
    job.refresh_from_db()
    assert (job.status, job.result, job.retry_count, job.attempt) == ("cancelled", None, 0, 1)
    [(attempt, outcome, _)] = attempts_of(job)
    assert (attempt, outcome) == (1, "cancelled")
    assert events(job_types, trace, "end") == []  # it stopped, it did not run to the end
    # The worker goes on (the slot is free) and never takes the cancelled job again.
    after = enqueue("test_record", path=str(tmp_path / "ran.log"))
    assert wait_until(lambda: status_of(after) == JobStatus.COMPLETED, 20), worker.output()
    assert status_of(job) == JobStatus.CANCELLED
    assert len(attempts_of(job)) == 1


def test_cancel__late_result_of_a_handler_that_never_checks_is_discarded(workers, job_types, tmp_path):
    trace = tmp_path / "trace.log"
    worker = workers("--concurrency", "1").wait_started()
    job = enqueue("test_sleep", seconds=1.5, checks=False, path=str(trace))
    assert wait_until(lambda: events(job_types, trace, "start"), 20), worker.output()

    job_cancel(job=job, by="alice")

    assert wait_until(lambda: attempts_of(job), 15), worker.output()
    job.refresh_from_db()
    assert [e[1] for e in events(job_types, trace, "end")] == [job.id]  # it ran to its end…
    assert (job.status, job.result, job.retry_count) == ("cancelled", None, 0)  # …and its result is void
    assert [(a, o) for a, o, _ in attempts_of(job)] == [(1, "cancelled")]
    # INFO lines reach the log within hcm.logging.FLUSH_INTERVAL, not at once.
    assert wait_until(lambda: log_lines(worker.output(), "job cancelled while running; result discarded", job.id), 5)


# --- timeouts --------------------------------------------------------------------------------


def test_timeout__handler_ignoring_checks_is_timed_out_retried_then_failed_and_its_thread_replaced(
    workers, job_types, tmp_path
):
    trace = tmp_path / "trace.log"
    # Two abandoned threads at once: above the default limit (--concurrency) of this worker.
    worker = workers("--concurrency", "1", "--max-abandoned-threads", "2", JOBS_RETRY_BASE_SECONDS="0.1").wait_started()
    stuck = enqueue("test_stubborn", seconds=5, path=str(trace), max_retries=1)
    later = [enqueue("test_record", path=str(tmp_path / "ran.log")) for _ in range(3)]

    assert wait_until(lambda: status_of(stuck) == JobStatus.FAILED, 20), worker.output()
    assert wait_until(lambda: all(status_of(j) == JobStatus.COMPLETED for j in later), 20), worker.output()

    stuck.refresh_from_db()
    assert [(a, o) for a, o, _ in attempts_of(stuck)] == [(1, "timeout"), (2, "timeout")]
    assert stuck.retry_count == 2
    assert stuck.error_message == "timed out after 0.5 s"
    assert stuck.result is None
    assert worker.output().count("its thread is abandoned and replaced") == 2
    assert worker.proc.poll() is None
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


# --- the database goes away ------------------------------------------------------------------


@postgres_only
def test_database_outage__postgresql_worker_reconnects_and_loses_no_result(workers, job_types, tmp_path):
    trace = tmp_path / "trace.log"
    worker = workers("--concurrency", "2", "--lease", "20", "--poll-interval", "0.2").wait_started()
    worker.wait_logged("listening for enqueues")
    in_flight = enqueue("test_sleep", seconds=1.5, path=str(trace))
    assert wait_until(lambda: events(job_types, trace, "start"), 20), worker.output()

    # The job finishes while the database refuses the worker: its outcome must wait.
    with refused_connections(keep=connection):
        assert wait_until(lambda: events(job_types, trace, "end"), 10)
        # The worker holds the finished job's outcome and keeps trying to write it.
        assert wait_until(lambda: "unrecorded=1" in worker.output(), 15), worker.output()
    after = enqueue("test_record", path=str(tmp_path / "ran.log"))

    assert wait_until(lambda: status_of(after) == JobStatus.COMPLETED, 30), worker.output()
    assert wait_until(lambda: status_of(in_flight) == JobStatus.COMPLETED, 10), worker.output()
    assert [(a, o) for a, o, _ in attempts_of(in_flight)] == [(1, "completed")]
    assert worker.proc.poll() is None
    # INFO lines reach the log within hcm.logging.FLUSH_INTERVAL, not at once.
    assert wait_until(lambda: "database available again" in worker.output(), 5), worker.output()
    assert "LISTEN connection lost" in worker.output()
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


@contextmanager
def refused_connections(*, keep):
    """An outage of the test database for everyone but the `keep` connection: new
    connections refused, existing ones terminated (run from the maintenance database:
    PostgreSQL won't close the current database to connections)."""
    import psycopg

    with keep.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [keep_pid] = cursor.fetchone()
    params = {k: v for k, v in keep.get_connection_params().items() if k not in ("context", "cursor_factory")}
    name = params.pop("dbname")
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                [name, keep_pid],
            )
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@sqlite_only
def test_database_outage__sqlite_locked_database_worker_waits_and_loses_no_result(workers, job_types, tmp_path):
    """SQLite cannot drop connections; the outage a worker meets is the database locked by
    another writer for longer than its busy timeout (0.1 s here): same code path."""
    trace = tmp_path / "trace.log"
    worker = workers("--concurrency", "2", SQLITE_BUSY_TIMEOUT="0.1").wait_started()
    in_flight = enqueue("test_sleep", seconds=1, path=str(trace))
    assert wait_until(lambda: events(job_types, trace, "start"), 20), worker.output()

    with transaction.atomic():  # BEGIN IMMEDIATE: holds SQLite's one write lock
        BackgroundJob.objects.filter(pk=in_flight.pk).update(updated_by="lock holder")
        # The job has finished; the worker holds its outcome and keeps trying to write it.
        assert wait_until(lambda: "unrecorded=1" in worker.output(), 15), worker.output()
    after = enqueue("test_record", path=str(tmp_path / "ran.log"))

    assert wait_until(lambda: status_of(after) == JobStatus.COMPLETED, 30), worker.output()
    assert wait_until(lambda: status_of(in_flight) == JobStatus.COMPLETED, 10), worker.output()
    assert [(a, o) for a, o, _ in attempts_of(in_flight)] == [(1, "completed")]
    assert wait_until(lambda: "database available again" in worker.output(), 5), worker.output()
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


# --- waking up -------------------------------------------------------------------------------


@postgres_only
def test_listen_notify__idle_worker_starts_an_enqueued_job_without_waiting_for_the_poll(workers, job_types, tmp_path):
    worker = workers("--poll-interval", "30").wait_started()
    worker.wait_logged("listening for enqueues")

    waits = []
    for _ in range(3):
        job = enqueue("test_record", path=str(tmp_path / "ran.log"))
        assert wait_until(lambda j=job: status_of(j) == JobStatus.COMPLETED, 10), worker.output()
        job.refresh_from_db()
        waits.append((job.started_at - job.created_at).total_seconds())

    # Correctness of the wake-up, not a benchmark: without it each job would wait for the
    # next poll or heartbeat (10 s or more apart), not a few seconds at most.
    assert max(waits) < 3, waits


# --- batching ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_short_jobs__claimed_and_recorded_in_big_batches_each_exactly_once():
    """No-op jobs: the worker claims ahead of its threads and records many outcomes per
    transaction (issue 13), and every job still runs exactly once. A statement count, no timing."""
    from hcm.models import Organization
    from jobs.services import job_enqueue_many
    from jobs.worker import Worker

    org = Organization.objects.create(slug="batching", name="Batching")
    n = 600
    job_enqueue_many(organization=org, job_type="noop", payloads=[None] * n)
    statements: Counter[str] = Counter()

    def count(execute, sql, params, many, context):
        if sql.lstrip().startswith(("UPDATE background_jobs", "WITH picked")) and "RETURNING" in sql:
            statements["claim" if "'processing'" in sql.split("WHERE")[0] else "complete"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):  # the main thread's connection: every claim and record
        Worker(concurrency=4, burst=True, listen=False, poll_interval=0.01).run()

    assert BackgroundJob.objects.filter(status=JobStatus.COMPLETED).count() == n
    assert JobAttempt.objects.filter(outcome="completed").count() == n
    assert sorted(Counter(JobAttempt.objects.values_list("job_id", flat=True)).values()) == [1] * n
    # 4 at first (no durations known yet), then up to 4 + 100 at a time (it was 4 and 16 in turn).
    assert statements["claim"] <= n // 20, statements
    assert statements["complete"] <= n // 20, statements


@pytest.mark.django_db(transaction=True)
def test_handler_thread__connection_left_in_a_transaction_is_not_reused_by_the_next_job(job_types, org):
    """A handler that returns mid-transaction: before the thread's next job the worker
    closes that connection (as Django does between requests), so the next job's write is
    committed instead of vanishing in a transaction nobody ends."""
    from hcm.models import Organization
    from jobs.worker import Worker

    job_enqueue(organization=org, job_type="test_open_transaction")
    job_enqueue(organization=org, job_type="test_rename_org", payload={"name": "Renamed by a job"})

    Worker(concurrency=1, burst=True, listen=False, poll_interval=0.01).run()  # one thread: both jobs on it

    assert BackgroundJob.objects.filter(status=JobStatus.COMPLETED).count() == 2
    assert Organization.objects.get(pk=org.pk).name == "Renamed by a job"
