"""Logs as operators read them: one JSON object per line with LOG_FORMAT=json, the job's
fields on every worker line, the request id from a web request into the worker's lines,
one line per 4xx, and no directories created by importing the settings."""

import io
import json
import logging
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from hcm.logging import ContextFilter, RedactSecretsFilter
from hcm.logging_json import JsonFormatter
from jobs.models import BackgroundJob
from tests.ops.conftest import enqueue, manage
from tests.workers import ROOT, run_burst, wait_until, worker_env

SECRET = "https://hooks.slack.com/services/T0/B0/s3cr3tT0k3nInALog"
SECRET_PART = "s3cr3tT0k3nInALog"


def json_lines(text: str) -> list[dict]:
    """Every line parsed as JSON: a line that is not fails the test."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- the formatter -------------------------------------------------------------------------


def test_json_format__one_object_per_line_with_fields_and_redaction():
    record = logging.LogRecord("hcm.test", logging.ERROR, __file__, 1, "posting to %s failed", (SECRET,), None)
    try:
        raise RuntimeError(f"POST {SECRET} answered 500")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    record.webhook, record.attempt = SECRET, 2
    RedactSecretsFilter().filter(record)

    line = JsonFormatter().format(record)

    assert "\n" not in line and SECRET_PART not in line
    data = json.loads(line)
    assert (data["level"], data["logger"], data["attempt"]) == ("ERROR", "hcm.test", 2)
    assert data["message"] == "posting to https://hooks.slack.com/services/[redacted] failed"
    assert "RuntimeError" in data["exc_info"] and data["ts"].endswith("+00:00")


# --- worker lines ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_json__every_line_parses_and_handler_lines_name_their_job(job_types, tmp_path):
    jobs = [enqueue("test_log", message=f"hello {i} {SECRET}") for i in range(2)]

    output = run_burst(
        "--concurrency",
        "2",
        "--worker-id",
        "w-json",
        env=worker_env(LOG_FORMAT="json", LOG_DIR="-", JOBS_HANDLER_MODULES="tests.job_types"),
        log_dir=tmp_path,
    )

    lines = json_lines(output)
    assert SECRET_PART not in output
    assert all(line["worker"] == "w-json" for line in lines if line["logger"].startswith("jobs"))
    for job in jobs:
        own = [line for line in lines if line.get("job_id") == job.id]
        assert {line["message"] for line in own} >= {"handler warns", "job completed"}
        handler = [line for line in own if line["logger"] == "tests.job_types"]
        assert len(handler) == 2
        for line in handler:
            assert (line["job_type"], line["attempt"], line["worker"]) == ("test_log", 1, "w-json")


# --- request id --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_request_id__follows_a_web_request_into_the_worker_lines(job_types, admin_client, tmp_path):
    response = admin_client.post(
        "/api/system/background-jobs",
        {"job_type": "test_log", "payload": {"message": "from the API"}},
        format="json",
        HTTP_X_REQUEST_ID="req-abc-123",
    )

    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "req-abc-123"
    job = BackgroundJob.objects.get(pk=response.json()["id"])
    assert job.request_id == "req-abc-123"

    output = run_burst(
        env=worker_env(LOG_FORMAT="json", LOG_DIR="-", JOBS_HANDLER_MODULES="tests.job_types"), log_dir=tmp_path
    )

    own = [line for line in json_lines(output) if line.get("job_id") == job.id]
    assert {line["message"] for line in own} >= {"handler says: from the API", "job completed"}
    assert all(line["request_id"] == "req-abc-123" for line in own)


@pytest.mark.django_db
@pytest.mark.parametrize("given", [None, "", "has space", "x" * 200, "semi;colon", "new\nline"])
def test_request_id__generated_when_missing_or_not_sane(client, given):
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}

    response = client.get("/health", **headers)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.fixture
def captured_lines():
    """The root logger's lines, formatted as the service formats them (JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: json_lines(stream.getvalue())
    root.removeHandler(handler)


@pytest.mark.django_db
def test_web_lines__carry_request_id_user_and_organization(admin_client, admin_user, captured_lines):
    response = admin_client.get("/api/system/background-jobs/job_missing", HTTP_X_REQUEST_ID="req-web-1")

    assert response.status_code == 404
    lines = [line for line in captured_lines() if line.get("request_id") == "req-web-1"]
    assert len(lines) == 1
    (line,) = lines
    assert (line["logger"], line["status_code"], line["path"]) == ("django.request", 404, response.wsgi_request.path)
    assert (line["user"], line["organization"]) == (admin_user.pk, admin_user.organization_id)


# --- one line per 4xx, under the development server ------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, **headers: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runserver__one_line_per_4xx_and_per_request(tmp_path):
    port = _free_port()
    log = tmp_path / "web.log"
    env = worker_env(DEBUG="1", LOG_FORMAT="json", LOG_DIR="-")
    with open(log, "wb") as out:
        web = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: _health(base), 30), log.read_text()
        assert _get(f"{base}/api/no-such-thing", **{"X-Request-ID": "r-404"}) == 404
        assert _get(f"{base}/api/system/background-jobs", **{"X-Request-ID": "r-401"}) == 401
        assert _get(f"{base}/health", **{"X-Request-ID": "r-200"}) == 200
        assert wait_until(lambda: "r-200" in log.read_text(), 10), log.read_text()
    finally:
        web.terminate()
        web.wait(timeout=10)
    text = log.read_text()
    # Startup lines are plain text (runserver's banner); every log line is JSON.
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    for request_id, path in (("r-404", "/api/no-such-thing"), ("r-401", "/api/system/background-jobs")):
        assert len([line for line in text.splitlines() if path in line]) == 1, text
        (line,) = [line for line in lines if line.get("request_id") == request_id]
        assert line["logger"] == "django.request"
    # runserver's access line (daphne's when the ASGI server is installed) for the 200 only
    assert [line["logger"] for line in lines if line.get("request_id") == "r-200"] in (
        ["django.server"],
        ["django.channels.server"],
    )


def _health(base: str) -> bool:
    try:
        return _get(f"{base}/health") == 200
    except OSError:
        return False


# --- where logs go ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_settings__importing_them_creates_no_directories(tmp_path):
    log_dir, static_root = tmp_path / "logs" / "hcm", tmp_path / "static"

    done = manage("check", LOG_DIR=str(log_dir), STATIC_ROOT=str(static_root))

    assert done.returncode == 0, done.stderr
    assert not log_dir.exists() and not static_root.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_log_dir__created_at_the_first_line_and_stdout_only_when_unset(job_types, tmp_path):
    enqueue("test_log", message="to the file")
    log_dir = tmp_path / "new" / "logs"

    output = run_burst(
        env=worker_env(LOG_DIR=str(log_dir), LOG_FORMAT="json", JOBS_HANDLER_MODULES="tests.job_types"),
        log_dir=tmp_path,
    )

    file_lines = json_lines((log_dir / "hcm.log").read_text())
    assert [line["message"] for line in file_lines] == [line["message"] for line in json_lines(output)]
    assert "handler says: to the file" in {line["message"] for line in file_lines}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_log_rotate__with_stdout_only_logging_has_nothing_to_rotate_and_says_so(tmp_path):
    from jobs.services import job_enqueue

    job, _ = job_enqueue(organization=None, job_type="log_rotate", payload={})

    run_burst(env=worker_env(LOG_DIR="-"), log_dir=tmp_path)

    job.refresh_from_db()
    assert job.status == "completed", job.error_message
    assert (job.result["logs_archived"], job.result["bytes_freed"]) == (0, 0)
    assert "LOG_DIR is not set" in job.result["note"]
