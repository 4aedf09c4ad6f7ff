"""Test-run environment, set before pytest-django loads the settings."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("JOBS_RETRY_BASE_SECONDS", "120")
# The suite checks what reaches the log file too (unset, the service logs to stdout only).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("LOG_DIR", os.path.join(_ROOT, "var", "log"))
# PostgreSQL: the test process runs several threads with a connection each (live servers,
# concurrent callers), more than a web process's default pool of 4.
os.environ.setdefault("DB_POOL_MAX_SIZE", "16")
