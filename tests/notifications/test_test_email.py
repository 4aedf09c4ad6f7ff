"""POST /api/system/notification-settings/test-email, delivered to a real local SMTP server."""

import socket
import time

import pytest
from django.test import override_settings

from hcm.models import Role
from tests.conftest import client_for
from tests.factories import make_user
from tests.hcm.ratelimits import spend_limit
from tests.servers import SMTPServer, free_port

SETTINGS_URL = "/api/system/notification-settings"
URL = SETTINGS_URL + "/test-email"


def smtp_settings(port: int, timeout: float = 5.0):
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_TIMEOUT=timeout,
    )


@pytest.fixture
def smtp():
    with SMTPServer() as server, smtp_settings(server.port):
        yield server


@pytest.fixture
def acme_sender(admin_client):
    response = admin_client.patch(
        SETTINGS_URL, {"email_from_name": "Acme HR", "email_from_address": "hr@acme.example"}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.parametrize("path", [URL, URL + "/"])
def test_test_email__delivered_with_from_to_subject_and_message_id(path, smtp, acme_sender, admin_client):
    response = admin_client.post(f"{path}?recipient=x@example.com")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "sent"
    assert body["to"] == "x@example.com"
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["From"] == "Acme HR <hr@acme.example>"
    assert message["To"] == "x@example.com"
    assert message["Subject"] == "Test email from Acme HR"
    assert message["Message-ID"] == body["message_id"]
    assert body["message_id"].startswith("<") and body["message_id"].endswith("@acme.example>")
    assert smtp.collector.envelopes[0].rcpt_tos == ["x@example.com"]
    assert smtp.collector.envelopes[0].mail_from == "hr@acme.example"
    assert "alice" in message.get_content()


def test_test_email__each_message_has_its_own_message_id(smtp, admin_client):
    first = admin_client.post(f"{URL}?recipient=x@example.com").json()["message_id"]
    second = admin_client.post(f"{URL}?recipient=x@example.com").json()["message_id"]

    assert first != second
    assert [m["Message-ID"] for m in smtp.messages] == [first, second]


@pytest.mark.parametrize("query", ["", "?recipient="])
def test_test_email__without_recipient_goes_to_the_from_address(query, smtp, acme_sender, admin_client):
    response = admin_client.post(URL + query)

    assert response.status_code == 200, response.content
    assert response.json()["to"] == "hr@acme.example"
    assert smtp.messages[0]["To"] == "hr@acme.example"


def test_test_email__defaults_send_from_hcm_system(smtp, admin_client):
    response = admin_client.post(f"{URL}?recipient=x@example.com")

    assert response.status_code == 200
    assert smtp.messages[0]["From"] == "HCM System <noreply@hcm.local>"


def test_test_email__non_ascii_from_name_is_encoded_not_broken(smtp, admin_client):
    admin_client.patch(SETTINGS_URL, {"email_from_name": "Büro Ünïcode"}, format="json")

    response = admin_client.post(f"{URL}?recipient=x@example.com")

    assert response.status_code == 200
    assert smtp.messages[0]["From"] == "Büro Ünïcode <noreply@hcm.local>"
    assert smtp.messages[0]["Subject"] == "Test email from Büro Ünïcode"


def test_test_email__email_disabled_is_400_and_nothing_sent(smtp, admin_client):
    admin_client.patch(SETTINGS_URL, {"email_enabled": False}, format="json")

    response = admin_client.post(f"{URL}?recipient=x@example.com")

    assert response.status_code == 400
    assert "email_enabled" in response.json()["errors"]
    assert "disabled" in response.json()["detail"]
    assert smtp.messages == []


@pytest.mark.parametrize(
    "recipient",
    ["not-an-address", "x@example.com%0ABcc:victim@example.com", "x@example.com,y@example.com", "<x@example.com>"],
)
def test_test_email__bad_recipient_is_400_naming_recipient(recipient, smtp, admin_client):
    response = admin_client.post(f"{URL}?recipient={recipient}")

    assert response.status_code == 400, response.content
    assert "recipient" in response.json()["errors"]
    assert "recipient" in response.json()["detail"]
    assert smtp.messages == []


def test_test_email__smtp_port_closed_is_502_with_a_clear_detail(admin_client):
    port = free_port()  # nothing listens there

    with smtp_settings(port, timeout=2):
        response = admin_client.post(f"{URL}?recipient=x@example.com")

    assert response.status_code == 502
    detail = response.json()["detail"]
    assert f"127.0.0.1:{port}" in detail
    assert "reach" in detail


def test_test_email__silent_smtp_server_is_502_within_email_timeout(admin_client):
    # Accepts the TCP connection but never says hello: only EMAIL_TIMEOUT ends the wait.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with smtp_settings(port, timeout=1):
            started = time.monotonic()
            response = admin_client.post(f"{URL}?recipient=x@example.com")
            elapsed = time.monotonic() - started

    assert response.status_code == 502
    assert f"127.0.0.1:{port} did not answer within 1 s" in response.json()["detail"]
    assert elapsed < 10  # loose bound: EMAIL_TIMEOUT (1 s) ended it, not the OS's minutes


def test_test_email__recipient_refused_by_the_server_is_502(smtp, admin_client):
    smtp.refuse("550 5.1.1 Mailbox unavailable")

    response = admin_client.post(f"{URL}?recipient=nobody@example.com")

    assert response.status_code == 502
    assert "nobody@example.com" in response.json()["detail"]
    assert smtp.messages == []


def test_test_email__member_is_403(smtp, org):
    member = client_for(make_user(org, role=Role.MEMBER, username="bob"))

    response = member.post(f"{URL}?recipient=x@example.com")

    assert response.status_code == 403
    assert smtp.messages == []


def test_test_email__get_is_405_with_detail(admin_client):
    response = admin_client.get(URL)

    assert response.status_code == 405
    assert response.json()["detail"]


def test_test_email__sixth_in_a_minute_is_429(admin_client, mailoutbox, settings):
    assert settings.RATE_LIMITS["notification_settings_test_email"] == "5/m"
    response = spend_limit(lambda: admin_client.post(f"{URL}?recipient=x@example.com"), 5)

    assert response.status_code == 429
    assert response.json()["detail"]
    assert int(response["Retry-After"]) >= 1
    assert len(mailoutbox) in (5, 11)  # 11 only when a window ended mid-burst and it was repeated
