"""Fixtures for notification tests: local SMTP and HTTP servers, settings that point the
app at them, and running the real job worker (in this process, or as a process)."""

import socket
from collections.abc import Iterator

import pytest

from jobs.worker import Worker
from notifications.models import NotificationSettings
from notifications.services.notification_settings import notification_settings_get
from tests.servers import HTTPRecorder, Reply, SMTPServer

TWILIO_SID = "ACtest0000000000000000000000000000"
TWILIO_TOKEN = "twilio-test-token-not-real"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The factories set passwords; the production hasher costs ~0.5 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The servers live for the whole module (stopping one takes ~0.5 s); each test gets them
# back with nothing recorded and default replies.
@pytest.fixture(scope="module")
def _smtp_server() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture(scope="module")
def _slack_server() -> Iterator[HTTPRecorder]:
    with HTTPRecorder() as server:
        yield server


@pytest.fixture(scope="module")
def _twilio_server() -> Iterator[HTTPRecorder]:
    with HTTPRecorder() as server:
        yield server


@pytest.fixture
def smtp(_smtp_server) -> SMTPServer:
    _smtp_server.collector.messages.clear()
    _smtp_server.collector.envelopes.clear()
    _smtp_server.collector.refuse_with = None
    _smtp_server.collector.data_replies.clear()
    _smtp_server.collector.data_replies_to.clear()
    _smtp_server.collector.sessions.clear()
    return _smtp_server


def _reset(recorder: HTTPRecorder, default: Reply) -> HTTPRecorder:
    recorder.requests.clear()
    recorder._replies.clear()
    recorder.default = default
    return recorder


@pytest.fixture
def slack(_slack_server) -> HTTPRecorder:
    return _reset(_slack_server, Reply(200, "ok"))


@pytest.fixture
def twilio(_twilio_server) -> HTTPRecorder:
    return _reset(_twilio_server, Reply(201, {"sid": "SM00000000000000000000000000000001", "status": "queued"}))


@pytest.fixture
def silent_server() -> Iterator[str]:
    """host:port that accepts connections and never answers (a timeout)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture
def delivery_settings(settings, smtp, slack, twilio):
    """This process's settings pointed at the local servers (for in-process workers)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp.port
    settings.NOTIFICATIONS_SLACK_ALLOWED_HOSTS = [slack.host]
    settings.TWILIO_BASE_URL = twilio.url
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.JOBS_RETRY_BASE_SECONDS = 0  # retries are due at once: one burst runs them all
    settings.NOTIFICATIONS_HTTP_TIMEOUT = 0.5
    return settings


def delivery_worker_env(smtp: SMTPServer, slack: HTTPRecorder, twilio: HTTPRecorder, **extra: str) -> dict:
    from tests.workers import worker_env

    return worker_env(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        NOTIFICATIONS_SLACK_ALLOWED_HOSTS=slack.host,
        TWILIO_BASE_URL=twilio.url,
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        JOBS_RETRY_BASE_SECONDS="0",
        **extra,
    )


def run_worker_burst() -> None:
    """Run the real worker in this process until nothing is due (retries included)."""
    Worker(concurrency=2, burst=True, poll_interval=0.01, lease_seconds=30, grace_period=5, listen=False).run()


def configure(org, **fields) -> NotificationSettings:
    """Set some of the organization's notification settings."""
    ns = notification_settings_get(organization=org)
    for name, value in fields.items():
        setattr(ns, name, value)
    ns.save()
    return ns


ALL_CHANNELS_OFF = {
    "email_enabled": False,
    "sms_enabled": False,
    "slack_enabled": False,
}


def enable_everything(org, *, slack_url: str, **overrides) -> NotificationSettings:
    """Every channel and every event toggle on, Twilio as SMS provider."""
    fields = {
        "email_enabled": True,
        "email_from_address": "hr@acme.test",
        "email_from_name": "Acme HR",
        "email_on_employee_hired": True,
        "email_on_employee_terminated": True,
        "email_on_org_updated": True,
        "email_on_critical_alerts": True,
        "sms_enabled": True,
        "sms_provider": "twilio",
        "sms_from_number": "+15550001111",
        "sms_on_employee_hired": True,
        "sms_on_employee_terminated": True,
        "sms_on_critical_alerts": True,
        "slack_enabled": True,
        "slack_webhook_url": slack_url,
        "slack_channel": "#alerts",
        "slack_on_critical_alerts": True,
        "digest_frequency": None,
    }
    fields.update(overrides)
    return configure(org, **fields)
