"""Slack deliveries: one incoming-webhook POST to the organization's stored URL.

The URL is checked against notifications.validators.slack_url_allowed right before the
request (the allowlist may have changed since it was stored); nothing else is requested.
"""

import json
from urllib.parse import urlsplit

from django.conf import settings as django_settings

from notifications.channels.base import DeliveryError
from notifications.channels.http import body_excerpt, http_post, retry_after_seconds
from notifications.models import Delivery, NotificationSettings
from notifications.validators import slack_url_allowed

PERMANENT_STATUSES = {400, 401, 403, 404, 410}


def send(delivery: Delivery, settings: NotificationSettings) -> str | None:
    if not settings.slack_enabled:
        raise DeliveryError("Slack is disabled for this organization.", permanent=True)
    url = settings.slack_webhook_url
    if not url:
        raise DeliveryError("No Slack webhook URL is configured.", permanent=True)
    if not slack_url_allowed(url):
        host = urlsplit(url).hostname or "?"
        raise DeliveryError(
            f"The stored Slack webhook URL (host {host}) is not allowed: it must be https on hooks.slack.com "
            "or a host in NOTIFICATIONS_SLACK_ALLOWED_HOSTS. Nothing was sent; update the webhook URL.",
            permanent=True,
        )
    payload = dict(delivery.content)
    if settings.slack_channel:
        payload["channel"] = settings.slack_channel
    response = http_post(
        url,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=django_settings.NOTIFICATIONS_HTTP_TIMEOUT,
        service="Slack",
    )
    status = response.status
    if 200 <= status < 300:
        return None  # incoming webhooks answer "ok" and no message id
    detail = body_excerpt(response.body)
    if status == 429:
        delay = retry_after_seconds(response.header("Retry-After"))
        raise DeliveryError(f"Slack rate-limited the webhook (429); retry after {delay:g} s.", retry_after=delay)
    if 300 <= status < 400:
        raise DeliveryError(
            f"Slack answered a redirect ({status}); redirects are not followed. Check the webhook URL.",
            permanent=True,
        )
    if status in (404, 410):
        raise DeliveryError(
            f"Slack says the webhook no longer exists ({status} {detail}); update the webhook URL.", permanent=True
        )
    if 400 <= status < 500:
        raise DeliveryError(f"Slack refused the message ({status} {detail}).", permanent=True)
    raise DeliveryError(f"Slack failed ({status} {detail}).")
