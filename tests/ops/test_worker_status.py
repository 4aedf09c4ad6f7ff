"""`manage.py worker_status`: a liveness probe's exit codes, against real workers."""

import signal

import pytest

from tests.ops.conftest import manage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_no_worker__exits_1():
    done = manage("worker_status")

    assert done.returncode == 1
    assert "not alive" in done.stderr


def test_running_worker__exits_0_for_any_and_for_its_id_then_1_once_stopped(workers):
    worker = workers("--worker-id", "probe-1", LOG_DIR="-").wait_started()

    any_worker = manage("worker_status")
    this_one = manage("worker_status", "--worker-id", "probe-1")
    another = manage("worker_status", "--worker-id", "probe-2")

    assert (any_worker.returncode, this_one.returncode, another.returncode) == (0, 0, 1)
    assert "alive: probe-1" in this_one.stdout

    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert manage("worker_status", "--worker-id", "probe-1").returncode == 1  # stopped, not alive


def test_silent_worker__exits_1_once_its_heartbeat_is_too_old(workers):
    worker = workers("--worker-id", "probe-3", LOG_DIR="-").wait_started()
    worker.proc.send_signal(signal.SIGSTOP)  # hung: alive as a process, no heartbeat
    try:
        assert manage("worker_status", "--worker-id", "probe-3", "--max-age", "0").returncode == 1
        assert manage("worker_status", "--worker-id", "probe-3", "--max-age", "3600").returncode == 0
    finally:
        worker.proc.send_signal(signal.SIGCONT)


def test_database_unreachable__exits_2():
    done = manage("worker_status", DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere")

    assert done.returncode == 2
    assert "database unavailable" in done.stderr
