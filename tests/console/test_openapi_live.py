"""schemathesis over a live server: the real app in gunicorn on the test database, called
over HTTP by schemathesis' own runner (every phase: examples, coverage (boundaries: huge
integers, NUL, empty and overlong strings), fuzzing, stateful), positive and negative data,
about half of it made hostile by tests/schemathesis_hostile.py (NUL, lone surrogates,
2**64, JSON 5,000 deep, huge skip). Not one server error, every answer as the schema
documents it, and each hostile kind seen answered with a 400."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from hcm.models import Role
from notifications.services.notification_settings import notification_settings_get
from tests.factories import make_org, make_user
from tests.live_server import live_server
from tests.servers import SMTPServer
from tests.workers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Cases per operation and phase: enough for the coverage phase's boundary values and a
# fuzzing run per operation; ~2,500 requests: 1 to 3 minutes per database on 2 busy cores.
MAX_EXAMPLES = 30
SEED = 1  # the same cases every run; a failure names the command that reproduces it
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]


def test_schemathesis_live__no_server_errors(tmp_path: Path):
    org = make_org("acme")
    admin = make_user(org, role=Role.SYSTEM_ADMIN, username="alice")
    notification_settings_get(organization=org)
    token = str(RefreshToken.for_user(admin).access_token)
    report, har = tmp_path / "report.json", tmp_path / "requests.har"

    # A real mail server, so the test-email endpoint answers 200 rather than 502 (no server).
    with SMTPServer() as smtp, live_server(log_dir=tmp_path, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port)) as url:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{url}/api/schema/?format=json",
                f"--header=Authorization: Bearer {token}",
                f"--checks={','.join(CHECKS)}",
                f"--max-examples={MAX_EXAMPLES}",
                f"--seed={SEED}",
                "--mode=all",
                # Served by the ASGI process only (gunicorn answers 503 by design); the stream
                # has its own tests against daphne (tests/notifications/test_stream.py).
                "--exclude-path-regex=^/api/notifications/stream",
                "--workers=1",
                "--generation-allow-x00=true",
                "--generation-database=none",
                "--request-timeout=30",
                "--no-color",
                "--report=json,har",
                f"--report-json-path={report}",
                f"--report-har-path={har}",
            ],
            cwd=tmp_path,
            # Half the generated requests made hostile (NUL, surrogates, 2**64, deep JSON).
            env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hostile", "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=600,
        )

    server_errors = [line for line in (tmp_path / "live-server.out").read_text().splitlines() if "Error:" in line]
    # Lines cut short: a deeply nested body repeats "[" thousands of times.
    lines = [*run.stdout.splitlines()[-300:], *run.stderr.splitlines()[-50:], "server:", *server_errors[-20:]]
    output = "\n".join(line[:300] for line in lines)
    result = json.loads(report.read_text())
    assert result["complete"], output
    assert result["operations"]["tested"] == result["operations"]["selected"] > 20, output
    assert result["test_cases"]["generated"] > 1000, output
    assert result["errors"] == [], output
    assert result["failures"] == [], output
    assert run.returncode == 0, output
    # The hostile requests were made, and each kind was answered as a 400 naming the field.
    answers = [entry["response"] for entry in json.loads(har.read_text())["log"]["entries"]]
    rejected = [a["content"].get("text", "") for a in answers if a["status"] == 400]
    for message in HOSTILE_ANSWERS:
        assert any(message in text for text in rejected), message


HOSTILE_ANSWERS = [
    "must not contain NUL",
    "must not contain lone UTF-16 surrogates",
    "Integer out of range",
    "Nested deeper than",
    "Ensure this value is less than or equal to 2147483647",  # skip=99999999999999999999
]
