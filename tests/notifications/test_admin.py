"""Admin: notification and delivery lists with filters, resending, the settings page link."""

import pytest
from django.contrib.admin.utils import quote
from django.test import Client

from hcm.models import User
from jobs.models import JobStatus
from notifications.models import Delivery, DeliveryStatus
from notifications.services.notify import notify
from tests.notifications.conftest import configure

SECRET_URL = "https://hooks.slack.com/services/T0/B0/admin-secret-token"


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-not-used-here"))
    return client


@pytest.fixture
def failed_slack_delivery(org, admin_user) -> Delivery:
    configure(
        org,
        email_enabled=True,
        email_on_critical_alerts=True,
        slack_enabled=True,
        slack_on_critical_alerts=True,
        slack_webhook_url=SECRET_URL,
    )
    notify(org, "critical_alert", data={"summary": "Disk full"})
    delivery = Delivery.objects.get(channel="slack")
    # As the worker leaves the batch of both after Slack answered 404: the email sent, the
    # Slack post failed, the batch job completed.
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED, last_error="Slack says 404", attempts=1
    )
    Delivery.objects.filter(channel="email").update(status=DeliveryStatus.SENT, attempts=1)
    job = delivery.job
    assert job is not None and job.job_type == "notification_send_batch"
    job.status = JobStatus.COMPLETED
    job.save()
    return delivery


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?organization__id__exact={org}",
        "?channel=email",
        "?type=critical_alert",
        "?status__exact=pending",
        "?priority__exact=critical",
    ],
)
def test_notification_list__filters(staff, org, failed_slack_delivery, query):
    r = staff.get("/admin/notifications/notification/" + query.format(org=org.pk))
    assert r.status_code == 200
    assert "alice" in r.content.decode()


def test_notification_list__channel_filter_excludes(staff, failed_slack_delivery):
    r = staff.get("/admin/notifications/notification/?channel=sms")
    assert r.status_code == 200 and "alice" not in r.content.decode()


@pytest.mark.parametrize(
    "query",
    ["", "?organization__id__exact={org}", "?channel__exact=slack", "?status__exact=failed", "?event=critical_alert"],
)
def test_delivery_list__filters_and_no_credentials(staff, org, failed_slack_delivery, query):
    r = staff.get("/admin/notifications/delivery/" + query.format(org=org.pk))
    page = r.content.decode()
    assert r.status_code == 200
    assert failed_slack_delivery.pk in page and "Slack says 404" in page
    assert "admin-secret-token" not in page


def test_delivery_detail__read_only_no_credentials(staff, failed_slack_delivery):
    r = staff.get(f"/admin/notifications/delivery/{quote(failed_slack_delivery.pk)}/change/")
    assert r.status_code == 200, r.content.decode()[:3000]
    page = r.content.decode()
    assert "Slack says 404" in page
    assert "admin-secret-token" not in page, page[page.find("admin-secret-token") - 500 :][:1000]


def test_resend_action__queues_failed_deliveries_again(staff, failed_slack_delivery):
    sent = Delivery.objects.get(channel="email")
    r = staff.post(
        "/admin/notifications/delivery/",
        {"action": "resend_failed", "_selected_action": [failed_slack_delivery.pk, sent.pk]},
        follow=True,
    )
    assert r.status_code == 200
    page = r.content.decode()
    assert "Queued 1 delivery(ies) again." in page and "Skipped 1 that had not failed." in page
    failed_slack_delivery.refresh_from_db()
    assert failed_slack_delivery.status == DeliveryStatus.QUEUED
    # A job of its own: the batch (and its email) is not sent again.
    job = failed_slack_delivery.job
    assert job.job_type == "notification_send" and job.status == JobStatus.QUEUED and job.retry_count == 0
    assert job.payload == {"delivery_id": failed_slack_delivery.pk}


def test_settings_page__links_to_recent_deliveries(staff, org, failed_slack_delivery):
    r = staff.get(f"/admin/notifications/notificationsettings/ns_{quote(org.pk)}/change/")
    page = r.content.decode()
    assert r.status_code == 200
    assert "Recent deliveries" in page
    assert f"/admin/notifications/delivery/?organization__id__exact={org.pk}" in page
    assert f"/admin/notifications/delivery/{quote(failed_slack_delivery.pk)}/change/" in page
    assert "admin-secret-token" not in page
