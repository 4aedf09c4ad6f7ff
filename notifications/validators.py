"""Field rules for notification settings; the API serializers, the admin form and delivery
all use these. They raise Django's ValidationError, which DRF serializers accept too."""

import json
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from hcm.openapi import openapi_pattern

# \Z, not $: "$" also matches before a trailing newline.
E164 = re.compile(r"^\+[1-9]\d{1,14}\Z")
HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d\Z")
SLACK_HOST = "hooks.slack.com"
# Stands for the hidden part of a masked credential (NotificationSettings.slack_webhook_hint).
MASK = "…"
CUSTOM_SETTINGS_MAX_BYTES = 16 * 1024


@openapi_pattern(E164)
def validate_e164(value: str) -> str:
    if not E164.match(value):
        raise ValidationError("Enter a phone number in E.164 format, e.g. +15551234567.")
    return value


@openapi_pattern(HH_MM)
def validate_hh_mm(value: str) -> str:
    if not HH_MM.match(value):
        raise ValidationError("Enter a time as HH:MM (24-hour), e.g. 22:00.")
    return value


def validate_header_safe(value: str) -> str:
    """Text that ends up in a mail header: a CR or LF would let it inject headers."""
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValidationError("Must not contain line breaks.")
    return value


def slack_url_allowed(url: str) -> bool:
    """https on hooks.slack.com, or any scheme-http(s) URL on a host:port listed in
    NOTIFICATIONS_SLACK_ALLOWED_HOSTS (operators' proxies, tests' local servers)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.username or parts.password or not parts.hostname:
        return False
    host = parts.hostname.lower()
    if parts.scheme == "https" and host == SLACK_HOST and port in (None, 443):
        return True
    if parts.scheme not in ("http", "https"):
        return False
    allowed = {h.lower() for h in settings.NOTIFICATIONS_SLACK_ALLOWED_HOSTS}
    default_port = 443 if parts.scheme == "https" else 80
    return host in allowed or f"{host}:{port or default_port}" in allowed


def validate_slack_webhook_url(value: str) -> str:
    if MASK in value:
        # A masked hint (someone else's, or ours after the URL changed): storing it would
        # silently break delivery.
        raise ValidationError("This is a masked value: send the full webhook URL, or leave the field out.")
    if not slack_url_allowed(value):
        raise ValidationError(
            "Must be an https URL on hooks.slack.com (or a host in NOTIFICATIONS_SLACK_ALLOWED_HOSTS)."
        )
    return value


def validate_custom_settings(value: object) -> dict:
    """A JSON object of at most 16 KiB (compact JSON): free-form, but bounded."""
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.")
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > CUSTOM_SETTINGS_MAX_BYTES:
        raise ValidationError(f"Must be at most {CUSTOM_SETTINGS_MAX_BYTES} bytes as JSON (got {size}).")
    return value
