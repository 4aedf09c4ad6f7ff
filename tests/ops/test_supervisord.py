"""The supervisord round trip: deploy/supervisor/hcm.conf starts the web (gunicorn) and a
worker; a job queued over HTTP runs; `supervisorctl stop` stops them; a long job running
at that moment is handed back, queued again without spending an attempt.

Needs supervisord (Debian package `supervisor`; .ci/run installs it): skipped without it.
"""

import json
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from hcm.models import Role
from jobs.models import BackgroundJob, JobAttempt
from tests.factories import make_org, make_user
from tests.workers import ROOT, wait_until, worker_env

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("supervisord"), reason="supervisord is not installed (apt-get install supervisor)"
    ),
]

DEPLOY = ROOT / "deploy" / "supervisor" / "hcm.conf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def program_config(tmp_path: Path, port: int) -> Path:
    """deploy/supervisor/hcm.conf as shipped, pointed at this checkout: /srv/hcm → the
    repository, the web's port, log files in tmp_path; one worker; no `user=` (the test
    runs as whoever runs it)."""
    text = DEPLOY.read_text()
    text = text.replace("/srv/hcm", str(ROOT)).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    text = text.replace("/var/log/hcm", str(tmp_path)).replace("numprocs=2", "numprocs=1")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("user="))
    path = tmp_path / "hcm.conf"
    path.write_text(text)
    return path


def main_config(tmp_path: Path, include: Path) -> Path:
    path = tmp_path / "supervisord.conf"
    path.write_text(
        f"""[unix_http_server]
file={tmp_path}/supervisor.sock

[supervisord]
logfile={tmp_path}/supervisord.log
pidfile={tmp_path}/supervisord.pid
childlogdir={tmp_path}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{tmp_path}/supervisor.sock

[include]
files = {include}
"""
    )
    return path


def env_file(tmp_path: Path) -> Path:
    env = worker_env()
    path = tmp_path / "env"
    lines = {
        "DATABASE_URL": env["DATABASE_URL"],
        "SECRET_KEY": env["SECRET_KEY"],
        "ALLOWED_HOSTS": "127.0.0.1",
        "JOBS_HANDLER_MODULES": "tests.job_types",
        # Short, so the test's long job is still running when the grace period ends.
        "JOBS_GRACE_PERIOD": "1",
        "LOG_DIR": "-",
        "LOG_FORMAT": "json",
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    return path


def api(base: str, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_supervisord__runs_a_job_then_stop_hands_back_the_running_one(job_types, tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    conf = main_config(tmp_path, program_config(tmp_path, port))
    env = {**worker_env(), "HCM_ENV_FILE": str(env_file(tmp_path))}
    user = make_user(make_org("acme"), role=Role.SYSTEM_ADMIN, username="ops")
    token = str(RefreshToken.for_user(user).access_token)
    ctl = ["supervisorctl", "-c", str(conf)]
    supervisord = subprocess.Popen(["supervisord", "-n", "-c", str(conf)], env=env, cwd=tmp_path)
    try:
        assert wait_until(lambda: healthy(base), 60), (tmp_path / "supervisord.log").read_text()
        status, job = api(
            base, token, "POST", "/api/system/background-jobs",
            {"job_type": "test_record", "payload": {"path": str(tmp_path / "ran.log")}},
        )  # fmt: skip
        assert status == 201, job
        assert wait_until(lambda: BackgroundJob.objects.get(pk=job["id"]).status == "completed", 60), _logs(tmp_path)

        status, long_job = api(
            base, token, "POST", "/api/system/background-jobs",
            {"job_type": "test_sleep", "payload": {"seconds": 120}},
        )  # fmt: skip
        assert status == 201, long_job
        assert wait_until(lambda: BackgroundJob.objects.get(pk=long_job["id"]).status == "processing", 60)

        stopped = subprocess.run([*ctl, "stop", "all"], capture_output=True, text=True, timeout=90, env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr

        long = BackgroundJob.objects.get(pk=long_job["id"])
        assert (long.status, long.attempt, long.retry_count, long.locked_by) == ("queued", 0, 0, None)
        assert not JobAttempt.objects.filter(job_id=long.pk).exists()  # no attempt spent
        log = (tmp_path / "supervisord.log").read_text()
        assert "stopped: hcm-worker-00 (exit status 0)" in log, log
        assert "job handed back" in _logs(tmp_path)
    finally:
        subprocess.run([*ctl, "shutdown"], capture_output=True, timeout=90, env=env)
        try:
            supervisord.wait(timeout=60)
        except subprocess.TimeoutExpired:
            supervisord.kill()
            supervisord.wait()


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("hcm-*.log")))


def test_deploy_files__stop_timeouts_exceed_the_grace_period():
    from django.conf import settings

    grace = settings.JOBS_GRACE_PERIOD
    conf = DEPLOY.read_text()
    worker_section = conf.split("[program:hcm-worker]")[1]
    assert "stopsignal=TERM" in worker_section and "stopasgroup=true" in worker_section
    assert int(worker_section.split("stopwaitsecs=")[1].split()[0]) > grace
    unit = (ROOT / "deploy" / "systemd" / "hcm-worker@.service").read_text()
    assert "KillSignal=SIGTERM" in unit and "Restart=always" in unit
    assert int(unit.split("TimeoutStopSec=")[1].split()[0]) > grace
