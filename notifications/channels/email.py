"""Email: one message per recipient, through the organization's mail provider."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from hcm.models import User
from notifications.channels.base import Audience, Channel, DeliveryError, Outgoing, register_channel
from notifications.email.sending import EmailDeliveryError, send_org_email
from notifications.models import Delivery, NotificationSettings
from notifications.rendering import email_renderer, render_email


@register_channel
class EmailChannel(Channel):
    key = "email"
    label = "Email"
    order = 10
    falls_back_to_email = False
    audience = Audience.RECIPIENTS
    master_toggle = "email_enabled"
    settings_fields = ("email_provider", "email_from_address", "email_from_name")

    def addresses(self, users: list[User], settings: NotificationSettings) -> dict[int, str]:
        return {u.pk: u.email for u in users if u.email}

    def render(self, message: Outgoing, *, user: User | None) -> dict[str, Any]:
        return render_email(
            template=message.email_template,
            notification=message.rendered,
            data=message.data,
            organization_name=message.organization_name,
            recipient_name=(user.get_full_name() or user.get_username()) if user else "",
            priority=message.priority,
        )

    def renderer(self, message: Outgoing) -> Callable[[User], dict[str, Any]]:
        # The templates render once per event; each recipient's name is filled in.
        fill = email_renderer(
            template=message.email_template,
            notification=message.rendered,
            data=message.data,
            organization_name=message.organization_name,
            priority=message.priority,
        )
        return lambda user: fill(user.get_full_name() or user.get_username())

    def send(self, delivery: Delivery, settings: NotificationSettings) -> str:
        """Send the stored subject/text/html to delivery.recipient; the Message-ID is the
        provider message id."""
        if not settings.email_enabled:
            raise DeliveryError("Email is disabled for this organization.", permanent=True)
        try:
            validate_email(delivery.recipient)
        except ValidationError:
            raise DeliveryError(f"Invalid email address {delivery.recipient!r}.", permanent=True) from None
        content = delivery.content
        try:
            sent = send_org_email(
                settings,
                to=[delivery.recipient],
                subject=content.get("subject", ""),
                text=content.get("text", ""),
                html=content.get("html") or None,
                headers=_safe_headers(content.get("headers")),
            )
        except EmailDeliveryError as exc:
            raise DeliveryError(str(exc), permanent=exc.permanent, retry_after=exc.retry_after) from None
        return sent.message_id


# Headers a delivery may carry (set by the fan-out: the RFC 8058 unsubscribe pair).
ALLOWED_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post")


def _safe_headers(headers: object) -> dict[str, str]:
    if not isinstance(headers, dict):
        return {}
    return {
        k: v
        for k, v in headers.items()
        if k in ALLOWED_HEADERS and isinstance(v, str) and "\r" not in v and "\n" not in v
    }
