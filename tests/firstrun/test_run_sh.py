"""`./run.sh` as a new user runs it: Ctrl-C while a job runs stops web and worker
gracefully, loses no job and exits 0."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.job_types import read_lines
from tests.workers import ROOT, wait_until

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    """Direct children of `pid` (from /proc), to make sure none outlives the test."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except OSError:
        return 0


@pytest.fixture
def quick_start(tmp_path):
    """run.sh started as a shell starts it: its own process group (the terminal's
    foreground group, which Ctrl-C signals as a whole), on a fresh SQLite file."""
    port = free_port()
    database = tmp_path / "hcm.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EMAIL_BACKEND", "EMAIL_HOST")}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        PORT=str(port),
        LOG_DIR=str(tmp_path / "log"),
        JOBS_HANDLER_MODULES="tests.job_types",
        SKIP_INSTALL="1",  # the test runs in the .venv it was installed into
        PYTHONUNBUFFERED="1",
    )
    out = open(tmp_path / "run.out", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["bash", str(ROOT / "run.sh")], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    proc.port, proc.database, proc.env, proc.out = port, database, env, tmp_path / "run.out"
    try:
        yield proc
    finally:
        leftovers = children_of(proc.pid)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out.close()


def enqueue(proc, job_type: str, payload: dict) -> str:
    code = (
        "from hcm.models import Organization; from jobs.services import job_enqueue; import json;"
        f"job, _ = job_enqueue(organization=Organization.objects.get(slug='demo'), job_type={job_type!r},"
        f" payload=json.loads({json.dumps(json.dumps(payload))})); print(job.id)"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=proc.env | {"DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_ctrl_c__running_job_finishes_and_run_sh_exits_0(quick_start, tmp_path):
    base = f"http://127.0.0.1:{quick_start.port}"
    assert wait_until(lambda: get(f"{base}/health") == 200, timeout=90, interval=0.2), quick_start.out.read_text()
    events = tmp_path / "events"
    job_id = enqueue(quick_start, "test_sleep", {"seconds": 3, "path": str(events)})
    assert wait_until(lambda: any(e[0] == "start" for e in read_lines(events)), timeout=30), quick_start.out.read_text()
    worker_and_web = children_of(quick_start.pid)

    os.killpg(quick_start.pid, signal.SIGINT)  # Ctrl-C: SIGINT to the whole foreground group
    code = quick_start.wait(timeout=60)

    output = quick_start.out.read_text()
    assert code == 0, output
    assert "second signal" not in output, output
    with sqlite3.connect(quick_start.database) as db:
        status, retry_count = db.execute(
            "SELECT status, retry_count FROM background_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        outcomes = [
            row[0] for row in db.execute("SELECT outcome FROM background_job_attempts WHERE job_id = ?", (job_id,))
        ]
    # Finished within the grace period, or handed back without spending an attempt.
    assert (status, outcomes) == ("completed", ["completed"]) or (status == "queued" and outcomes == []), output
    assert retry_count == 0
    assert [e[0] for e in read_lines(events)] in (["start", "end"], ["start"])
    assert get(f"{base}/health") == 0  # the web server is gone too
    assert wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in worker_and_web), timeout=5)


def test_run_sh__demo_email_lands_in_the_mailbox(quick_start):
    """The demo organization's test email is answered 200 and can be read in the mailbox."""
    base = f"http://127.0.0.1:{quick_start.port}"
    assert wait_until(lambda: get(f"{base}/health") == 200, timeout=90, interval=0.2), quick_start.out.read_text()
    output = quick_start.out.read_text()
    password = output.split("Login: username=admin password=", 1)[1].split()[0]

    def call(method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            base + path, method=method, data=json.dumps(body).encode() if body is not None else None
        )
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    status, tokens = call("POST", "/api/auth/token/", {"username": "admin", "password": password})
    assert status == 200, tokens
    status, sent = call(
        "POST", "/api/system/notification-settings/test-email?recipient=new.user@example.com", token=tokens["access"]
    )

    assert status == 200, sent
    with sqlite3.connect(quick_start.database) as db:
        stored = db.execute(
            'SELECT to_addrs, subject, message_id FROM (SELECT "to" AS to_addrs, subject, message_id'
            " FROM notifications_storedemail)"
        ).fetchall()
    assert [(json.loads(to), mid) for to, _, mid in stored] == [(["new.user@example.com"], sent["message_id"])]
    assert "Mailbox" in output
    os.killpg(quick_start.pid, signal.SIGINT)
    assert quick_start.wait(timeout=60) == 0
