"""Slack: one incoming-webhook POST per notification event to the organization's channel.

The URL is checked against notifications.validators.slack_url_allowed right before the
request (the allowlist may have changed since it was stored); nothing else is requested.
"""

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings

from hcm.models import User
from notifications.channels.base import Audience, Channel, DeliveryError, Outgoing, register_channel
from notifications.channels.http import classify_http, http_post
from notifications.models import Delivery, NotificationSettings
from notifications.models.settings import mask_secret_url
from notifications.rendering import render_slack
from notifications.validators import slack_url_allowed


@register_channel
class SlackChannel(Channel):
    key = "slack"
    label = "Slack"
    order = 30
    audience = Audience.ORGANIZATION
    master_toggle = "slack_enabled"
    settings_fields = ("slack_webhook_url", "slack_channel")
    secret_fields = ("slack_webhook_url",)

    def available(self, settings: NotificationSettings) -> bool:
        return settings.slack_enabled and bool(settings.slack_webhook_url)

    def endpoint_hint(self, settings: NotificationSettings) -> str:
        return mask_secret_url(settings.slack_webhook_url) or "slack"

    def render(self, message: Outgoing, *, user: User | None) -> dict[str, Any]:
        return render_slack(message.rendered, organization_name=message.organization_name, priority=message.priority)

    def send(self, delivery: Delivery, settings: NotificationSettings) -> str | None:
        if not settings.slack_enabled:
            raise DeliveryError("Slack is disabled for this organization.", permanent=True)
        url = settings.slack_webhook_url
        if not url:
            raise DeliveryError("No Slack webhook URL is configured.", permanent=True)
        if not slack_url_allowed(url):
            try:
                host = urlsplit(url).hostname or "?"
            except ValueError:
                host = "?"
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
        classify_http(response, service="Slack")
        return None  # incoming webhooks answer "ok" and no message id
