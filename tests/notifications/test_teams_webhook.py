"""Microsoft Teams and the outbound webhook, delivered by the real worker to local HTTP
servers standing in for Teams and for a customer's endpoint: what they receive (an
Adaptive Card; signed JSON whose signature the receiver checks), and each failure class."""

import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import BackgroundJob, JobStatus
from notifications.models import Delivery, DeliveryStatus, NotificationSettings
from notifications.services.notify import notify
from tests.notifications.conftest import ALL_CHANNELS_OFF, configure, run_worker_burst
from tests.servers import HTTPRecorder, Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("delivery_settings")]


@pytest.fixture
def endpoint(settings):
    with HTTPRecorder() as server:
        settings.NOTIFICATIONS_TEAMS_ALLOWED_HOSTS = [server.host]
        settings.NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS = [server.host]
        yield server


def teams_on(org, endpoint: HTTPRecorder) -> None:
    configure(
        org,
        **{
            **ALL_CHANNELS_OFF,
            "teams_enabled": True,
            "teams_on_critical_alerts": True,
            "teams_webhook_url": f"{endpoint.url}/webhookb2/T0K3NSECRETPART",
        },
    )


def one_delivery(channel: str) -> Delivery:
    return Delivery.objects.get(channel=channel)


# --- Teams -----------------------------------------------------------------------------


def test_teams__critical_alert_posted_once_as_an_adaptive_card(org, admin_user, endpoint):
    teams_on(org, endpoint)
    notify(org, "critical_alert", data={"summary": "Payroll export failed", "details": "disk full"})
    run_worker_burst()

    [post] = endpoint.requests
    assert post.method == "POST" and post.path == "/webhookb2/T0K3NSECRETPART"
    card = post.json()["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [b["text"] for b in card["content"]["body"]]
    assert texts[0] == "Critical alert: Payroll export failed" and texts[1] == "disk full"
    delivery = one_delivery("teams")
    assert delivery.status == DeliveryStatus.SENT and "T0K3NSECRETPART" not in delivery.recipient


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_teams__4xx_fails_at_once(org, admin_user, endpoint, status):
    teams_on(org, endpoint)
    endpoint.reply_next(Reply(status, "Webhook Bad Request"))
    notify(org, "critical_alert", data={"summary": "x"})
    run_worker_burst()
    delivery = one_delivery("teams")
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert str(status) in delivery.last_error and "T0K3NSECRETPART" not in delivery.last_error


def test_teams__5xx_retried_then_failed(org, admin_user, endpoint):
    teams_on(org, endpoint)
    endpoint.default = Reply(502, "bad gateway")
    notify(org, "critical_alert", data={"summary": "x"})
    run_worker_burst()
    delivery = one_delivery("teams")
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 4
    assert len(endpoint.requests) == 4


def test_teams__429_waits_for_retry_after(org, admin_user, endpoint):
    teams_on(org, endpoint)
    endpoint.reply_next(Reply(429, "slow down", headers={"Retry-After": "120"}))
    notify(org, "critical_alert", data={"summary": "x"})
    before = timezone.now()
    run_worker_burst()
    delivery = one_delivery("teams")
    job = BackgroundJob.objects.get(pk=delivery.job_id)
    assert job.status == JobStatus.QUEUED and delivery.status == DeliveryStatus.QUEUED
    assert job.next_retry_at >= before + timedelta(seconds=119)


def test_teams__url_off_the_teams_hosts_refused_at_save(org, admin_client):
    response = admin_client.patch(
        "/api/system/notification-settings",
        {"teams_webhook_url": "https://evil.example/webhookb2/x"},
        format="json",
    )
    assert response.status_code == 400 and "teams_webhook_url" in response.json()["errors"]
    ok = admin_client.patch(
        "/api/system/notification-settings",
        {"teams_webhook_url": "https://acme.webhook.office.com/webhookb2/abcdef0123456789", "teams_enabled": True},
        format="json",
    )
    assert ok.status_code == 200
    assert ok.json()["teams_webhook_url"] == "https://acme.webhook.office.com/…6789"


# --- Outbound webhook ----------------------------------------------------------------------


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver does (Stripe's scheme): recompute, compare in constant time, check age."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - timestamp) <= tolerance


def webhook_on(admin_client, endpoint: HTTPRecorder) -> str:
    response = admin_client.patch(
        "/api/system/notification-settings",
        {"webhook_url": f"{endpoint.url}/hooks/hcm", "webhook_enabled": True},
        format="json",
    )
    assert response.status_code == 200, response.json()
    secret = response.json()["webhook_secret"]
    assert secret and secret.startswith("whsec_")
    return secret


def test_webhook__every_event_posted_signed_and_the_receiver_verifies_it(org, admin_user, admin_client, endpoint):
    configure(org, **ALL_CHANNELS_OFF)
    secret = webhook_on(admin_client, endpoint)
    # Shown once: later reads say only that it is set; the database holds it encrypted.
    again = admin_client.get("/api/system/notification-settings").json()
    assert again["webhook_secret"] is None and again["webhook_secret_configured"] is True
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM notification_settings WHERE organization_id = %s", [org.pk])
        assert secret not in cursor.fetchone()[0]

    notify(org, "employee_hired", data={"employee_name": "Ada"})  # no webhook toggle: every event goes
    run_worker_burst()

    [post] = endpoint.requests
    assert verify(secret, post.headers["X-HCM-Signature"], post.body)
    assert not verify("whsec_wrong", post.headers["X-HCM-Signature"], post.body)
    assert not verify(secret, post.headers["X-HCM-Signature"], post.body + b" ")
    body = post.json()
    delivery = one_delivery("webhook")
    assert body["id"] == delivery.pk == post.headers["X-HCM-Delivery"]
    assert body["event"] == "employee_hired" == post.headers["X-HCM-Event"]
    assert body["title"] == "New hire: Ada" and body["data"]["employee_name"] == "Ada"
    assert delivery.status == DeliveryStatus.SENT


def test_webhook__rotating_the_secret_signs_with_the_new_one(org, admin_user, admin_client, endpoint):
    configure(org, **ALL_CHANNELS_OFF)
    old = webhook_on(admin_client, endpoint)
    new = admin_client.patch(
        "/api/system/notification-settings", {"webhook_rotate_secret": True}, format="json"
    ).json()["webhook_secret"]
    assert new and new != old
    notify(org, "org_updated", data={})
    run_worker_burst()
    [post] = endpoint.requests
    assert verify(new, post.headers["X-HCM-Signature"], post.body)
    assert not verify(old, post.headers["X-HCM-Signature"], post.body)


@pytest.mark.parametrize(
    ("reply", "status", "attempts"),
    [(Reply(410, "gone"), DeliveryStatus.FAILED, 1), (Reply(503, "down"), DeliveryStatus.FAILED, 4)],
)
def test_webhook__4xx_permanent_5xx_retried(org, admin_user, admin_client, endpoint, reply, status, attempts):
    configure(org, **ALL_CHANNELS_OFF)
    secret = webhook_on(admin_client, endpoint)
    endpoint.default = reply
    notify(org, "org_updated", data={})
    run_worker_burst()
    delivery = one_delivery("webhook")
    assert (delivery.status, delivery.attempts) == (status, attempts)
    assert secret not in delivery.last_error


def test_webhook__429_waits_for_retry_after(org, admin_user, admin_client, endpoint):
    configure(org, **ALL_CHANNELS_OFF)
    webhook_on(admin_client, endpoint)
    endpoint.reply_next(Reply(429, "", headers={"Retry-After": "90"}))
    notify(org, "org_updated", data={})
    before = timezone.now()
    run_worker_burst()
    job = BackgroundJob.objects.get(pk=one_delivery("webhook").job_id)
    assert job.status == JobStatus.QUEUED and job.next_retry_at >= before + timedelta(seconds=89)


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/x", "https://127.0.0.1/x", "https://10.1.2.3/x", "https://localhost/x",
     "https://user:pw@hooks.example.com/x", "https://[::1]/x"],
)  # fmt: skip
def test_webhook__private_or_plain_http_or_credentialed_urls_refused_at_save(org, admin_client, url):
    response = admin_client.patch("/api/system/notification-settings", {"webhook_url": url}, format="json")
    assert response.status_code == 400 and "webhook_url" in response.json()["errors"]
    assert not NotificationSettings.objects.filter(organization=org, webhook_url__isnull=False).exists()


def test_webhook__stored_url_no_longer_allowlisted_fails_without_a_request(
    org, admin_user, admin_client, endpoint, settings
):
    configure(org, **ALL_CHANNELS_OFF)
    webhook_on(admin_client, endpoint)
    settings.NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS = []
    notify(org, "org_updated", data={})
    run_worker_burst()
    delivery = one_delivery("webhook")
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert endpoint.requests == []
