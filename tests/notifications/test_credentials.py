"""A webhook URL is a credential: refused at save when it holds whitespace or control
characters, and never carried by a delivery error, whatever the URL looks like or the
provider answers — not in the delivery row, the job, its attempt log, the log or the admin."""

import logging

import pytest

from jobs.models import BackgroundJob, JobAttempt
from notifications.models import Delivery, DeliveryStatus, NotificationSettings
from notifications.services.notify import notify
from tests.notifications.conftest import ALL_CHANNELS_OFF, configure, run_worker_burst
from tests.servers import Reply

SECRET = "XoXbS3cr3tT0k3nZ"

BAD_URLS = [
    f"https://hooks.slack.com/services/T0/B0/{SECRET} x",
    f"https://hooks.slack.com/services/T0/B0/{SECRET}\r\nX-Injected: 1",
    f"https://hooks.slack.com/services/T0/B0/{SECRET}\n",
    f"https://hooks.slack.com/services/T0/B0/\t{SECRET}",
    f" https://hooks.slack.com/services/T0/B0/{SECRET}",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_settings_api__webhook_url_with_whitespace_or_control_characters_is_refused(org, admin_client, url):
    response = admin_client.patch(
        "/api/system/notification-settings", {"slack_webhook_url": url, "slack_enabled": True}, format="json"
    )
    assert response.status_code == 400
    assert "slack_webhook_url" in response.json()["errors"]
    assert SECRET not in response.content.decode()
    assert not NotificationSettings.objects.filter(organization=org, slack_enabled=True).exists()


def everything_said_about(delivery: Delivery, caplog) -> str:
    job = BackgroundJob.objects.get(pk=delivery.job_id)
    attempts = JobAttempt.objects.filter(job=job)
    return "\n".join(
        [
            delivery.last_error or "",
            job.error_message or "",
            *(a.error_message or "" for a in attempts),
            *(a.traceback or "" for a in attempts),
            caplog.text,
        ]
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("delivery_settings")
@pytest.mark.parametrize("suffix", [" x", "\r\nX-Injected: 1", "\x00", "\x7f"])
def test_stored_bad_url__fails_for_good_and_no_error_carries_it(org, admin_user, slack, caplog, suffix):
    # An old row from before the rule (or written around it): the worker must not leak it.
    url = f"{slack.url}/services/T0/B0/{SECRET}{suffix}"
    configure(org, **{**ALL_CHANNELS_OFF, "slack_enabled": True, "slack_on_critical_alerts": True})
    NotificationSettings.objects.filter(organization=org).update(slack_webhook_url=url)
    notify(org, "critical_alert", data={"summary": "Disk full"})
    with caplog.at_level(logging.DEBUG):
        run_worker_burst()

    delivery = Delivery.objects.get(channel="slack")
    assert delivery.status == DeliveryStatus.FAILED
    assert slack.requests == []
    said = everything_said_about(delivery, caplog)
    assert SECRET not in said
    assert SECRET not in delivery.recipient


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("delivery_settings")
def test_provider_answer_quoting_the_url__is_scrubbed(org, admin_user, slack, caplog, operator_client):
    url = f"{slack.url}/services/T0/B0/{SECRET}"
    configure(
        org, **{**ALL_CHANNELS_OFF, "slack_enabled": True, "slack_on_critical_alerts": True, "slack_webhook_url": url}
    )
    slack.reply_next(Reply(400, f"invalid_token for POST /services/T0/B0/{SECRET}"))
    notify(org, "critical_alert", data={"summary": "Disk full"})
    with caplog.at_level(logging.DEBUG):
        run_worker_burst()

    delivery = Delivery.objects.get(channel="slack")
    assert delivery.status == DeliveryStatus.FAILED
    assert "invalid_token" in delivery.last_error  # the provider's reason is kept…
    assert SECRET not in everything_said_about(delivery, caplog)  # …its copy of the credential is not
    page = operator_client.get(f"/admin/notifications/delivery/{delivery.pk}/change/").content.decode()
    assert "invalid_token" in page and SECRET not in page


@pytest.fixture
def operator_client(db):
    from django.test import Client

    from hcm.models import User

    client = Client()
    client.force_login(User.objects.create_superuser(username="root", email="root@example.com", password=None))
    return client
