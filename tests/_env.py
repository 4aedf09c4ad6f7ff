"""Test-run environment, set before pytest-django loads the settings."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("JOBS_RETRY_BASE_SECONDS", "120")
# The suite checks what reaches the log file too (unset, the service logs to stdout only).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("LOG_DIR", os.path.join(_ROOT, "var", "log"))
# PostgreSQL: the test process runs many threads with a connection each (live servers,
# concurrent callers, stream hubs), and a pool shared by all of them ran dry mid-suite
# (a setup waiting 10 s for a connection): the test process keeps one persistent
# connection per thread instead. Servers a test starts with a pool set their own size
# (tests/firstrun/test_db_connections.py).
os.environ.setdefault("DB_POOL_MAX_SIZE", "0")
os.environ.setdefault("CONN_MAX_AGE", "60")
