"""Outbound webhook: every notification event, while on, POSTed as JSON to the
organization's HTTPS endpoint and signed the way Stripe and GitHub sign theirs.

    X-HCM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The receiver recomputes the HMAC over the timestamp, a dot and the raw body with its
secret, compares in constant time, and rejects timestamps older than a few minutes
(replays). X-HCM-Delivery is stable across retries of one delivery (deduplicate on it).
"""

import hashlib
import hmac
import json
import time
from typing import Any

from django.conf import settings as django_settings

from hcm.models import User
from notifications.channels.base import Audience, Channel, DeliveryError, Outgoing, register_channel
from notifications.channels.http import check_public_address, classify_http, http_post
from notifications.models import Delivery, NotificationSettings
from notifications.models.settings import mask_secret_url
from notifications.rendering import absolute_url
from notifications.validators import webhook_url_allowed

SIGNATURE_HEADER = "X-HCM-Signature"


def sign(secret: str, *, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@register_channel
class WebhookChannel(Channel):
    key = "webhook"
    label = "Outbound webhook"
    order = 50
    falls_back_to_email = False
    audience = Audience.ORGANIZATION
    master_toggle = "webhook_enabled"
    settings_fields = ("webhook_url", "webhook_secret")
    secret_fields = ("webhook_url", "webhook_secret")
    every_event = True

    def available(self, settings: NotificationSettings) -> bool:
        return settings.webhook_enabled and bool(settings.webhook_url) and bool(settings.webhook_secret)

    def endpoint_hint(self, settings: NotificationSettings) -> str:
        return mask_secret_url(settings.webhook_url) or "webhook"

    def render(self, message: Outgoing, *, user: User | None) -> dict[str, Any]:
        rendered = message.rendered
        return {
            "event": message.type,
            "organization_id": message.organization_id,
            "priority": message.priority,
            "title": rendered.title,
            "message": rendered.message,
            "action_url": absolute_url(rendered.action_url),
            "data": message.data,
        }

    def send(self, delivery: Delivery, settings: NotificationSettings) -> str | None:
        if not settings.webhook_enabled:
            raise DeliveryError("The outbound webhook is disabled for this organization.", permanent=True)
        url, secret = settings.webhook_url, settings.webhook_secret
        if not url or not secret:
            raise DeliveryError("The outbound webhook has no URL or no signing secret.", permanent=True)
        if not webhook_url_allowed(url):
            raise DeliveryError(
                "The stored webhook URL is not allowed (https on a public host, or a host in "
                "NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS). Nothing was sent; update the URL.",
                permanent=True,
            )
        check_public_address(url, allowed=django_settings.NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS, service="Webhook")
        body = json.dumps(
            {"id": delivery.pk, "created_at": delivery.created_at.isoformat(), **delivery.content},
            separators=(",", ":"),
        ).encode()
        response = http_post(
            url,
            body=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "HCM-Webhooks/1",
                "X-HCM-Event": str(delivery.content.get("event", delivery.event)),
                "X-HCM-Delivery": delivery.pk,
                SIGNATURE_HEADER: sign(secret, timestamp=int(time.time()), body=body),
            },
            timeout=django_settings.NOTIFICATIONS_HTTP_TIMEOUT,
            service="Webhook",
        )
        classify_http(response, service="Webhook")
        return None
