"""Real `runworker` processes for the operations tests (metrics, logs, flags, probes)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.models import BackgroundJob, WorkerHeartbeat
from jobs.services import job_enqueue
from tests.workers import ROOT, start_worker, wait_until, worker_env


class WorkerProcess:
    def __init__(self, proc: subprocess.Popen, log: Path) -> None:
        self.proc = proc
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def json_lines(self) -> list[dict]:
        """Every line of its output, parsed as JSON (fails on a line that is not)."""
        return [json.loads(line) for line in self.output().splitlines() if line.strip()]

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"worker still running after {timeout} s:\n{self.output()}") from None

    def wait_started(self, timeout: float = 30) -> "WorkerProcess":
        assert wait_until(
            lambda: WorkerHeartbeat.objects.filter(pid=self.proc.pid).exists() or self.proc.poll() is not None,
            timeout,
        )
        assert self.proc.poll() is None, self.output()
        return self


@pytest.fixture
def workers(tmp_path, job_types):
    """`workers(*args, **env)` starts `manage.py runworker ARGS`; killed at the end of the test."""
    started: list[WorkerProcess] = []

    def start(*args: str, **env: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        env.setdefault("JOBS_HANDLER_MODULES", "tests.job_types")
        env.setdefault("LOG_DIR", "-")
        started.append(WorkerProcess(start_worker(*args, env=worker_env(**env), log_path=log), log))
        return started[-1]

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
        w.proc.wait(timeout=10)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`manage.py ARGS` on the test database, to the end."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=worker_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def enqueue(job_type: str, *, org=None, max_retries: int = 3, queue_name: str = "default", **payload) -> BackgroundJob:
    job, created = job_enqueue(
        organization=org,
        job_type=job_type,
        payload=payload,
        max_retries=max_retries,
        created_by="test",
        queue_name=queue_name,
    )
    assert created
    return job
