"""The "Send test email" button on the notification settings admin page, with a real SMTP server."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import quote
from django.test import Client, override_settings

from hcm.models import User
from notifications.services.notification_settings import notification_settings_get
from tests.servers import SMTPServer, free_port


def smtp_settings(port: int):
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_TIMEOUT=5.0,
    )


@pytest.fixture
def smtp():
    with SMTPServer() as server, smtp_settings(server.port):
        yield server


@pytest.fixture
def acme_settings(org):
    ns = notification_settings_get(organization=org)
    ns.email_from_address = "hr@acme.example"
    ns.email_from_name = "Acme HR"
    ns.save()
    return ns


def change_url(ns) -> str:
    return f"/admin/notifications/notificationsettings/{quote(ns.pk)}/change/"


def button_url(ns) -> str:
    return f"/admin/notifications/notificationsettings/{ns.pk}/test-email/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_change_page__has_the_button_and_recipient_field(operator, acme_settings):
    html = operator.get(change_url(acme_settings)).content.decode()

    assert f'action="{button_url(acme_settings)}"' in html
    assert 'name="recipient"' in html
    assert 'value="Send test email"' in html


def test_button__sends_to_the_recipient_and_reports_the_message_id(operator, acme_settings, smtp, superuser):
    response = operator.post(button_url(acme_settings), {"recipient": "ops@example.com"}, follow=True)

    assert response.redirect_chain[-1][0] == change_url(acme_settings)
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "ops@example.com"
    assert message["From"] == "Acme HR <hr@acme.example>"
    assert "root" in message.get_content()  # requested by
    assert messages_of(response) == [f"Test email sent to ops@example.com. Message id: {message['Message-ID']}"]
    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.object_id) == (superuser, CHANGE, acme_settings.pk)
    assert entry.get_change_message() == f"Sent a test email to ops@example.com (message id {message['Message-ID']})."


def test_button__without_a_recipient_sends_to_the_from_address(operator, acme_settings, smtp):
    operator.post(button_url(acme_settings), {"recipient": ""})

    assert [m["To"] for m in smtp.messages] == ["hr@acme.example"]


def test_button__server_refusal_is_reported_with_its_reason_and_audited(operator, acme_settings, smtp):
    smtp.refuse("550 5.1.1 Mailbox unavailable")

    response = operator.post(button_url(acme_settings), {"recipient": "nobody@example.com"}, follow=True)

    [message] = messages_of(response)
    assert message.startswith("Test email to nobody@example.com not sent: The mail server refused the recipient(s)")
    assert "nobody@example.com" in LogEntry.objects.get().get_change_message()


def test_button__unreachable_server_is_reported(operator, acme_settings):
    with smtp_settings(free_port()):  # nothing listens there
        response = operator.post(button_url(acme_settings), {"recipient": "ops@example.com"}, follow=True)

    [message] = messages_of(response)
    assert "Cannot reach the mail server at 127.0.0.1:" in message


def test_button__email_disabled_is_refused_without_sending(operator, acme_settings, smtp):
    acme_settings.email_enabled = False
    acme_settings.save()

    response = operator.post(button_url(acme_settings), {"recipient": "ops@example.com"}, follow=True)

    assert messages_of(response) == ["Test email to ops@example.com not sent: Email is disabled for this organization."]
    assert smtp.messages == []


def test_button__invalid_recipient_is_refused(operator, acme_settings, smtp):
    response = operator.post(button_url(acme_settings), {"recipient": "not an address"}, follow=True)

    assert messages_of(response) == ["Test email not sent: Enter a valid email address."]
    assert smtp.messages == []


def test_button__get_is_not_allowed(operator, acme_settings):
    assert operator.get(button_url(acme_settings)).status_code == 405


def test_button__needs_the_csrf_token(superuser, acme_settings, smtp):
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)

    response = client.post(button_url(acme_settings), {"recipient": "ops@example.com"})

    assert response.status_code == 403
    assert smtp.messages == []


def test_button__anonymous_is_sent_to_the_login_page(db, acme_settings, smtp):
    response = Client().post(button_url(acme_settings), {"recipient": "ops@example.com"})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert smtp.messages == []


def test_button__staff_without_change_permission_is_refused(acme_settings, smtp):
    staff = User.objects.create_user(username="intern", password=None, is_staff=True)
    client = Client()
    client.force_login(staff)

    assert client.post(button_url(acme_settings), {"recipient": "ops@example.com"}).status_code == 403
    assert smtp.messages == []


def test_button__unknown_settings_is_404(operator):
    assert operator.post("/admin/notifications/notificationsettings/ns_nope/test-email/").status_code == 404


@override_settings(RATE_LIMITS={"notification_settings_test_email": "1/m"})
def test_button__shares_the_per_user_rate_limit_of_the_api(operator, acme_settings, smtp):
    operator.post(button_url(acme_settings), {"recipient": "ops@example.com"}, follow=True)

    response = operator.post(button_url(acme_settings), {"recipient": "ops@example.com"}, follow=True)

    [message] = messages_of(response)
    assert "Rate limit exceeded" in message
    assert len(smtp.messages) == 1
