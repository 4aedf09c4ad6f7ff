"""SMS: one text per recipient with a phone number, through the organization's SMS
provider (one class per provider: Twilio's REST API, or AWS SNS through boto3)."""

import base64
import json
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings as django_settings

from hcm.models import User
from notifications.channels.base import Audience, Channel, DeliveryError, Outgoing, register_channel
from notifications.channels.http import body_excerpt, classify_http, http_post
from notifications.models import Delivery, NotificationContact, NotificationSettings
from notifications.rendering import render_sms
from notifications.validators import E164


class SmsProvider:
    key: str = ""

    def send(self, *, to: str, sender: str | None, body: str) -> str:
        """Send one text; the provider's message id. Raises DeliveryError."""
        raise NotImplementedError


class TwilioProvider(SmsProvider):
    key = "twilio"

    def send(self, *, to: str, sender: str | None, body: str) -> str:
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
        reply = _json(response.body)
        if 200 <= response.status < 300:
            message_sid = reply.get("sid")
            if not message_sid:
                raise DeliveryError("Twilio accepted the request but returned no message sid.")
            return str(message_sid)
        detail = reply.get("message") or body_excerpt(response.body)
        code = f", code {reply['code']}" if reply.get("code") else ""
        if 400 <= response.status < 500 and response.status != 429:
            raise DeliveryError(f"Twilio refused the message ({response.status}{code}): {detail}", permanent=True)
        classify_http(response, service="Twilio", detail=f"{code.lstrip(', ')} {detail}".strip())
        raise AssertionError("unreachable: a non-2xx answer always raises")


class SnsProvider(SmsProvider):
    """AWS SNS `Publish` to a phone number. AWS_ENDPOINT_URL_SNS points it at a stand-in
    (tests: moto's server); credentials come from boto3's usual chain."""

    key = "aws_sns"

    def send(self, *, to: str, sender: str | None, body: str) -> str:
        try:
            import boto3
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError
        except ImportError:
            raise DeliveryError("SMS provider 'aws_sns' is not configured: install boto3.", permanent=True) from None
        timeout = django_settings.NOTIFICATIONS_HTTP_TIMEOUT
        # A session of its own: boto3's default session is not safe to share between the
        # worker's threads, and it would keep credentials that were since removed.
        client = boto3.session.Session().client(
            "sns",
            region_name=django_settings.AWS_REGION,
            endpoint_url=django_settings.AWS_ENDPOINT_URL_SNS or None,
            # Our own retry policy decides: one try per attempt, no hidden boto retries.
            config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
        )
        attributes: dict[str, Any] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        }
        if sender:
            attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": sender}
        try:
            reply = client.publish(PhoneNumber=to, Message=body, MessageAttributes=attributes)
        except ClientError as exc:
            raise _sns_error(exc) from None
        except (ConnectTimeoutError, ReadTimeoutError):
            raise DeliveryError(f"AWS SNS did not answer within {timeout:g} s.") from None
        except BotoCoreError as exc:
            if "credentials" in type(exc).__name__.lower():
                raise DeliveryError(
                    "SMS provider 'aws_sns' is not configured: no AWS credentials found.", permanent=True
                ) from None
            raise DeliveryError(f"Cannot reach AWS SNS: {type(exc).__name__}.") from None
        message_id = reply.get("MessageId")
        if not message_id:
            raise DeliveryError("AWS SNS accepted the request but returned no MessageId.")
        return str(message_id)


def _sns_error(exc: Any) -> DeliveryError:
    """SNS answers classified like every HTTP provider's: throttling retried later, other
    4xx permanent, 5xx retried."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "?")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    message = f"AWS SNS refused the message ({status} {code}): {error.get('Message', '')}".strip()
    if code in ("Throttling", "ThrottlingException", "ThrottledException") or status == 429:
        return DeliveryError(f"{message}; retry after 60 s.", retry_after=60.0)
    if 400 <= status < 500:
        return DeliveryError(message, permanent=True)
    return DeliveryError(message)


PROVIDERS: dict[str, SmsProvider] = {p.key: p for p in (TwilioProvider(), SnsProvider())}


@register_channel
class SmsChannel(Channel):
    key = "sms"
    label = "SMS"
    order = 20
    audience = Audience.RECIPIENTS
    master_toggle = "sms_enabled"
    settings_fields = ("sms_provider", "sms_from_number")

    def addresses(self, users: list[User], settings: NotificationSettings) -> dict[int, str]:
        return {
            user_id: phone
            for user_id, phone in NotificationContact.objects.filter(user__in=users, phone__isnull=False)
            .exclude(phone="")
            .values_list("user_id", "phone")
            if phone
        }

    def render(self, message: Outgoing, *, user: User | None) -> dict[str, Any]:
        return {"text": render_sms(message.rendered)}

    def send(self, delivery: Delivery, settings: NotificationSettings) -> str:
        if not settings.sms_enabled:
            raise DeliveryError("SMS is disabled for this organization.", permanent=True)
        if not E164.match(delivery.recipient or ""):
            raise DeliveryError(f"Invalid phone number {delivery.recipient!r} (E.164 expected).", permanent=True)
        provider = PROVIDERS.get(settings.sms_provider or "")
        if provider is None:
            raise DeliveryError(
                "SMS provider not configured: set sms_provider in the notification settings.", permanent=True
            )
        return provider.send(to=delivery.recipient, sender=settings.sms_from_number, body=delivery.content["text"])


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
