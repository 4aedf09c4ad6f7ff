"""One request served by a separate process whose database cannot be reached.

The process is a real Django setup (DEBUG off, the project's settings) with DATABASE_URL
pointing at a port nothing listens on: what a web process sees when the database is down.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcm.settings")
django.setup()
from django.test import Client
path, authorization = sys.argv[1], sys.argv[2]
headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
response = Client(raise_request_exception=False).get(path, **headers)
print(json.dumps({"status": response.status_code, "content_type": response["Content-Type"],
                  "body": response.content.decode()}))
"""

DATABASE_PASSWORD = "db-pa55word-not-for-responses"


def get_with_database_down(path: str, *, log_dir: Path, authorization: str = "") -> dict:
    """GET `path`; returns {"status", "content_type", "body"} of the response."""
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://hcm:{DATABASE_PASSWORD}@127.0.0.1:{free_port()}/hcm",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "testserver",
        "LOG_DIR": str(log_dir),
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, path, authorization],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
