"""Running real `manage.py runworker` processes against the test database."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """DATABASE_URL of the database this test is using (the test database)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # As in production: manage.py gives `runworker` hcm.settings_worker (pytest set
    # DJANGO_SETTINGS_MODULE=hcm.settings for this process, and children inherit it).
    if env.get("DJANGO_SETTINGS_MODULE") == "hcm.settings":
        del env["DJANGO_SETTINGS_MODULE"]
    env.update(
        DATABASE_URL=test_database_url(),
        SECRET_KEY=os.environ.get("SECRET_KEY", "test-only-secret-key-not-for-production"),
        PYTHONUNBUFFERED="1",
        LOG_LEVEL=extra.pop("LOG_LEVEL", "INFO"),
    )
    env.update(extra)
    return env


def start_worker(*args: str, env: dict[str, str] | None = None, log_path: Path | None = None) -> subprocess.Popen:
    """Start `manage.py runworker ARGS`; stdout+stderr go to log_path (or a pipe)."""
    out = open(log_path, "wb") if log_path else subprocess.PIPE  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runworker", *args],
        cwd=ROOT,
        env=env or worker_env(),
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true; False after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def run_burst(*args: str, env: dict[str, str] | None = None, log_dir: Path, timeout: float = 60) -> str:
    """Run `runworker --burst ARGS` to the end; returns its output. A worker that does not
    exit 0 within `timeout` fails the test with what it printed."""
    out = log_dir / f"worker-{time.monotonic_ns()}.out"
    worker = start_worker("--burst", *args, env=env, log_path=out)
    try:
        code = worker.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        raise AssertionError(f"worker did not finish:\n{out.read_text()}") from None
    output = out.read_text()
    assert code == 0, output
    return output
