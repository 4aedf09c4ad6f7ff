"""The settings as a production process reads them: DEBUG off, SECRET_KEY required."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy__no_errors_with_secret_key_and_debug_off(tmp_path):
    done = manage(
        "check", "--deploy", "--fail-level", "ERROR",
        SECRET_KEY=secrets.token_urlsafe(50), DEBUG="0", ALLOWED_HOSTS="hcm.example.com", LOG_DIR=str(tmp_path),
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert "ERRORS" not in done.stdout + done.stderr


def test_startup__refused_without_secret_key_when_debug_is_off(tmp_path):
    done = manage("check", DEBUG="0", LOG_DIR=str(tmp_path))

    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr


def test_startup__debug_runs_with_a_development_key(tmp_path):
    done = manage("check", DEBUG="1", LOG_DIR=str(tmp_path))

    assert done.returncode == 0, done.stderr
