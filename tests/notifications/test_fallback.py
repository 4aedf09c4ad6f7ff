"""Channel fallback (seed 004): an SMS or Slack delivery that fails for good is replaced by
an email to each recipient who did not get the notification by email — real worker, real
SMTP server, a local HTTP server standing in for Slack and Twilio."""

import pytest

from hcm.models import Role
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationContact
from notifications.services.notify import notify
from tests.factories import make_user
from tests.notifications.conftest import ALL_CHANNELS_OFF, configure, run_worker_burst
from tests.servers import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("delivery_settings")]

SMS_ON = {
    "sms_enabled": True,
    "sms_provider": "twilio",
    "sms_from_number": "+15550001111",
    "sms_on_employee_hired": True,
}


@pytest.fixture
def alice(admin_user):
    admin_user.email = "alice@acme.test"
    admin_user.save()
    NotificationContact.objects.create(user=admin_user, phone="+15557654321")
    return admin_user


def test_sms_refused__recipient_gets_it_by_email_even_with_the_events_email_toggle_off(org, alice, smtp, twilio):
    configure(org, **{**ALL_CHANNELS_OFF, **SMS_ON, "email_enabled": True, "email_on_employee_hired": False})
    twilio.reply_next(Reply(400, {"code": 21211, "message": "The 'To' number is not valid."}))
    [notification] = notify(org, "employee_hired", data={"employee_name": "Ada"}).notifications

    run_worker_burst()

    sms = Delivery.objects.get(channel="sms")
    assert sms.status == DeliveryStatus.FAILED
    email = Delivery.objects.get(channel="email")
    assert email.replaces == sms and email.status == DeliveryStatus.SENT
    [message] = smtp.messages
    assert message["To"] == "alice@acme.test" and message["Subject"] == "New hire: Ada"
    notification = Notification.objects.get(pk=notification.pk)
    assert notification.delivery_status == "sent" and notification.sent_at is not None
    assert set(notification.channels) == {"in_app", "sms"}


def test_sms_retries_spent__falls_back_too(org, alice, smtp, twilio):
    configure(org, **{**ALL_CHANNELS_OFF, **SMS_ON, "email_enabled": True, "email_on_employee_hired": False})
    twilio.default = Reply(503, {"message": "down"})
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    run_worker_burst()
    sms = Delivery.objects.get(channel="sms")
    assert sms.status == DeliveryStatus.FAILED and sms.attempts == 4
    assert Delivery.objects.get(channel="email").replaces == sms
    assert len(smtp.messages) == 1


def test_slack_gone__every_recipient_without_an_email_gets_one(org, alice, smtp, slack):
    carol = make_user(org, role=Role.SYSTEM_ADMIN, username="carol", email="carol@acme.test")
    configure(
        org,
        **{
            **ALL_CHANNELS_OFF,
            "slack_enabled": True,
            "slack_on_critical_alerts": True,
            "slack_webhook_url": f"{slack.url}/services/T/B/x",
            "email_enabled": True,
            "email_on_critical_alerts": False,
        },
    )
    slack.reply_next(Reply(404, "no_service"))
    notify(org, "critical_alert", data={"summary": "Disk full"})

    run_worker_burst()

    slack_delivery = Delivery.objects.get(channel="slack")
    assert slack_delivery.status == DeliveryStatus.FAILED
    emails = Delivery.objects.filter(channel="email")
    assert sorted(emails.values_list("recipient", flat=True)) == [alice.email, carol.email]
    assert all(e.replaces_id == slack_delivery.pk and e.status == DeliveryStatus.SENT for e in emails)
    assert sorted(m["To"] for m in smtp.messages) == [alice.email, carol.email]


def test_recipient_already_emailed__gets_no_second_email(org, alice, smtp, twilio):
    configure(org, **{**ALL_CHANNELS_OFF, **SMS_ON, "email_enabled": True, "email_on_employee_hired": True})
    twilio.reply_next(Reply(400, {"code": 21211, "message": "bad number"}))
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    run_worker_burst()
    assert Delivery.objects.filter(channel="email").count() == 1
    assert Delivery.objects.get(channel="email").replaces is None
    assert len(smtp.messages) == 1


@pytest.mark.parametrize("off", [{"fallback_to_email": False}, {"email_enabled": False}])
def test_fallback_off_or_email_off__no_fallback(org, alice, smtp, twilio, off):
    configure(org, **{**ALL_CHANNELS_OFF, **SMS_ON, "email_enabled": True, "email_on_employee_hired": False, **off})
    twilio.reply_next(Reply(400, {"code": 21211, "message": "bad number"}))
    notify(org, "employee_hired", data={"employee_name": "Ada"})
    run_worker_burst()
    assert Delivery.objects.get(channel="sms").status == DeliveryStatus.FAILED
    assert not Delivery.objects.filter(channel="email").exists()
    assert smtp.messages == []


def test_read_before_delivered__delivery_still_recorded(org, alice, smtp, admin_client):
    configure(org, **{**ALL_CHANNELS_OFF, "email_enabled": True, "email_on_employee_hired": True})
    [notification] = notify(org, "employee_hired", data={"employee_name": "Ada"}).notifications
    assert admin_client.patch(f"/api/notifications/{notification.pk}/read").status_code == 200

    run_worker_burst()

    body = admin_client.get("/api/notifications").json()["items"][0]
    assert body["status"] == "read"  # read stays read…
    assert body["delivery_status"] == "sent" and body["sent_at"] is not None  # …and the delivery is recorded
    assert Delivery.objects.get(channel="email").sent_at is not None
