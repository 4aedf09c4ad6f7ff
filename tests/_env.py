"""Test-run environment, set before pytest-django loads the settings."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("JOBS_RETRY_BASE_SECONDS", "120")
