"""Email deliveries: Django's email backend through notifications.email.send_org_email."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from notifications.channels.base import DeliveryError
from notifications.email import EmailDeliveryError, send_org_email
from notifications.models import Delivery, NotificationSettings


def send(delivery: Delivery, settings: NotificationSettings) -> str:
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
        raise DeliveryError(str(exc), permanent=exc.permanent) from None
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
