"""Failure alerts (seeds 002 and 004): a job that fails for good tells its organization's
admins through the notification center and their channels, at most once per job type per
15 minutes with the count; a service job tells the platform operators; an alert's own
failure never alerts. The real worker, a real SMTP server, a local Slack stand-in."""

from datetime import timedelta

import pytest

from hcm.models import User
from jobs.models import BackgroundJob, JobStatus
from notifications.models import Delivery, DeliveryStatus, JobFailureAlert, Notification
from tests.notifications.conftest import ALL_CHANNELS_OFF, configure, run_worker_burst

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("delivery_settings")]


def broken_job(org) -> BackgroundJob:
    """A job its type's schema refuses: it fails for good on its first run."""
    return BackgroundJob.objects.create(organization=org, job_type="cache_flush", payload={"action": "everything"})


@pytest.fixture
def alice(admin_user):
    admin_user.email = "alice@acme.test"
    admin_user.save()
    return admin_user


def alerts(org) -> list[Notification]:
    return list(Notification.objects.filter(organization=org, type="job_failed").order_by("created_at"))


def test_failed_job__admins_alerted_in_app_by_email_and_slack(org, alice, smtp, slack):
    configure(
        org,
        **{
            **ALL_CHANNELS_OFF,
            "email_enabled": True,
            "slack_enabled": True,
            "slack_webhook_url": f"{slack.url}/services/T/B/x",
            "slack_on_job_failed": True,
        },
    )
    job = broken_job(org)
    run_worker_burst()

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    [alert] = alerts(org)
    assert alert.user == alice and alert.priority == "high"
    assert alert.metadata["job_id"] == job.id and alert.metadata["job_type"] == "cache_flush"
    assert alert.metadata["attempts"] == 1 and "payload.action" in alert.metadata["error"]
    assert alert.action_url == f"/api/system/background-jobs/{job.id}"
    [message] = smtp.messages
    assert message["To"] == alice.email and message["Subject"] == "Job failed: cache_flush"
    assert job.id in message.get_body(("plain",)).get_content()
    [post] = slack.requests
    assert "Job failed: cache_flush" in post.json()["text"]


def test_toggles__email_on_job_failed_off_leaves_in_app_only(org, alice, smtp):
    configure(org, **{**ALL_CHANNELS_OFF, "email_enabled": True, "email_on_job_failed": False})
    broken_job(org)
    run_worker_burst()
    assert len(alerts(org)) == 1
    assert smtp.messages == []


def test_storm__one_alert_per_type_per_window_with_the_count(org, alice, smtp):
    configure(org, **{**ALL_CHANNELS_OFF, "email_enabled": True})
    for _ in range(5):
        broken_job(org)
    run_worker_burst()

    [first] = alerts(org)
    assert first.metadata["count"] == 1
    window = JobFailureAlert.objects.get(organization=org, job_type="cache_flush")
    assert window.unreported == 4
    assert len(smtp.messages) == 1

    # The window has passed: the next failure alerts, with the failures it held back.
    JobFailureAlert.objects.filter(pk=window.pk).update(
        window_started_at=window.window_started_at - timedelta(minutes=16)
    )
    broken_job(org)
    run_worker_burst()
    second = alerts(org)[1]
    assert second.metadata["count"] == 5
    assert "5 cache_flush jobs failed since the last alert" in second.message


def test_service_job__platform_operators_get_an_email(db, smtp):
    User.objects.create_superuser(username="root", email="ops@platform.test", password=None)
    BackgroundJob.objects.create(organization=None, job_type="cache_flush", payload={"action": "everything"})
    run_worker_burst()
    [message] = smtp.messages
    assert message["To"] == "ops@platform.test"
    assert message["Subject"] == "Service job failed: cache_flush"
    assert not Notification.objects.filter(type="job_failed").exists()


def test_alert_delivery_failing__raises_no_second_alert(org, alice, smtp):
    configure(org, **{**ALL_CHANNELS_OFF, "email_enabled": True})
    smtp.refuse()  # the alert's email is refused for good
    broken_job(org)
    run_worker_burst()

    [delivery] = Delivery.objects.filter(event="job_failed")
    assert delivery.status == DeliveryStatus.FAILED
    assert BackgroundJob.objects.filter(job_type="job_failure_alert").count() == 1
    assert len(alerts(org)) == 1
