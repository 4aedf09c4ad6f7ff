"""Microsoft Teams: one POST per notification event to the organization's incoming webhook
or Workflows URL, as an Adaptive Card. The same rules as Slack: the URL is a credential,
its host must be a Teams/Workflows host (or allowlisted), checked again at send time;
redirects are never followed."""

import json
from typing import Any

from django.conf import settings as django_settings

from hcm.models import User
from notifications.channels.base import Audience, Channel, DeliveryError, Outgoing, register_channel
from notifications.channels.http import classify_http, http_post
from notifications.models import Delivery, NotificationSettings
from notifications.models.settings import mask_secret_url
from notifications.rendering import absolute_url
from notifications.validators import teams_url_allowed

CARD_TEXT_MAX = 3000


@register_channel
class TeamsChannel(Channel):
    key = "teams"
    label = "Microsoft Teams"
    order = 40
    audience = Audience.ORGANIZATION
    master_toggle = "teams_enabled"
    settings_fields = ("teams_webhook_url",)
    secret_fields = ("teams_webhook_url",)

    def available(self, settings: NotificationSettings) -> bool:
        return settings.teams_enabled and bool(settings.teams_webhook_url)

    def endpoint_hint(self, settings: NotificationSettings) -> str:
        return mask_secret_url(settings.teams_webhook_url) or "teams"

    def render(self, message: Outgoing, *, user: User | None) -> dict[str, Any]:
        """A message with one Adaptive Card (what both incoming webhooks and Workflows take)."""
        rendered = message.rendered
        body: list[dict[str, Any]] = [
            {"type": "TextBlock", "text": rendered.title, "weight": "Bolder", "size": "Medium", "wrap": True},
        ]
        if rendered.message:
            body.append({"type": "TextBlock", "text": rendered.message[:CARD_TEXT_MAX], "wrap": True})
        body.append(
            {
                "type": "TextBlock",
                "text": f"{message.organization_name} · priority {message.priority}",
                "isSubtle": True,
                "size": "Small",
                "wrap": True,
            }
        )
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        }
        action_url = absolute_url(rendered.action_url)
        if action_url.startswith(("http://", "https://")):
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": action_url}]
        return {
            "type": "message",
            "summary": rendered.title,
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }

    def send(self, delivery: Delivery, settings: NotificationSettings) -> str | None:
        if not settings.teams_enabled:
            raise DeliveryError("Microsoft Teams is disabled for this organization.", permanent=True)
        url = settings.teams_webhook_url
        if not url:
            raise DeliveryError("No Teams webhook URL is configured.", permanent=True)
        if not teams_url_allowed(url):
            raise DeliveryError(
                "The stored Teams webhook URL is not allowed: it must be https on a Teams or Workflows host, or "
                "a host in NOTIFICATIONS_TEAMS_ALLOWED_HOSTS. Nothing was sent; update the webhook URL.",
                permanent=True,
            )
        response = http_post(
            url,
            body=json.dumps(delivery.content).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=django_settings.NOTIFICATIONS_HTTP_TIMEOUT,
            service="Microsoft Teams",
        )
        classify_http(response, service="Microsoft Teams")
        return None  # incoming webhooks answer "1", Workflows 202: no message id
