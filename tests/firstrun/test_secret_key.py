"""Help works on a bare checkout; servers and workers refuse to start without SECRET_KEY."""

import os
import subprocess
import sys

import pytest

from tests.workers import ROOT

MESSAGE = "SECRET_KEY is not set"


def run(*args: str, tmp_path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env.update(LOG_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", ALLOWED_HOSTS="localhost")
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_help__works_without_secret_key(tmp_path):
    done = run(sys.executable, "manage.py", "help", tmp_path=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "runworker" in done.stdout


@pytest.mark.parametrize("command", ["runworker", "runserver", "migrate", "setup_demo"])
def test_command_help__works_without_secret_key(tmp_path, command):
    done = run(sys.executable, "manage.py", command, "--help", tmp_path=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "usage: manage.py " + command in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["manage.py", "runworker"], id="runworker"),
        pytest.param(["manage.py", "runserver", "--noreload", "127.0.0.1:0"], id="runserver"),
        pytest.param(["-c", "import hcm.wsgi"], id="wsgi"),
        pytest.param(["-c", "import hcm.asgi"], id="asgi"),
    ],
)
def test_server_or_worker__refuses_to_start_without_secret_key(tmp_path, args):
    done = run(sys.executable, *args, tmp_path=tmp_path)

    assert done.returncode != 0
    assert MESSAGE in done.stderr, done.stderr


def test_gunicorn__refuses_to_start_without_secret_key(tmp_path):
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    done = run(gunicorn, "hcm.wsgi", "--bind", "127.0.0.1:0", tmp_path=tmp_path)

    assert done.returncode != 0
    assert MESSAGE in done.stderr, done.stderr
