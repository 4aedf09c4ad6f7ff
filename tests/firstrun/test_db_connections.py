"""PostgreSQL connections stay bounded whatever the load: a web process holds at most
DB_POOL_MAX_SIZE, a worker at most its concurrency + 2 (main thread, LISTEN)."""

import subprocess
import sys
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import RefreshToken

from hcm.models import Role
from tests.factories import make_org, make_user
from tests.servers import free_port
from tests.workers import ROOT, start_worker, wait_until, worker_env
from tests.workers import test_database_url as database_url

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),  # the server processes must see the user
]

REQUESTS, CLIENTS, POOL_MAX = 500, 20, 4


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("connection bounds are about PostgreSQL (SQLite has no server connections)")


class ConnectionSampler:
    """Counts this test database's connections opened by one application_name (PGAPPNAME
    of the processes under test) every few milliseconds, on a connection of its own."""

    def __init__(self, application_name: str) -> None:
        self.application_name = application_name
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def count(self) -> int:
        with psycopg.connect(database_url().replace("postgres://", "postgresql://"), autocommit=True) as conn:
            return self._count(conn)

    def _count(self, conn: psycopg.Connection) -> int:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (connection.settings_dict["NAME"], self.application_name),
        ).fetchone()
        return row[0] if row else 0

    def _run(self) -> None:
        with psycopg.connect(database_url().replace("postgres://", "postgresql://"), autocommit=True) as conn:
            while not self._stop.wait(0.02):
                self.samples.append(self._count(conn))

    def __enter__(self) -> "ConnectionSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def get(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # not listening yet
        return 0


@pytest.mark.parametrize(
    "server,processes",
    [
        pytest.param(["manage.py", "runserver", "--noreload", "--skip-checks"], 1, id="runserver-threaded"),
        pytest.param(["-m", "gunicorn", "hcm.wsgi", "--workers", "2", "--threads", "8"], 2, id="gunicorn-2x8-threads"),
    ],
)
def test_web__500_requests_from_20_clients_stay_within_the_pool(tmp_path, server, processes):
    user = make_user(make_org("acme"), role=Role.SYSTEM_ADMIN, username="alice")
    token = str(RefreshToken.for_user(user).access_token)
    port = free_port()
    app = f"hcm-test-web-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        PGAPPNAME=app,
        DB_POOL_MAX_SIZE=str(POOL_MAX),
        DB_POOL_MIN_SIZE="1",
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_DIR=str(tmp_path),
        LOG_LEVEL="WARNING",
    )
    address = f"127.0.0.1:{port}"
    args = [*server, address] if "runserver" in server else [*server, "--bind", address]
    # The server's log goes to a file: an undrained pipe would fill and block its logging.
    errors = tmp_path / "server.err"
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors.open("wb")
    )
    base = f"http://{address}"
    paths = ["/health", "/api/system/notification-settings", "/api/notifications", "/api/system/background-jobs"]
    try:
        assert wait_until(lambda: get(f"{base}/health") == 200 or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, errors.read_text()
        with ConnectionSampler(app) as sampler, ThreadPoolExecutor(CLIENTS) as clients:
            statuses = list(clients.map(lambda i: get(base + paths[i % len(paths)], token=token), range(REQUESTS)))
        after = sampler.count()
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    assert statuses.count(200) == REQUESTS, {s: statuses.count(s) for s in set(statuses)}
    bound = processes * POOL_MAX
    assert 1 <= max(sampler.samples) <= bound, f"peak {max(sampler.samples)} connections, bound {bound}"
    assert after <= bound


def test_worker__holds_at_most_concurrency_plus_two_connections(tmp_path, job_types):
    from jobs.services import job_enqueue

    org = make_org("acme")
    for _ in range(12):
        job_enqueue(
            organization=org, job_type="test_progress_loop", payload={"steps": 5, "interval": 0.2}, max_retries=0
        )
    app = f"hcm-test-worker-{uuid.uuid4().hex[:8]}"
    concurrency = 3
    env = worker_env(JOBS_HANDLER_MODULES="tests.job_types", PGAPPNAME=app, DB_POOL_MAX_SIZE="2")
    with ConnectionSampler(app) as sampler:
        worker = start_worker("--burst", "--concurrency", str(concurrency), env=env, log_path=tmp_path / "worker.out")
        try:
            assert worker.wait(timeout=120) == 0, (tmp_path / "worker.out").read_text()
        finally:
            if worker.poll() is None:
                worker.kill()

    from jobs.models import BackgroundJob

    assert BackgroundJob.objects.filter(status="completed").count() == 12
    # Main thread + LISTEN + one per handler thread; more than the pool of 2 in its
    # environment would give (the worker does not use the pool: its threads would wait).
    assert 2 < max(sampler.samples) <= concurrency + 2, sampler.samples
