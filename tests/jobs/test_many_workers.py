"""Many machines, one queue: eight `manage.py runworker` processes (standing in for
several hosts) with their default options take a few thousand jobs queued while they
run, and every job runs exactly once: none lost, none run twice, no retries.

Proof from both sides: the handler's own record (tests/job_types.py `test_record` appends
`ran <job id> <attempt> <pid>` to a file, one O_APPEND write per run) and what the workers
wrote to the database (status, attempt counter, attempt log, heartbeats). Runs on SQLite
and PostgreSQL (eight processes on one SQLite file is the harder case for its lock).
"""

import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from jobs.models import BackgroundJob, JobAttempt, JobStatus, WorkerHeartbeat
from jobs.services import job_enqueue_many
from tests.workers import start_worker, wait_until, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WORKERS = 8
JOBS = 3000
BATCH = 250  # queued in batches while the workers run, so they compete for each batch


@pytest.fixture
def eight_workers(tmp_path, job_types):
    """WORKERS runworker processes with their default options and the test job types;
    any still running at the end of the test is killed."""
    procs: list[tuple[subprocess.Popen, Path]] = []
    for i in range(WORKERS):
        log = tmp_path / f"worker-{i}.log"
        env = worker_env(JOBS_HANDLER_MODULES="tests.job_types", LOG_DIR=str(tmp_path / "logs"), LOG_LEVEL="WARNING")
        procs.append((start_worker(env=env, log_path=log), log))
    yield procs
    for proc, _ in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_eight_workers__3000_jobs_queued_while_they_run__each_runs_exactly_once(
    eight_workers, job_types, tmp_path, org
):
    ran = tmp_path / "ran.log"
    pids = {proc.pid for proc, _ in eight_workers}
    heartbeats = WorkerHeartbeat.objects.filter(pid__in=pids)

    def outputs() -> list[str]:
        return [log.read_text(errors="replace")[-2000:] for _, log in eight_workers]

    assert wait_until(lambda: heartbeats.count() == WORKERS, 120), outputs()

    ids: list[str] = []
    for _ in range(JOBS // BATCH):
        ids += job_enqueue_many(organization=org, job_type="test_record", payloads=[{"path": str(ran)}] * BATCH)
    jobs = BackgroundJob.objects.filter(pk__in=ids)
    done = wait_until(lambda: jobs.filter(status=JobStatus.COMPLETED).count() == JOBS, 240, interval=0.5)
    for proc, _ in eight_workers:
        proc.send_signal(signal.SIGTERM)
    exit_codes = [proc.wait(timeout=60) for proc, _ in eight_workers]

    assert done, Counter(jobs.values_list("status", flat=True))
    assert exit_codes == [0] * WORKERS, outputs()
    # The handler's side: each job ran once, on its first attempt, in one of the eight.
    runs = job_types.read_lines(ran)
    ran_ids = Counter(run[1] for run in runs)
    assert [job for job, times in ran_ids.items() if times > 1] == [], "a job ran twice"
    assert set(ran_ids) == set(ids), "a job was lost (or an unknown one ran)"
    assert {run[2] for run in runs} == {"1"}
    by_process = Counter(int(run[3]) for run in runs)
    assert set(by_process) <= pids
    # They competed: at least half of them took jobs (all eight are up before the first batch).
    assert len(by_process) >= WORKERS // 2, f"the jobs went to few workers: {by_process}"
    # The database's side: completed on attempt 1, one attempt row each, no retries.
    assert set(jobs.values_list("status", "attempt", "retry_count")) == {("completed", 1, 0)}
    attempts = JobAttempt.objects.filter(job__in=ids)
    assert attempts.count() == JOBS
    assert attempts.values("job").distinct().count() == JOBS
    assert set(attempts.values_list("outcome", flat=True)) == {"completed"}
    assert set(attempts.values_list("worker_id", flat=True)) <= set(heartbeats.values_list("worker_id", flat=True))
    assert sum(heartbeats.values_list("jobs_done", flat=True)) == JOBS
    assert all(hb.stopped_at is not None for hb in heartbeats)
