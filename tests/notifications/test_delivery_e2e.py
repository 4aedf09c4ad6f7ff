"""End to end: notify() → notifications and deliveries → a real worker process → the local
SMTP server, the Slack stand-in and the Twilio stand-in receive the messages."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import BackgroundJob, JobStatus
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationContact
from notifications.services.notify import notify
from tests.notifications.conftest import TWILIO_SID, TWILIO_TOKEN, delivery_worker_env, enable_everything
from tests.workers import start_worker

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker_process(smtp, slack, twilio, tmp_path) -> str:
    """Run a worker process until nothing is due; returns its log."""
    log = tmp_path / "worker.log"
    proc = start_worker("--burst", env=delivery_worker_env(smtp, slack, twilio), log_path=log)
    assert proc.wait(timeout=60) == 0, log.read_text()
    return log.read_text()


def test_critical_alert__worker_delivers_email_sms_and_slack(org, admin_user, smtp, slack, twilio, tmp_path):
    admin_user.email = "alice@acme.test"
    admin_user.save()
    NotificationContact.objects.create(user=admin_user, phone="+15557654321")
    enable_everything(org, slack_url=f"{slack.url}/services/T0/B0/secret-part")

    result = notify(
        org, "critical_alert", data={"summary": "Payroll export failed", "details": "<b>disk full</b> & more"}
    )
    log = run_worker_process(smtp, slack, twilio, tmp_path)

    [message] = smtp.messages
    assert message["To"] == "alice@acme.test"
    assert message["From"] == "Acme HR <hr@acme.test>"
    assert message["Subject"] == "Critical alert: Payroll export failed"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "<b>disk full</b> & more" in text
    assert "&lt;b&gt;disk full&lt;/b&gt; &amp; more" in html and "<b>disk full" not in html

    [post] = slack.requests
    assert post.method == "POST" and post.path == "/services/T0/B0/secret-part"
    body = post.json()
    assert body["channel"] == "#alerts"
    assert body["text"].startswith("Critical alert: Payroll export failed")
    assert body["blocks"][0]["text"]["text"] == "Critical alert: Payroll export failed"
    assert "&lt;b&gt;disk full&lt;/b&gt; &amp; more" in body["blocks"][1]["text"]["text"]

    [sms] = twilio.requests
    assert sms.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert sms.headers["Authorization"] == "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    form = sms.form()
    assert form["To"] == "+15557654321" and form["From"] == "+15550001111"
    assert form["Body"].startswith("Critical alert: Payroll export failed")

    deliveries = {d.channel: d for d in Delivery.objects.filter(organization=org)}
    assert set(deliveries) == {"email", "sms", "slack"}
    assert all(d.status == DeliveryStatus.SENT and d.attempts == 1 and d.sent_at for d in deliveries.values())
    assert deliveries["sms"].provider_message_id == "SM00000000000000000000000000000001"
    assert deliveries["email"].provider_message_id == message["Message-ID"]
    assert "secret-part" not in deliveries["slack"].recipient
    [notification] = result.notifications
    notification = Notification.objects.get(pk=notification.pk)
    assert notification.status == "sent" and notification.sent_at is not None
    assert notification.channels == ["in_app", "email", "sms", "slack"]
    assert "notification delivery sent" in log
    assert TWILIO_TOKEN not in log and "secret-part" not in log


def test_quiet_hours__non_critical_waits_for_the_window_end_critical_goes_now(
    org, admin_user, smtp, slack, twilio, tmp_path
):
    org.timezone = "Asia/Kolkata"  # +05:30: the window is in the organization's time
    org.save()
    local_now = timezone.now().astimezone(timezone.get_fixed_timezone(330))
    start = (local_now - timedelta(hours=1)).strftime("%H:%M")
    end = (local_now + timedelta(hours=2)).strftime("%H:%M")
    enable_everything(
        org,
        slack_url=f"{slack.url}/services/T0/B0/x",
        sms_enabled=False,
        digest_do_not_disturb=True,
        digest_quiet_hours_start=start,
        digest_quiet_hours_end=end,
    )

    hired = notify(org, "employee_hired", data={"employee_name": "Ada Lovelace"})
    notify(org, "critical_alert", data={"summary": "Database down"})
    run_worker_process(smtp, slack, twilio, tmp_path)

    assert [m["Subject"] for m in smtp.messages] == ["Critical alert: Database down"]
    assert len(slack.requests) == 1
    deferred = Delivery.objects.get(notification=hired.notifications[0])
    assert deferred.status == DeliveryStatus.DEFERRED
    window_end = deferred.deferred_until.astimezone(timezone.get_fixed_timezone(330))
    assert window_end.strftime("%H:%M") == end and window_end > timezone.now()
    job = BackgroundJob.objects.get(pk=deferred.job_id)
    assert job.status == JobStatus.QUEUED and job.run_at == deferred.deferred_until
