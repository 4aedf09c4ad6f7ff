"""Settings of the live server the end-to-end API tests start (tests/live_server.py)."""

from hcm.settings import *  # noqa: F403

# Random calls in quick succession would spend the per-user rate limits and get 429s.
RATELIMIT_ENABLE = False
# Real hashing costs ~0.3 s per login on these 2 cores; the hasher is not under test.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
