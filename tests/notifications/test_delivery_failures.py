"""One delivery's fate, sent by the real job worker (run in this process until nothing is
due): permanent failures are not retried, transient ones are, 429 waits as told, and
nothing is ever requested from a host off the Slack allowlist."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import BackgroundJob, JobAttempt, JobStatus
from jobs.services import JobStateError, job_cancel
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationContact
from notifications.services.deliveries import delivery_resend
from notifications.services.notify import notify
from tests.notifications.conftest import (
    ALL_CHANNELS_OFF,
    TWILIO_TOKEN,
    configure,
    run_worker_burst,
)
from tests.servers import HTTPRecorder, Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("delivery_settings")]

MAX_ATTEMPTS = 4  # the job system's default: 1 + 3 retries


@pytest.fixture
def alice(admin_user):
    admin_user.email = "alice@acme.test"
    admin_user.save()
    NotificationContact.objects.create(user=admin_user, phone="+15557654321")
    return admin_user


def send_slack(org, url: str) -> Delivery:
    configure(
        org, **{**ALL_CHANNELS_OFF, "slack_enabled": True, "slack_on_critical_alerts": True, "slack_webhook_url": url}
    )
    notify(org, "critical_alert", data={"summary": "Disk full"})
    run_worker_burst()
    return Delivery.objects.get(channel="slack")


def send_sms(org, **settings_fields) -> Delivery:
    fields = {
        "sms_enabled": True,
        "sms_on_critical_alerts": True,
        "sms_provider": "twilio",
        "sms_from_number": "+15550001111",
    }
    configure(org, **{**ALL_CHANNELS_OFF, **fields, **settings_fields})
    notify(org, "critical_alert", data={"summary": "Disk full"})
    run_worker_burst()
    return Delivery.objects.get(channel="sms")


def send_email(org) -> Delivery:
    configure(org, **{**ALL_CHANNELS_OFF, "email_enabled": True, "email_on_critical_alerts": True})
    notify(org, "critical_alert", data={"summary": "Disk full"})
    run_worker_burst()
    return Delivery.objects.get(channel="email")


def job_of(delivery: Delivery) -> BackgroundJob:
    return BackgroundJob.objects.get(pk=delivery.job_id)


def assert_failed_at_once(delivery: Delivery, *, error: str) -> None:
    assert delivery.status == DeliveryStatus.FAILED, delivery.last_error
    assert delivery.attempts == 1
    assert error in (delivery.last_error or "")
    job = job_of(delivery)
    assert job.status == JobStatus.FAILED and job.next_retry_at is None
    assert JobAttempt.objects.filter(job=job).count() == 1


# --- Slack -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 400, 403])
def test_slack_4xx__failed_at_once_not_retried(org, alice, slack, status):
    slack.reply_next(Reply(status, "no_service"))
    delivery = send_slack(org, f"{slack.url}/services/T/B/x")
    assert_failed_at_once(delivery, error=str(status))
    assert len(slack.requests) == 1


def test_slack_5xx__retried_with_the_job_backoff_then_sent(org, alice, slack):
    slack.reply_next(Reply(500, "oops"), Reply(503, "busy"))
    delivery = send_slack(org, f"{slack.url}/services/T/B/x")
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 3
    assert len(slack.requests) == 3
    assert job_of(delivery).status == JobStatus.COMPLETED


def test_slack_5xx_every_time__failed_after_the_jobs_retries(org, alice, slack):
    slack.default = Reply(500, "down")
    delivery = send_slack(org, f"{slack.url}/services/T/B/x")
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == MAX_ATTEMPTS
    assert "Slack failed (500 down)" in delivery.last_error
    assert len(slack.requests) == MAX_ATTEMPTS
    assert job_of(delivery).status == JobStatus.FAILED


def test_slack_timeout__retried(org, alice, settings, silent_server):
    settings.NOTIFICATIONS_SLACK_ALLOWED_HOSTS = [silent_server]
    delivery = send_slack(org, f"http://{silent_server}/services/T/B/x")
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == MAX_ATTEMPTS
    assert "did not answer within 0.5 s" in delivery.last_error


def test_slack_429__retry_after_is_honoured(org, alice, slack):
    slack.reply_next(Reply(429, "rate_limited", headers={"Retry-After": "120"}))
    before = timezone.now()
    delivery = send_slack(org, f"{slack.url}/services/T/B/x")
    assert delivery.status == DeliveryStatus.QUEUED and delivery.attempts == 1
    assert "429" in delivery.last_error
    job = job_of(delivery)
    assert job.status == JobStatus.QUEUED and job.retry_count == 1
    assert before + timedelta(seconds=119) <= job.next_retry_at <= timezone.now() + timedelta(seconds=121)
    assert len(slack.requests) == 1


def test_slack_redirect__not_followed(org, alice, slack, settings):
    with HTTPRecorder() as elsewhere:
        settings.NOTIFICATIONS_SLACK_ALLOWED_HOSTS = [slack.host, elsewhere.host]
        slack.reply_next(Reply(302, "", headers={"Location": f"{elsewhere.url}/services/T/B/x"}))
        delivery = send_slack(org, f"{slack.url}/services/T/B/x")
        assert_failed_at_once(delivery, error="redirects are not followed")
        assert elsewhere.requests == []


def test_slack_url_no_longer_allowed__failed_and_never_requested(org, alice, slack, settings):
    settings.NOTIFICATIONS_SLACK_ALLOWED_HOSTS = []  # the stored URL's host was removed
    delivery = send_slack(org, f"{slack.url}/services/T/B/secret")
    assert_failed_at_once(delivery, error="(host 127.0.0.1) is not allowed")
    assert "secret" not in delivery.last_error
    assert slack.requests == []


# --- SMS (Twilio) ------------------------------------------------------------------------


def test_twilio_4xx__failed_at_once_with_twilios_reason(org, alice, twilio):
    twilio.reply_next(Reply(400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}))
    delivery = send_sms(org)
    assert_failed_at_once(delivery, error="Twilio refused the message (400, code 21211): The 'To' number")


def test_twilio_5xx__retried_then_sent_with_the_message_sid(org, alice, twilio):
    twilio.reply_next(Reply(500, {"message": "internal"}), Reply(201, {"sid": "SMabc"}))
    delivery = send_sms(org)
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert delivery.provider_message_id == "SMabc"
    assert Notification.objects.get().status == "sent"


def test_twilio_429__waits_for_retry_after(org, alice, twilio):
    twilio.reply_next(Reply(429, {"code": 20429, "message": "Too Many Requests"}, headers={"Retry-After": "30"}))
    delivery = send_sms(org)
    job = job_of(delivery)
    assert delivery.status == DeliveryStatus.QUEUED and job.status == JobStatus.QUEUED
    assert job.next_retry_at >= timezone.now() + timedelta(seconds=25)


@pytest.mark.parametrize(
    ("settings_fields", "credentials", "error"),
    [
        ({}, {"TWILIO_ACCOUNT_SID": ""}, "SMS provider 'twilio' is not configured: set TWILIO_ACCOUNT_SID"),
        ({"sms_provider": "aws_sns"}, {}, "SMS provider 'aws_sns' is not configured"),
        ({"sms_provider": None}, {}, "SMS provider not configured"),
        ({"sms_from_number": None}, {}, "sms_from_number is not set"),
    ],
)
def test_sms_provider_not_configured__failed_at_once(org, alice, twilio, settings, settings_fields, credentials, error):
    for name, value in credentials.items():
        setattr(settings, name, value)
    delivery = send_sms(org, **settings_fields)
    assert_failed_at_once(delivery, error=error)
    assert twilio.requests == []


def test_sms_invalid_phone__failed_at_once(org, alice, twilio):
    NotificationContact.objects.filter(user=alice).update(phone="12345")
    delivery = send_sms(org)
    assert_failed_at_once(delivery, error="Invalid phone number")
    assert twilio.requests == []


# --- Email -------------------------------------------------------------------------------


def test_email_refused_by_the_server__failed_at_once(org, alice, smtp):
    smtp.refuse("550 5.1.1 Mailbox unavailable")
    delivery = send_email(org)
    assert_failed_at_once(delivery, error="refused the recipient")


def test_email_invalid_address__failed_at_once_nothing_sent(org, alice, smtp):
    alice.email = "alice@@acme"
    alice.save()
    delivery = send_email(org)
    assert_failed_at_once(delivery, error="Invalid email address")
    assert smtp.messages == []


def test_email_server_unreachable__retried(org, alice, settings, silent_server):
    settings.EMAIL_PORT = 9  # nothing listens there: connection refused
    delivery = send_email(org)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == MAX_ATTEMPTS
    assert "Cannot reach the mail server" in delivery.last_error
    assert Notification.objects.get().status == "failed"


# --- Resending, and secrets in logs ------------------------------------------------------


def test_resend__failed_delivery_sent_by_the_same_job(org, alice, slack):
    slack.reply_next(Reply(404, "no_service"))
    delivery = send_slack(org, f"{slack.url}/services/T/B/x")
    assert delivery.status == DeliveryStatus.FAILED

    delivery_resend(delivery=delivery, by="admin")
    run_worker_burst()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
    assert job_of(delivery).status == JobStatus.COMPLETED
    assert len(slack.requests) == 2


def test_logs__never_hold_provider_credentials(org, alice, slack, twilio, caplog):
    caplog.set_level(logging.INFO)
    twilio.reply_next(Reply(401, {"code": 20003, "message": "Authenticate"}))
    slack.reply_next(Reply(404, "no_service"))
    configure(
        org,
        sms_enabled=True,
        sms_on_critical_alerts=True,
        sms_provider="twilio",
        sms_from_number="+15550001111",
        slack_enabled=True,
        slack_on_critical_alerts=True,
        slack_webhook_url=f"{slack.url}/services/T/B/very-secret-path",
    )
    notify(org, "critical_alert", data={"summary": "x"})
    run_worker_burst()

    assert Delivery.objects.filter(status="failed").count() == 2
    assert "notification delivery failed" in caplog.text
    assert TWILIO_TOKEN not in caplog.text
    assert "very-secret-path" not in caplog.text


def test_resend__delivery_whose_job_was_cancelled(org, alice, slack):
    configure(org, **{**ALL_CHANNELS_OFF, "slack_enabled": True, "slack_on_critical_alerts": True})
    configure(org, slack_webhook_url=f"{slack.url}/services/T/B/x")
    notify(org, "critical_alert", data={"summary": "Disk full"})
    delivery = Delivery.objects.get(channel="slack")
    job_cancel(job=delivery.job, by="admin")
    run_worker_burst()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.QUEUED and slack.requests == []  # stranded

    delivery_resend(delivery=delivery, by="admin")
    run_worker_burst()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and len(slack.requests) == 1
    with pytest.raises(JobStateError):
        delivery_resend(delivery=delivery, by="admin")  # sent: nothing to resend
