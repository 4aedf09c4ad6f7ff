"""The real app served by gunicorn in a subprocess, against the test database, for tests
that must go over the network the way a client does (tests/workers.py does the same for
`runworker`). Data a test makes must be committed to be seen: use `transactional_db`."""

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.error import URLError

from tests.servers import free_port
from tests.workers import ROOT, wait_until, worker_env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (URLError, OSError):
        return False


@contextmanager
def live_server(*, log_dir: Path, **env: str) -> Iterator[str]:
    """`with live_server(log_dir=tmp_path) as base_url:` gunicorn serving hcm.wsgi with
    tests.live_settings (no rate limits, fast password hashing); `env` adds variables.
    What it logs is in `log_dir / "live-server.out"`."""
    port = free_port()
    out = log_dir / "live-server.out"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "hcm.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            # One process, one thread: one database connection, kept (CONN_MAX_AGE) for the
            # whole run, on a PostgreSQL shared with other test runs. Callers send requests
            # one at a time.
            "--workers=1",
            "--threads=1",
            "--log-level=warning",
            # The app, not gunicorn's front line (an HTML 414 past 4,094 bytes), answers long
            # generated URLs: that is what the tests check.
            "--limit-request-line=0",
        ],
        cwd=ROOT,
        env=worker_env(DJANGO_SETTINGS_MODULE="tests.live_settings", LOG_DIR=str(log_dir), **env),
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until(lambda: process.poll() is None and _answers(f"{base_url}/health"), timeout=60, interval=0.2):
            raise AssertionError(f"the live server did not start:\n{out.read_text()}")
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
