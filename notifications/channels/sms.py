"""SMS deliveries through Twilio's REST API (credentials from the environment)."""

import base64
import json
from urllib.parse import quote, urlencode

from django.conf import settings as django_settings

from notifications.channels.base import DeliveryError
from notifications.channels.http import body_excerpt, http_post, retry_after_seconds
from notifications.models import Delivery, NotificationSettings
from notifications.models.settings import SmsProvider
from notifications.validators import E164


def send(delivery: Delivery, settings: NotificationSettings) -> str:
    if not settings.sms_enabled:
        raise DeliveryError("SMS is disabled for this organization.", permanent=True)
    if not E164.match(delivery.recipient or ""):
        raise DeliveryError(f"Invalid phone number {delivery.recipient!r} (E.164 expected).", permanent=True)
    if settings.sms_provider == SmsProvider.TWILIO:
        return _send_twilio(to=delivery.recipient, sender=settings.sms_from_number, body=delivery.content["text"])
    if settings.sms_provider == SmsProvider.AWS_SNS:
        raise DeliveryError(
            "SMS provider 'aws_sns' is not configured: this deployment sends SMS through Twilio only.",
            permanent=True,
        )
    raise DeliveryError("SMS provider not configured: set sms_provider in the notification settings.", permanent=True)


def _send_twilio(*, to: str, sender: str | None, body: str) -> str:
    sid, token = django_settings.TWILIO_ACCOUNT_SID, django_settings.TWILIO_AUTH_TOKEN
    if not sid or not token:
        raise DeliveryError(
            "SMS provider 'twilio' is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
            permanent=True,
        )
    if not sender or not E164.match(sender):
        raise DeliveryError("sms_from_number is not set (E.164) in the notification settings.", permanent=True)
    url = f"{django_settings.TWILIO_BASE_URL.rstrip('/')}/2010-04-01/Accounts/{quote(sid, safe='')}/Messages.json"
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    response = http_post(
        url,
        body=urlencode({"To": to, "From": sender, "Body": body}).encode(),
        headers={
            "Authorization": f"Basic {auth}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        timeout=django_settings.NOTIFICATIONS_HTTP_TIMEOUT,
        service="Twilio",
    )
    status = response.status
    reply = _json(response.body)
    if 200 <= status < 300:
        message_sid = reply.get("sid")
        if not message_sid:
            raise DeliveryError("Twilio accepted the request but returned no message sid.")
        return str(message_sid)
    detail = reply.get("message") or body_excerpt(response.body)
    code = f", code {reply['code']}" if reply.get("code") else ""
    if status == 429:
        delay = retry_after_seconds(response.header("Retry-After"))
        raise DeliveryError(f"Twilio rate-limited the request (429{code}); retry after {delay:g} s.", retry_after=delay)
    if 400 <= status < 500:
        raise DeliveryError(f"Twilio refused the message ({status}{code}): {detail}", permanent=True)
    raise DeliveryError(f"Twilio failed ({status}{code}): {detail}")


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
