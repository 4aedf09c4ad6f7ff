"""schemathesis over a live server: the real app in gunicorn on the test database, called
over HTTP by schemathesis' own runner (every phase: examples, coverage (boundaries: huge
integers, NUL, empty and overlong strings), fuzzing, stateful), positive and negative data.
Not one server error, and every answer as the schema documents it."""

import json
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

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Cases per operation and phase: enough for the coverage phase's boundary values and a
# fuzzing run per operation; ~2,500 requests, about a minute per database on 2 cores.
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
    report = tmp_path / "report.json"

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
                "--workers=1",
                "--generation-allow-x00=true",
                "--generation-database=none",
                "--request-timeout=30",
                "--no-color",
                "--report=json",
                f"--report-json-path={report}",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )

    server_errors = [line for line in (tmp_path / "live-server.out").read_text().splitlines() if "Error:" in line]
    output = run.stdout[-20000:] + run.stderr[-5000:] + "\nserver:\n" + "\n".join(server_errors[-20:])
    result = json.loads(report.read_text())
    assert result["complete"], output
    assert result["operations"]["tested"] == result["operations"]["selected"] > 20, output
    assert result["test_cases"]["generated"] > 1000, output
    assert result["errors"] == [], output
    assert result["failures"] == [], output
    assert run.returncode == 0, output
